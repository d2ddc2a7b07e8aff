import ArgumentParser
import NIOCore
import StarlingBroker

/// `--durability`: when QoS 1/2 messages are acknowledged relative to their commit.
enum DurabilityMode: String, ExpressibleByArgument, CaseIterable {
    case everyAck = "every-ack"
    case periodic

    func durability(intervalMilliseconds: Int) throws -> Durability {
        switch self {
        case .everyAck:
            return .everyAck
        case .periodic:
            guard (1...60_000).contains(intervalMilliseconds) else {
                throw ValidationError("--durability-interval-ms must be between 1 and 60000")
            }
            return .periodic(.milliseconds(Int64(intervalMilliseconds)))
        }
    }
}
