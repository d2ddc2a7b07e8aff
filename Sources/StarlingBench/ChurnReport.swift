/// A churn soak as text and as a self-contained HTML page: the broker's resident memory after each round, one
/// curve per run, so that a run can be drawn beside another broker's.
public enum ChurnReport {
    /// One line per round, then the growth per connection after the warm-up.
    public static func table(_ result: ChurnResult) -> String {
        var lines = ["round  connections  failed  seconds  broker RSS"]
        for round in result.rounds {
            lines.append(
                pad(String(round.index + 1), 5) + "  " + pad(String(round.connections), 11) + "  " + pad(String(round.failed), 6)
                    + "  " + pad(BenchFormat.fixed(round.seconds, 1), 7) + "  " + pad(round.brokerBytes.map(megabytes) ?? "-", 10))
        }
        lines.append("connections: \(result.totalConnections), failed: \(result.totalFailed)")
        if let slope = result.bytesPerConnectionAfterWarmUp {
            lines.append("broker growth after warm-up: \(BenchFormat.fixed(slope, 2)) bytes per connection")
        }
        if let error = result.rounds.compactMap(\.firstError).first { lines.append("first failure: \(error)") }
        return lines.joined(separator: "\n")
    }

    public static func html(_ runs: [(label: String, result: ChurnResult)], title: String) -> String {
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(BenchReport.escape(title))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:60em}
            table{border-collapse:collapse}td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:right}
            th{text-align:left}svg{background:#fafafa;border:1px solid #ddd;margin:1em 0}
            \(colors.enumerated().map { ".run\($0.offset){stroke:\($0.element)}" }.joined())
            </style></head><body>
            <h1>\(BenchReport.escape(title))</h1>
            <h2>Broker resident memory after each round</h2>

            """
        page += chart(runs)
        page += "<table>\n<tr><th>round</th>"
        for run in runs { page += "<th>\(BenchReport.escape(run.label))</th>" }
        page += "</tr>\n"
        for index in 0..<(runs.map(\.result.rounds.count).max() ?? 0) {
            page += "<tr><th>\(index + 1)</th>"
            for run in runs {
                let bytes = index < run.result.rounds.count ? run.result.rounds[index].brokerBytes : nil
                page += "<td>\(bytes.map(megabytes) ?? "")</td>"
            }
            page += "</tr>\n"
        }
        page += "<tr><th>bytes per connection after warm-up</th>"
        for run in runs { page += "<td>\(run.result.bytesPerConnectionAfterWarmUp.map { BenchFormat.fixed($0, 2) } ?? "")</td>" }
        page += "</tr>\n</table>\n</body></html>\n"
        return page
    }

    static let colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]

    static func chart(_ runs: [(label: String, result: ChurnResult)]) -> String {
        let series = runs.map { run in run.result.rounds.compactMap { round in round.brokerBytes.map { (round.index + 1, Double($0) / 1_048_576) } } }
        let rounds = series.map { $0.last?.0 ?? 0 }.max() ?? 0
        guard rounds > 0 else { return "<p>No memory readings: give the broker's process id.</p>\n" }
        let top = BenchReport.niceCeiling(max(1, series.flatMap { $0.map(\.1) }.max() ?? 1))
        let (width, height, margin) = (BenchReport.width, BenchReport.height, BenchReport.margin)
        let x = { (round: Double) in margin.left + (width - margin.left - margin.right) * round / Double(rounds) }
        let y = { (megabytes: Double) in height - margin.bottom - (height - margin.top - margin.bottom) * megabytes / top }
        var svg = BenchReport.open(label: "Broker resident memory after each round")
        for tick in 0...4 {
            let value = top * Double(tick) / 4
            svg += BenchReport.gridLine(y: y(value), label: BenchFormat.fixed(value, 0) + " MB")
        }
        for round in stride(from: 0, through: rounds, by: max(1, rounds / 10)) {
            svg += "<text x=\"\(BenchReport.f(x(Double(round))))\" y=\"\(BenchReport.f(height - margin.bottom + 16))\" text-anchor=\"middle\" font-size=\"11\">\(round)</text>\n"
        }
        for (index, points) in series.enumerated() where !points.isEmpty {
            let coordinates = points.map { "\(BenchReport.f(x(Double($0.0)))),\(BenchReport.f(y($0.1)))" }
            svg += "<polyline class=\"run\(index % colors.count)\" fill=\"none\" stroke-width=\"2\" points=\"\(coordinates.joined(separator: " "))\"/>\n"
        }
        svg += BenchReport.legend(runs.enumerated().map { (series: "run\($0.offset % colors.count)", label: $0.element.label, width: 2) })
        return svg + "</svg>\n"
    }

    public static func megabytes(_ bytes: Int) -> String { BenchFormat.fixed(Double(bytes) / 1_048_576, 1) + " MB" }

    private static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
