import Foundation

/// The captured client packets in `Fixtures/` (see `Fixtures/README.md`), one hex-encoded packet per file.
enum Fixture {
    static var directory: URL {
        get throws {
            guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
                throw CocoaError(.fileNoSuchFile)
            }
            return url
        }
    }

    /// Every fixture's name, without the `.hex` extension.
    static func allNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".hex") }
            .map { String($0.dropLast(4)) }
            .sorted()
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOf: directory.appendingPathComponent(name + ".hex"), encoding: .utf8)
        return [UInt8](hex: text)
    }
}
