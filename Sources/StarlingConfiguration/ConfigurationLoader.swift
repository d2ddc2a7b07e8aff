import Configuration
import NIOSSL
import Foundation
import StarlingBroker
import Yams

/// Reads the configuration: command-line flags over `STARLING_` environment variables over the YAML file over
/// the defaults. Unknown keys and bad values stop it with an error that names the key and where it was set.
public enum ConfigurationLoader {
    /// - Parameters:
    ///   - file: the YAML file, if any.
    ///   - environment: the process environment; only `STARLING_` variables are read.
    ///   - flags: values given on the command line, by configuration key (`max_packet_size`,
    ///     `listeners.default.port`).
    public static func load(
        file: String?, environment: [String: String] = ProcessInfo.processInfo.environment, flags: [String: String] = [:]
    ) throws -> ServerConfiguration {
        let schema = ConfigurationSchema.starling
        var configuration = ServerConfiguration()
        var sources: [ConfigurationSource] = []
        var fileListeners: [String] = []

        sources.append(ConfigurationSource(
            kind: .commandLine,
            snapshot: EnvironmentVariablesProvider(environmentVariables: Dictionary(
                flags.map { (Self.unprefixedEnvironmentName(of: $0.key), $0.value) }, uniquingKeysWith: { _, last in last }))
                .snapshot()))

        var environmentVariables: [String: String] = [:]
        for (name, value) in environment where name.hasPrefix(ConfigurationSource.environmentPrefix) {
            environmentVariables[String(name.dropFirst(ConfigurationSource.environmentPrefix.count))] = value
        }
        // STARLING_CLUSTER is short for STARLING_CLUSTER_URL.
        if let url = environmentVariables.removeValue(forKey: "CLUSTER"), environmentVariables["CLUSTER_URL"] == nil {
            environmentVariables["CLUSTER_URL"] = url
        }
        sources.append(ConfigurationSource(
            kind: .environment, snapshot: EnvironmentVariablesProvider(environmentVariables: environmentVariables).snapshot()))

        if let file {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ConfigurationError(key: "(file)", source: file, reason: "cannot read the file: \(error.localizedDescription)")
            }
            let root: Node?
            do {
                root = try Yams.compose(yaml: text)
            } catch {
                throw ConfigurationError(key: "(file)", source: file, reason: "not valid YAML: \(error)")
            }
            if let root {
                let checked = try schema.validate(root, file: file)
                fileListeners = checked.listeners
                var bytes = Array(text.utf8)
                if case .mapping(var mapping) = root, let bridges = mapping["bridges"] {
                    configuration.bridges = try BridgeSettings.parse(bridges, file: file)
                    // The settings reader takes lists of single values only; the lines of errors come from `checked`.
                    mapping["bridges"] = nil
                    do {
                        bytes = Array(try Yams.serialize(node: .mapping(mapping)).utf8)
                    } catch {
                        throw ConfigurationError(key: "(file)", source: file, reason: "\(error)")
                    }
                }
                let snapshot: YAMLSnapshot
                do {
                    snapshot = try YAMLSnapshot(data: bytes.span.bytes, providerName: file, parsingOptions: .default)
                } catch {
                    throw ConfigurationError(key: "(file)", source: file, reason: "\(error)")
                }
                sources.append(ConfigurationSource(kind: .file(path: file, lines: checked.lines), snapshot: snapshot))
            }
        }

        let values = ConfigurationValues(sources: sources)
        for setting in ServerConfiguration.settings {
            try setting.apply(values, setting.key, &configuration)
        }
        if let flowControl = configuration.broker.limits.flowControl {
            guard flowControl.lowWater < flowControl.highWater, flowControl.highWater <= flowControl.maximumQueued else {
                throw ConfigurationError(
                    key: "queue_high_water", source: values.source(of: "queue_high_water")?.describe("queue_high_water") ?? "default",
                    reason: "queue_low_water (\(flowControl.lowWater)) must be below queue_high_water (\(flowControl.highWater)), and that at most max_queued_connected (\(flowControl.maximumQueued))")
            }
        }

        configuration.http.tls = try httpTLS(configuration.http, values: values)

        // Without listeners in the file there is one named `default`, plain MQTT on 0.0.0.0:1883, which flags
        // and environment variables can change; with them, `default` is one more only if they set it.
        var listenerNames = fileListeners
        if !listenerNames.contains("default")
            && (listenerNames.isEmpty || ListenerSettings.settings.contains { values.source(of: "listeners.default.\($0.key)") != nil })
        {
            listenerNames.append("default")
        }
        for name in listenerNames {
            var settings = ListenerSettings()
            for setting in ListenerSettings.settings {
                try setting.apply(values, "listeners.\(name).\(setting.key)", &settings)
            }
            configuration.broker.listeners.append(try settings.listener(name: name, values: values))
        }

        let known = Set(
            ServerConfiguration.settings.map { ConfigurationSource.environmentName(of: $0.key) }
                + listenerNames.flatMap { name in
                    ListenerSettings.settings.map { ConfigurationSource.environmentName(of: "listeners.\(name).\($0.key)") }
                })
        for name in environment.keys.sorted() where name.hasPrefix(ConfigurationSource.environmentPrefix) {
            if !known.contains(name) && !ignoredEnvironmentVariables.contains(name) {
                configuration.warnings.append("environment variable \(name) is not a setting and was ignored")
            }
        }
        return configuration
    }

    /// HTTPS for the operations listener, when `http.tls.certificate` and `http.tls.key` are given.
    private static func httpTLS(_ http: ServerConfiguration.HTTPSettings, values: ConfigurationValues) throws -> TLSConfiguration? {
        func fail(_ key: String, _ reason: String) -> ConfigurationError {
            ConfigurationError(key: key, source: values.source(of: key)?.describe(key) ?? "configuration", reason: reason)
        }
        switch (http.tlsCertificate, http.tlsKey) {
        case (nil, nil):
            return nil
        case (nil, _):
            throw fail("http.tls.key", "needs http.tls.certificate, the certificate chain (PEM)")
        case (_, nil):
            throw fail("http.tls.certificate", "needs http.tls.key, the certificate's private key (PEM)")
        case (let certificate?, let privateKey?):
            return try PEMServerIdentity(
                certificate: certificate, privateKey: privateKey, certificateKey: "http.tls.certificate", privateKeyKey: "http.tls.key",
                fail: fail
            ).serverConfiguration
        }
    }

    /// `STARLING_` variables that are not settings: the interop scripts' path to the binary.
    static let ignoredEnvironmentVariables: Set<String> = [
        "STARLING_CLI", "STARLING_CLUSTER", "STARLING_TEST_POSTGRES_URL", "STARLING_TEST_POSTGRES_DIR",
    ]

    private static func unprefixedEnvironmentName(of key: String) -> String {
        String(ConfigurationSource.environmentName(of: key).dropFirst(ConfigurationSource.environmentPrefix.count))
    }
}
