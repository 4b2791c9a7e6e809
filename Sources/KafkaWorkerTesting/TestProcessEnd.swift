import Foundation

/// Ends the test process without running the clean-up handlers registered before this one — OpenSSL's among them,
/// registered when the first librdkafka client started. A librdkafka that links OpenSSL statically (the 2.16 tier)
/// can crash in that clean-up while its threads still end (SIGSEGV in `init_thread_deregister`, seen in a `kafka-worker`
/// process at exit); a test run that passed must not end as a crash. The handler runs first (handlers run in reverse
/// order of registration): it kills the servers tests started, flushes what was written and ends with the status
/// `exit()` was given.
enum TestProcessEnd {
    /// Installs the handler once; call after a librdkafka client exists.
    static let install: Void = {
        #if canImport(Glibc)
        // A coverage build writes its profile from an exit handler registered before this one: not installed there.
        guard ProcessInfo.processInfo.environment["LLVM_PROFILE_FILE"] == nil else { return }
        on_exit({ status, _ in
            ServerProcess.killAll()
            TestProcessEnd.flushStandardStreams()
            _exit(status)
        }, nil)
        #endif
    }()

    /// Every stdio stream (`exit()` would flush them after the handlers; `_exit` does not).
    static func flushStandardStreams() {
        fflush(nil)
    }
}
