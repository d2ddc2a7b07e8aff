import StarlingTestSupport
import StarlingTesting
import Testing

/// The brokers that the client tests which exercise broker behaviour run against: mosquitto, a reference
/// implementation, and Starling's own broker in process.
enum BrokerKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case mosquitto
    case starling

    /// The kinds this machine can run: Starling always, mosquitto when it is installed.
    static var available: [BrokerKind] {
        allCases.filter { $0 != .mosquitto || MosquittoBroker.isInstalled }
    }

    var testDescription: String { rawValue }
}

/// Runs `body` with a fresh broker of `kind` and stops the broker afterwards, whatever `body` does.
/// `persistence` is mosquitto's: it keeps sessions across `restart()`. Starling keeps sessions in memory only.
func withBroker<Value>(
    _ kind: BrokerKind, persistence: Bool = false, isolation: isolated (any Actor)? = #isolation,
    _ body: (any RunningBroker) async throws -> Value
) async throws -> Value {
    switch kind {
    case .mosquitto:
        return try await withMosquitto(persistence: persistence) { broker in try await body(broker) }
    case .starling:
        let broker = try await TestBroker()
        do {
            let value = try await body(broker)
            await broker.shutdown()
            return value
        } catch {
            await broker.shutdown()
            throw error
        }
    }
}
