#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A password or ACL file that cannot be used, with the line at fault.
public struct ConfigurationFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file at fault; nil when the text was parsed from a string rather than read from a file.
    public var path: String?
    /// 1-based; 0 when the file itself could not be read.
    public var line: Int
    /// What is wrong, in words fit for a log line or a terminal (`user "bob" appears twice`).
    public var reason: String

    /// An error at `line` (1-based, or 0 for the whole file) of the file at `path`.
    public init(path: String? = nil, line: Int, reason: String) {
        self.path = path
        self.line = line
        self.reason = reason
    }

    /// `path, line N: reason`, leaving out what is unknown: the path when nil, the line when 0.
    public var description: String {
        let place = [path, line > 0 ? "line \(line)" : nil].compactMap { $0 }.joined(separator: ", ")
        return place.isEmpty ? reason : "\(place): \(reason)"
    }

    static func read(_ path: String) throws(ConfigurationFileError) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationFileError(path: path, line: 0, reason: "cannot be read (\(error))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationFileError(path: path, line: 0, reason: "is not UTF-8")
        }
        return text
    }
}

extension ConfigurationFileError {
    /// Reads the file at `path` and parses it with `parse`; an error in its text names the file.
    static func parse<Parsed>(
        _ path: String, _ parse: (String) throws(ConfigurationFileError) -> Parsed
    ) throws(ConfigurationFileError) -> Parsed {
        let text = try read(path)
        do {
            return try parse(text)
        } catch {
            throw error.at(path)
        }
    }

    func at(_ path: String) -> ConfigurationFileError {
        var located = self
        located.path = path
        return located
    }
}
