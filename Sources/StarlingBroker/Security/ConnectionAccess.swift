import MQTT

/// One connection's view of the `AccessControl`: its resolved rules, and the answers already given for the
/// topics it publishes to and receives from, so that a steady stream of messages costs a dictionary lookup.
/// Lives on the connection's event loop; picks up reloaded rules at the next check.
struct ConnectionAccess {
    let control: AccessControl
    let userName: String?
    let clientIdentifier: String
    private var generation: Int
    private(set) var rules: AccessRules
    /// By the topic's bytes: a canonically equivalent topic is another topic, with an answer of its own.
    private var receivable: [ExactString: Bool] = [:]
    private var publishable: [ExactString: Bool] = [:]
    /// Topics remembered per direction; the memory starts over when it is full.
    static let cacheLimit = 1_024

    init(control: AccessControl, userName: String?, clientIdentifier: String) {
        self.control = control
        self.userName = userName
        self.clientIdentifier = clientIdentifier
        self.generation = control.generation.load(ordering: .acquiring)
        self.rules = control.list.rules(userName: userName, clientIdentifier: clientIdentifier)
    }

    private mutating func refresh() {
        let current = control.generation.load(ordering: .acquiring)
        guard current != generation else { return }
        generation = current
        rules = control.list.rules(userName: userName, clientIdentifier: clientIdentifier)
        receivable.removeAll()
        publishable.removeAll()
    }

    mutating func mayReceive(_ topic: String) -> Bool {
        refresh()
        return Self.decision(for: topic, in: &receivable) { rules.mayReceive($0) }
    }

    mutating func mayPublish(_ topic: String) -> Bool {
        refresh()
        return Self.decision(for: topic, in: &publishable) { rules.mayPublish($0) }
    }

    /// The cached decision for `topic`, or `decide`'s, remembered; the cache starts over when full.
    private static func decision(for topic: String, in cache: inout [ExactString: Bool], decide: (String) -> Bool) -> Bool {
        let key = ExactString(topic)
        if let known = cache[key] { return known }
        let allowed = decide(topic)
        if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[key] = allowed
        return allowed
    }

    mutating func maySubscribe(_ filter: TopicFilter) -> Bool {
        refresh()
        return rules.maySubscribe(filter.filter)
    }
}
