import Atomics
import Logging
import NIOCore

/// A warning that may repeat at a high rate (a full store refusing every message, a flood of connections that
/// each break a limit), written at most once every ten seconds with the count of occurrences so far.
final class RareLog: Sendable {
    private let occurrences = ManagedAtomic<Int>(0)
    private let nextLine = ManagedAtomic<UInt64>(0)

    func logRarely(_ logger: Logger, _ message: Logger.Message, topic: String) {
        logRarely(logger, message, metadata: ["topic": "\(topic)"])
    }

    func logRarely(_ logger: Logger, _ message: Logger.Message, metadata: Logger.Metadata) {
        let count = occurrences.wrappingIncrementThenLoad(ordering: .relaxed)
        let now = NIODeadline.now().uptimeNanoseconds
        let next = nextLine.load(ordering: .relaxed)
        guard now >= next, nextLine.compareExchange(expected: next, desired: now + 10_000_000_000, ordering: .relaxed).exchanged else {
            return
        }
        logger.warning(message, metadata: metadata.merging(["occurrences": "\(count)"]) { _, new in new })
    }
}
