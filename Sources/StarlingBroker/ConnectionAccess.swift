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
    private var receivable: [String: Bool] = [:]
    private var publishable: [String: Bool] = [:]
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
        if let known = receivable[topic] { return known }
        let allowed = rules.mayReceive(topic)
        if receivable.count >= Self.cacheLimit { receivable.removeAll(keepingCapacity: true) }
        receivable[topic] = allowed
        return allowed
    }

    mutating func mayPublish(_ topic: String) -> Bool {
        refresh()
        if let known = publishable[topic] { return known }
        let allowed = rules.mayPublish(topic)
        if publishable.count >= Self.cacheLimit { publishable.removeAll(keepingCapacity: true) }
        publishable[topic] = allowed
        return allowed
    }

    mutating func maySubscribe(_ filter: TopicFilter) -> Bool {
        refresh()
        return rules.maySubscribe(filter.filter)
    }
}
