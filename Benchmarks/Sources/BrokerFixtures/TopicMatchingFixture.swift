/// 100,000 subscriptions in the shape of a fleet: `fleet/<site>/<device>/<metric>` for 1,000 sites × 10 devices
/// × 10 metrics, less some replaced by wildcards (`+` for a device or a metric, `#` under a site).
public enum TopicMatchingFixture {
    public static let filters: [String] = (0..<100_000).map { index in
        let site = index / 100, device = (index / 10) % 10, metric = index % 10
        switch index % 20 {
        case 0: return "fleet/\(site)/+/metric\(metric)"
        case 1: return "fleet/\(site)/device\(device)/+"
        case 2: return "fleet/\(site)/#"
        default: return "fleet/\(site)/device\(device)/metric\(metric)"
        }
    }

    public static let topics: [String] = (0..<1_000).map { index in
        "fleet/\((index * 7) % 1_000)/device\(index % 10)/metric\((index / 10) % 10)"
    }
}
