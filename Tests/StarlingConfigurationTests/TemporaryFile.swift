import Foundation

/// A file in the temporary directory, removed by `remove()`.
struct TemporaryFile {
    let path: String

    init(contents: String, name: String) {
        let directory = NSTemporaryDirectory() + "starling-config-\(UInt64.random(in: 0...UInt64.max))"
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/" + name
        try! contents.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }
}
