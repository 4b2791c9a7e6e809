/// Bytes of a record's key or value: a read-only view that shares its storage with the other records fetched
/// in the same batch, so reading a record costs no allocation of its own.
///
/// A collection of `UInt8` indexed from 0. `Array(bytes)`, `Data(bytes)` and `String(decoding: bytes, as: UTF8.self)`
/// copy it out; ``withUnsafeBytes(_:)`` reads it in place. A view keeps its batch's bytes alive (at most
/// `handoff.maxBatchSize` records' keys and values), so a record kept for long is better copied out.
public struct KafkaBytes: Sendable {
    private let storage: [UInt8]
    private let start: Int
    public let count: Int

    /// A view of `count` bytes of `storage` from `start`.
    init(storage: [UInt8], start: Int, count: Int) {
        precondition(start >= 0 && count >= 0 && start + count <= storage.count, "KafkaBytes out of its storage")
        self.storage = storage
        self.start = start
        self.count = count
    }

    public init(_ bytes: [UInt8]) {
        self.init(storage: bytes, start: 0, count: bytes.count)
    }

    public init(_ bytes: some Sequence<UInt8>) {
        self.init(Array(bytes))
    }

    /// The UTF-8 bytes of `text`.
    public init(utf8 text: String) {
        self.init(Array(text.utf8))
    }

    /// The bytes as UTF-8 text, or `nil` if they are not valid UTF-8.
    public var utf8String: String? {
        withUnsafeBytes { String(validating: $0, as: UTF8.self) }
    }

    /// Calls `body` with the bytes in place.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        // `storage.withUnsafeBytes` is not typed-throws; keep the error type through a Result.
        let result: Result<R, E> = storage.withUnsafeBytes { all in
            let slice = UnsafeRawBufferPointer(rebasing: all[start..<start + count])
            do throws(E) { return .success(try body(slice)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

extension KafkaBytes: RandomAccessCollection {
    public typealias Index = Int
    public typealias Element = UInt8
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> UInt8 {
        precondition(position >= 0 && position < count, "KafkaBytes index out of range")
        return storage[start + position]
    }

    public func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
        try storage.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[start..<start + count]))
        }
    }
}

extension KafkaBytes: Hashable {
    public static func == (lhs: KafkaBytes, rhs: KafkaBytes) -> Bool {
        lhs.count == rhs.count && lhs.withUnsafeBytes { a in rhs.withUnsafeBytes { b in a.elementsEqual(b) } }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

extension KafkaBytes: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: UInt8...) { self.init(elements) }
}

extension KafkaBytes: CustomStringConvertible, CustomDebugStringConvertible {
    /// The size only: record contents stay out of logs and error messages.
    public var description: String { "\(count) bytes" }

    /// The first 64 characters when the bytes are UTF-8 text, for debugging.
    public var debugDescription: String {
        guard let text = utf8String else { return "KafkaBytes(\(count) bytes)" }
        let shown = text.count <= 64 ? text : String(text.prefix(64)) + "…"
        return "KafkaBytes(\(shown.debugDescription), \(count) bytes)"
    }
}

extension Array where Element == UInt8 {
    /// A copy of `bytes`.
    public init(_ bytes: KafkaBytes) {
        self = bytes.withUnsafeBytes { Array($0) }
    }
}
