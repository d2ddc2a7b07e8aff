#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A run as a self-contained HTML page: a summary table, throughput over time and the latency distribution
/// drawn as inline SVG, with no script, stylesheet or font fetched from anywhere.
public enum BenchReport {
    public static func html(_ result: BenchResult, title: String) -> String {
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:60em}
            table{border-collapse:collapse}td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:right}
            th{text-align:left}svg{background:#fafafa;border:1px solid #ddd;margin:1em 0}
            .sent{stroke:#9ecae1}.delivered{stroke:#d62728}.latency{stroke:#2ca02c}
            </style></head><body>
            <h1>\(escape(title))</h1>

            """
        page += "<table>\n"
        for (name, value) in BenchSummary.rows(result) {
            page += "<tr><th>\(escape(name))</th><td>\(escape(value))</td></tr>\n"
        }
        page += "</table>\n<h2>Throughput per second</h2>\n"
        page += throughputChart(result.timeline)
        page += "<h2>Latency distribution</h2>\n"
        page += latencyChart(result.latency)
        page += "</body></html>\n"
        return page
    }

    static let width = 720.0
    static let height = 300.0
    /// The plot's frame inside the chart: the legend and the axis unit sit in the top margin, above the lines; the
    /// right margin holds the last x label whole.
    static let margin = (left: 70.0, right: 40.0, top: 36.0, bottom: 40.0)

    static func throughputChart(_ timeline: BenchTimeline) -> String {
        let seconds = max(timeline.sent.count, timeline.delivered.count)
        guard seconds > 0 else { return "<p>No messages.</p>\n" }
        let top = niceCeiling(Double(max(timeline.sent.max() ?? 0, timeline.delivered.max() ?? 0, 1)))
        let x = { (second: Double) in margin.left + (width - margin.left - margin.right) * second / Double(max(1, seconds)) }
        let y = { (value: Double) in height - margin.bottom - (height - margin.top - margin.bottom) * value / top }
        var svg = open(label: "Messages per second over the run")
        for tick in 0...4 {
            let value = top * Double(tick) / 4
            svg += gridLine(y: y(value), label: BenchFormat.rate(value))
        }
        svg += axisUnit("msg/s")
        for second in stride(from: 0, through: seconds, by: max(1, seconds / 10)) {
            svg += "<text x=\"\(f(x(Double(second))))\" y=\"\(f(height - margin.bottom + 16))\" text-anchor=\"middle\" font-size=\"11\">\(second)s</text>\n"
        }
        // "sent" is drawn first and wider, so that where "delivered" follows it exactly it shows on both sides.
        for (series, width, values) in [("sent", 6, timeline.sent), ("delivered", 2, timeline.delivered)]
        where values.contains(where: { $0 > 0 }) {
            // Each second's count is drawn as a step across that second.
            var points: [String] = []
            for (second, value) in values.enumerated() {
                points.append("\(f(x(Double(second)))),\(f(y(Double(value))))")
                points.append("\(f(x(Double(second + 1)))),\(f(y(Double(value))))")
            }
            svg += "<polyline class=\"\(series)\" fill=\"none\" stroke-width=\"\(width)\" points=\"\(points.joined(separator: " "))\"/>\n"
        }
        svg += legend([("sent", "sent", 6), ("delivered", "delivered", 2)])
        return svg + "</svg>\n"
    }

    static func latencyChart(_ latency: BenchResult.Latency) -> String {
        guard !latency.distribution.isEmpty else { return "<p>No latency recorded.</p>\n" }
        // Percentiles spread as 1/(1-p), so the tail gets as much room as the median; latency on a log scale.
        let maxNines = 5.0
        func nines(_ percentile: Double) -> Double { percentile >= 100 ? maxNines : min(maxNines, -log10(1 - percentile / 100)) }
        let values = latency.distribution.map { max(1, $0.microseconds) }
        let low = floor(log10(values.min() ?? 1))
        let high = max(low + 1, ceil(log10(values.max() ?? 10)))
        let x = { (n: Double) in margin.left + (width - margin.left - margin.right) * n / maxNines }
        let y = { (us: Double) in height - margin.bottom - (height - margin.top - margin.bottom) * (log10(max(1, us)) - low) / (high - low) }
        var svg = open(label: "End-to-end latency by percentile")
        svg += axisUnit("latency")
        var decade = low
        while decade <= high {
            let us = pow10(decade)
            svg += gridLine(y: y(us), label: BenchFormat.duration(microseconds: us))
            decade += 1
        }
        for (n, label) in [(0.0, "0%"), (1, "90%"), (2, "99%"), (3, "99.9%"), (4, "99.99%"), (5, "99.999%")] {
            // The last label ends at the frame's right edge rather than centred on it, where half would be cut off.
            let anchor = n == maxNines ? "end" : "middle"
            svg += "<text x=\"\(f(x(n)))\" y=\"\(f(height - margin.bottom + 16))\" text-anchor=\"\(anchor)\" font-size=\"11\">\(label)</text>\n"
        }
        svg += "<text x=\"\(f(width - margin.right))\" y=\"\(f(height - 6))\" text-anchor=\"end\" font-size=\"11\">percentile</text>\n"
        let points = latency.distribution.map { "\(f(x(nines($0.percentile)))),\(f(y($0.microseconds)))" }
        svg += "<polyline class=\"latency\" fill=\"none\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
        return svg + "</svg>\n"
    }

    static func open(label: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(label))\">\n"
    }

    static func gridLine(y: Double, label: String) -> String {
        "<line x1=\"\(f(margin.left))\" x2=\"\(f(width - margin.right))\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke=\"#ddd\"/>"
            + "<text x=\"\(f(margin.left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\" font-size=\"11\">\(escape(label))</text>\n"
    }

    /// The series' names, in the top margin at the right, clear of the plot and its lines.
    static func legend(_ entries: [(series: String, label: String, width: Int)]) -> String {
        var svg = "<g class=\"legend\">"
        for (i, entry) in entries.enumerated() {
            let x = width - margin.right - Double(entries.count - i) * 110
            let y = margin.top / 2
            svg += "<line class=\"\(entry.series)\" x1=\"\(f(x))\" x2=\"\(f(x + 20))\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke-width=\"\(entry.width)\"/>"
            svg += "<text x=\"\(f(x + 26))\" y=\"\(f(y + 4))\" font-size=\"11\">\(escape(entry.label))</text>"
        }
        return svg + "</g>\n"
    }

    /// What the y axis counts, above its labels.
    static func axisUnit(_ unit: String) -> String {
        "<text class=\"unit\" x=\"\(f(margin.left - 6))\" y=\"\(f(margin.top / 2 + 4))\" text-anchor=\"end\" font-size=\"11\" font-weight=\"bold\">\(escape(unit))</text>\n"
    }

    static func niceCeiling(_ value: Double) -> Double {
        let magnitude = pow10(floor(log10(max(1, value))))
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    private static func pow10(_ exponent: Double) -> Double { pow(10, exponent) }

    static func f(_ value: Double) -> String { BenchFormat.fixed(value, 1) }
}
