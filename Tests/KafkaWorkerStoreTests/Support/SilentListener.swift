#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP listener on 127.0.0.1 that never accepts: the kernel completes clients' handshakes and queues what they
/// send, and nobody ever answers.
final class SilentListener: Sendable {
    struct Failure: Error, CustomStringConvertible {
        var call: String
        var description: String { "\(call) failed (errno \(errno))" }
    }

    let port: Int
    private let descriptor: Int32

    init() throws {
        (descriptor, port) = try Self.bound()
        guard listen(descriptor, 64) == 0 else {
            _ = Self.closeDescriptor(descriptor)
            throw Failure(call: "listen")
        }
    }

    func close() { _ = Self.closeDescriptor(descriptor) }

    /// A loopback port nothing listens on: bound to an ephemeral port, then closed.
    static func closedPort() throws -> Int {
        let (descriptor, port) = try bound()
        _ = closeDescriptor(descriptor)
        return port
    }

    private static func closeDescriptor(_ descriptor: Int32) -> Int32 {
        #if canImport(Glibc)
        Glibc.close(descriptor)
        #else
        Darwin.close(descriptor)
        #endif
    }

    /// A TCP socket bound to 127.0.0.1 on a port the kernel chose.
    private static func bound() throws -> (Int32, Int) {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(call: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(descriptor, address, length) == 0 && getsockname(descriptor, address, &length) == 0
            }
        }
        guard ok else {
            _ = closeDescriptor(descriptor)
            throw Failure(call: "bind")
        }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }
}
