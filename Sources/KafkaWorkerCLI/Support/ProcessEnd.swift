import Foundation
import KafkaClient

/// How every `kafka-worker` process ends: once librdkafka's clients are gone (bounded), with stdio flushed, through
/// `_exit` — never `exit()`, whose clean-up handlers (OpenSSL's, registered by a librdkafka that links it
/// statically) race threads still ending and crashed a sink at exit with SIGSEGV (librdkafka 2.16).
enum ProcessEnd {
    /// Ends the process with `code`. `clientsWithin` bounds the wait for librdkafka's clients to be destroyed.
    static func exit(_ code: Int32, clientsWithin limit: Duration = .seconds(5)) -> Never {
        _ = KafkaLibrary.waitUntilClientsDestroyed(within: limit)
        // A coverage build writes its profile from an exit handler: it gets a normal exit.
        if ProcessInfo.processInfo.environment["LLVM_PROFILE_FILE"] != nil { Foundation.exit(code) }
        // Every stdio stream, as `exit()` would (`_exit` does not).
        fflush(nil)
        _exit(code)
    }
}
