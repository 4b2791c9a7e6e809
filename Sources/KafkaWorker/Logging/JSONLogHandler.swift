import Foundation
public import Logging
import Synchronization

/// A swift-log handler that writes one JSON object per line — `timestamp`, `level`, `label`, `message`,
/// `source` and the metadata — to standard error and, optionally, a file (the source chapter logged JSON to the
/// console and to `consumer.log`). Each line is written with a single `write`, so a crash keeps whole lines.
public struct JSONLogHandler: LogHandler {
    /// Where lines go; shared by every logger made from one bootstrap.
    public final class Output: Sendable {
        private let handles: Mutex<[FileHandle]>

        /// Standard error (unless `console` is false), plus `filePath` (appended to, created if missing).
        public init(console: Bool = true, filePath: String? = nil) throws {
            var handles = console ? [FileHandle.standardError] : []
            if let filePath {
                if !FileManager.default.fileExists(atPath: filePath) {
                    _ = FileManager.default.createFile(atPath: filePath, contents: nil)
                }
                guard let file = FileHandle(forWritingAtPath: filePath) else {
                    throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: filePath])
                }
                file.seekToEndOfFile()
                handles.append(file)
            }
            self.handles = Mutex(handles)
        }

        /// Lines that could not be written (a full disk, a closed pipe): logging never stops the worker.
        let failedWrites = Atomic<Int>(0)

        func write(_ line: Data) {
            handles.withLock { handles in
                for handle in handles {
                    do { try handle.write(contentsOf: line) } catch { failedWrites.add(1, ordering: .relaxed) }
                }
            }
        }
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let output: Output

    public init(label: String, output: Output, level: Logger.Level = .info) {
        self.label = label
        self.output = output
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: Any] = [
            "timestamp": Self.timestamp(),
            "level": event.level.rawValue,
            "label": label,
            "message": "\(event.message)",
            "source": event.source,
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            fields[key] = Self.json(value)
        }
        guard var line = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        line.append(0x0A)
        output.write(line)
    }

    private static func json(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(json)
        case .dictionary(let entries): entries.mapValues(json)
        }
    }

    private static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
