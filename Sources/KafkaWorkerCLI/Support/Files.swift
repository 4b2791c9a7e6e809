import Foundation

/// Writes `contents` to a temporary file beside `path`, then renames it, so readers never see half a file.
func writeFileAtomically(_ path: String, contents: String) throws {
    try contents.write(toFile: path, atomically: true, encoding: .utf8)
}
