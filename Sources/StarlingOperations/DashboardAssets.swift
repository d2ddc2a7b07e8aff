import Foundation
import Logging

/// The dashboard's files and the OpenAPI document, shipped as the package's resources and read once at start.
///
/// They are looked up where the package manager puts them, beside the executable (or the test bundle); a
/// program copied elsewhere without them still serves everything else, and says so in its log.
struct DashboardAssets: Sendable {
    struct Asset: Sendable {
        var contentType: String
        var bytes: [UInt8]
    }

    private let assets: [String: Asset]

    static let bundleName = "Starling_StarlingOperations.resources"

    init(logger: Logger) {
        var found: [String: Asset] = [:]
        if let folder = Self.resourcesFolder() {
            let fileManager = FileManager.default
            let dashboard = folder.appendingPathComponent("dashboard")
            for name in (try? fileManager.contentsOfDirectory(atPath: dashboard.path)) ?? [] {
                guard let data = fileManager.contents(atPath: dashboard.appendingPathComponent(name).path) else { continue }
                found["dashboard/" + name] = Asset(contentType: Self.contentType(of: name), bytes: Array(data))
            }
            if let data = fileManager.contents(atPath: folder.appendingPathComponent("openapi.json").path) {
                found["openapi.json"] = Asset(contentType: "application/json", bytes: Array(data))
            }
        }
        if found["dashboard/index.html"] == nil || found["openapi.json"] == nil {
            logger.warning("the dashboard's files were not found beside the program: the dashboard and /api/v1/openapi.json are not served", metadata: [
                "expected": "\(Self.bundleName)",
            ])
        }
        assets = found
    }

    subscript(name: String) -> Asset? {
        assets[name]
    }

    /// `Starling_StarlingOperations.resources/Resources` beside the executable or in the build folder.
    private static func resourcesFolder() -> URL? {
        var candidates = [Bundle.main.bundleURL, Bundle.main.executableURL?.deletingLastPathComponent()].compactMap { $0 }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent())
        for base in candidates {
            let folder = base.appendingPathComponent(bundleName).appendingPathComponent("Resources")
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("openapi.json").path) { return folder }
        }
        return nil
    }

    private static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last.map(String.init) ?? "" {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "json": "application/json"
        default: "application/octet-stream"
        }
    }
}
