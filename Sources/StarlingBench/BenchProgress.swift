/// Counts of a run so far, reported once a second while it goes.
public struct BenchProgress: Sendable, Equatable {
    public var elapsed: Double
    public var connected: Int
    public var sent: Int
    public var delivered: Int
    var publishersDone = 0

    public init(elapsed: Double, connected: Int, sent: Int, delivered: Int) {
        self.elapsed = elapsed
        self.connected = connected
        self.sent = sent
        self.delivered = delivered
    }

    /// One line of rates since the previous report.
    public func line(since previous: BenchProgress?) -> String {
        let span = max(0.001, elapsed - (previous?.elapsed ?? 0))
        let sentRate = Double(sent - (previous?.sent ?? 0)) / span
        let deliveredRate = Double(delivered - (previous?.delivered ?? 0)) / span
        return "\(BenchFormat.fixed(elapsed, 0))s  connections \(connected)  sent \(sent) (\(BenchFormat.rate(sentRate))/s)  delivered \(delivered) (\(BenchFormat.rate(deliveredRate))/s)"
    }
}

/// Number formatting without Foundation, for the summary, the progress line and the report.
enum BenchFormat {
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(scaled) - whole * Int(scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard decimals > 0 else { return sign + String(whole) }
        let digits = String(fraction)
        return sign + String(whole) + "." + String(repeating: "0", count: decimals - digits.count) + digits
    }

    /// 1234567 → "1.23M", 45678 → "45.7k".
    static func rate(_ value: Double) -> String {
        switch value {
        case 1e6...: return fixed(value / 1e6, 2) + "M"
        case 1e4...: return fixed(value / 1e3, 1) + "k"
        default: return fixed(value, 0)
        }
    }

    /// Microseconds as µs, ms or s.
    static func duration(microseconds: Double) -> String {
        switch microseconds {
        case 1e6...: return fixed(microseconds / 1e6, 2) + " s"
        case 1e3...: return fixed(microseconds / 1e3, 2) + " ms"
        default: return fixed(microseconds, 0) + " µs"
        }
    }

    static func bytes(_ value: Double) -> String {
        switch abs(value) {
        case 1_073_741_824...: return fixed(value / 1_073_741_824, 2) + " GiB"
        case 1_048_576...: return fixed(value / 1_048_576, 1) + " MiB"
        case 1024...: return fixed(value / 1024, 2) + " KiB"
        default: return fixed(value, 0) + " B"
        }
    }
}
