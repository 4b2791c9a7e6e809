import ArgumentParser
import KafkaWorker
import Logging

/// `--log-level`, `--log-format`, `--log-file`, shared by every command. Logs go to standard error (and the
/// file, as JSON lines); standard output carries results.
struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(name: .long, help: "text or json (one JSON object per line).")
    var logFormat: String = "text"

    @Option(name: .long, help: "Also append the log to this file, as JSON lines (like the source's consumer.log).")
    var logFile: String?

    func bootstrap() throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level \"\(logLevel)\" is not one of: trace, debug, info, notice, warning, error, critical")
        }
        guard ["text", "json"].contains(logFormat) else {
            throw ValidationError("--log-format \"\(logFormat)\" is not one of: text, json")
        }
        let console = logFormat == "json" ? try JSONLogHandler.Output() : nil
        let file: JSONLogHandler.Output?
        do {
            file = try logFile.map { try JSONLogHandler.Output(console: false, filePath: $0) }
        } catch {
            throw ValidationError("--log-file \"\(logFile ?? "")\" cannot be opened for writing")
        }
        LoggingSystem.bootstrap { label in
            var handlers: [any LogHandler] = []
            if let console {
                handlers.append(JSONLogHandler(label: label, output: console, level: level))
            } else {
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                handlers.append(handler)
            }
            if let file { handlers.append(JSONLogHandler(label: label, output: file, level: level)) }
            return handlers.count == 1 ? handlers[0] : MultiplexLogHandler(handlers)
        }
    }
}
