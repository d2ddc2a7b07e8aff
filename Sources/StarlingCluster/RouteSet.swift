import MQTT

/// The topic filters one node's clients subscribe to, for matching a topic against them: filters without
/// wildcards in one set, the others matched one by one, and shared subscriptions (`$share/GROUP/FILTER`) apart,
/// since each of their groups gets a message on one node only.
struct RouteSet: Sendable {
    private(set) var exact: Set<String> = []
    private(set) var wildcards: [TopicFilter] = []
    private(set) var shares: [TopicFilter] = []

    init(_ filters: some Sequence<String>) {
        for filter in filters {
            if filter.hasPrefix("$share/") {
                if let parsed = try? TopicFilter(filter), parsed.isShared { shares.append(parsed) }
            } else if filter.contains("+") || filter.contains("#") {
                if let parsed = try? TopicFilter(filter) { wildcards.append(parsed) }
            } else {
                exact.insert(filter)
            }
        }
    }

    var count: Int { exact.count + wildcards.count + shares.count }

    /// Whether an ordinary subscription matches `topic`.
    func matches(_ topic: String) -> Bool {
        exact.contains(topic) || wildcards.contains { $0.matches(topic) }
    }

    /// The shared subscriptions matching `topic`, as `$share/GROUP/FILTER`.
    func shares(matching topic: String) -> [String] {
        guard !shares.isEmpty else { return [] }
        return shares.filter { $0.matches(topic) }.map(\.rawValue)
    }
}
