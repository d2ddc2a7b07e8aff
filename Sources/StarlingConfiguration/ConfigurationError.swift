/// A setting the broker refuses to start with, naming the key and where its value came from.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The dotted key, as written in the file (`listeners.secure.tls.certificate`).
    public var key: String
    /// The file, the environment variable or the command line that set it.
    public var source: String
    public var reason: String

    public init(key: String, source: String, reason: String) {
        self.key = key
        self.source = source
        self.reason = reason
    }

    public var description: String { "\(source): \(key): \(reason)" }
}
