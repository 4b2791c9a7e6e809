import Foundation

/// The parts of a `scheme://user:password@host:port/path` URL, percent-decoded.
struct URLParts {
    var scheme: String
    var user: String?
    var password: String?
    var host: String
    var port: Int?
    var path: String?

    init?(_ text: String) {
        guard let components = URLComponents(string: text), let scheme = components.scheme, let host = components.host else {
            return nil
        }
        self.scheme = scheme
        self.user = components.user.flatMap { $0.isEmpty ? nil : ($0.removingPercentEncoding ?? $0) }
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.host = host
        self.port = components.port
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.path = path.isEmpty ? nil : path
    }
}
