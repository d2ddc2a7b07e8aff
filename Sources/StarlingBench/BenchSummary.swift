/// The final summary of a run as (name, value) rows, shared by the terminal table and the HTML report.
public enum BenchSummary {
    public static func rows(_ r: BenchResult) -> [(String, String)] {
        var rows: [(String, String)] = [
            ("scenario", "\(r.scenario.rawValue), QoS \(r.qos), \(r.payloadSize)-byte payloads"),
            ("connections", "\(r.connections.connected) of \(r.connections.attempted) (\(r.publishers) publisher\(r.publishers == 1 ? "" : "s"), \(r.subscribers) subscriber\(r.subscribers == 1 ? "" : "s"))"),
        ]
        if r.connections.failed > 0 { rows.append(("failed connections", "\(r.connections.failed)")) }
        rows.append(("connect time", BenchFormat.fixed(r.connections.seconds, 3) + " s (" + BenchFormat.rate(r.connections.perSecond) + " connections/s)"))
        if let before = r.connections.brokerBytesBefore, let after = r.connections.brokerBytesAfter {
            rows.append(("broker memory", "\(BenchFormat.bytes(Double(before))) → \(BenchFormat.bytes(Double(after)))"))
            if let each = r.connections.brokerBytesPerConnection { rows.append(("per connection", BenchFormat.bytes(each))) }
        }
        if let each = r.connections.cpuMicrosecondsPerConnection {
            let broker = each.broker.map { ", broker " + BenchFormat.fixed($0, 1) + " µs" } ?? ""
            rows.append(("CPU per connection", "load generator " + BenchFormat.fixed(each.generator, 1) + " µs" + broker))
        }
        guard r.scenario != .conn else { return rows }
        rows.append(("sent", "\(r.sent)" + (r.qos > 0 ? " (\(r.acknowledged) acknowledged)" : "")))
        if r.subscribers > 0 {
            rows.append(("delivered", "\(r.delivered)" + (r.expected.map { " of \($0)" } ?? "")))
            if r.expected != nil { rows.append(("lost", "\(r.lost)")) }
            rows.append(("duplicated", "\(r.duplicates)"))
            rows.append(("out of order", "\(r.outOfOrder)"))
            if r.foreign > 0 { rows.append(("not from this run", "\(r.foreign)")) }
        }
        rows.append(("duration", BenchFormat.fixed(r.seconds, 3) + " s"))
        rows.append((r.subscribers > 0 ? "throughput" : "accepted", BenchFormat.rate(r.rate) + " msg/s"))
        if let cpu = r.cpu {
            let broker = cpu.brokerPercent.map { ", broker " + BenchFormat.fixed($0, 0) + " %" } ?? ""
            rows.append(("CPU", "load generator " + BenchFormat.fixed(cpu.generatorPercent, 0) + " %" + broker + " (of one core)"))
        }
        if r.subscribers > 0 && r.latency.max > 0 {
            let l = r.latency
            rows.append(("latency", "p50 \(BenchFormat.duration(microseconds: l.p50)), p90 \(BenchFormat.duration(microseconds: l.p90)), p99 \(BenchFormat.duration(microseconds: l.p99)), p99.9 \(BenchFormat.duration(microseconds: l.p999)), max \(BenchFormat.duration(microseconds: l.max))"))
        }
        return rows
    }

    /// The rows as an aligned two-column table.
    public static func table(_ r: BenchResult) -> String {
        let rows = rows(r)
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0 + String(repeating: " ", count: width - $0.0.count) + "  " + $0.1 }.joined(separator: "\n")
    }
}
