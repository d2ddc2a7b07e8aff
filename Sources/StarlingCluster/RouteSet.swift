import MQTT

/// The topic filters one node's clients subscribe to, for matching a topic against them: filters without
/// wildcards in one set, the others matched one by one.
struct RouteSet: Sendable {
    private(set) var exact: Set<String> = []
    private(set) var wildcards: [TopicFilter] = []

    init(_ filters: some Sequence<String>) {
        for filter in filters {
            if filter.contains("+") || filter.contains("#") {
                if let parsed = try? TopicFilter(filter) { wildcards.append(parsed) }
            } else {
                exact.insert(filter)
            }
        }
    }

    var count: Int { exact.count + wildcards.count }

    func matches(_ topic: String) -> Bool {
        exact.contains(topic) || wildcards.contains { $0.matches(topic) }
    }

    /// The filter a subscription routes by: a shared subscription's (`$share/GROUP/FILTER`) is its FILTER.
    static func routedFilter(_ topicFilter: String) -> String {
        guard topicFilter.hasPrefix("$share/") else { return topicFilter }
        let rest = topicFilter.dropFirst("$share/".count)
        guard let slash = rest.firstIndex(of: "/") else { return topicFilter }
        return String(rest[rest.index(after: slash)...])
    }
}
