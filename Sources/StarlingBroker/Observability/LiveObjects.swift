#if DEBUG
import NIOConcurrencyHelpers

/// Debug builds: weak references to every connection handler, session and channel a broker made, so that a
/// test can check that nothing of a connection outlives it. Release builds keep nothing of the kind.
final class LiveObjects: Sendable {
    enum Kind: Sendable, CaseIterable {
        case connectionHandler, session, channel
    }

    private struct Entry: @unchecked Sendable {
        // Sendable proof: a weak reference is loaded and cleared atomically by the runtime, and every object
        // tracked is Sendable itself (see `track`); the entry is only read and written under `entries`' lock.
        weak var object: AnyObject?
        let kind: Kind
    }

    private let entries = NIOLockedValueBox<(list: [Entry], pruneAt: Int)>(([], 1_024))

    func track(_ object: some AnyObject & Sendable, as kind: Kind) {
        entries.withLockedValue { entries in
            entries.list.append(Entry(object: object, kind: kind))
            guard entries.list.count >= entries.pruneAt else { return }
            // Entries of released objects are dropped now and then, so that churn does not grow the list.
            entries.list.removeAll { $0.object == nil }
            entries.pruneAt = max(1_024, entries.list.count * 2)
        }
    }

    /// How many tracked objects of `kind` are still allocated.
    func count(_ kind: Kind) -> Int {
        entries.withLockedValue { entries in entries.list.reduce(0) { $0 + ($1.kind == kind && $1.object != nil ? 1 : 0) } }
    }
}
#endif
