import Foundation
import Testing

@testable import StarlingBench

@Suite struct BenchReportTests {
    static func result(latency: BenchResult.Latency? = nil) -> BenchResult {
        var histogram = BenchLoopStats.makeHistogram()
        for microseconds in 1...1000 as ClosedRange<UInt64> { _ = histogram.record(microseconds * 1_000) }
        return BenchResult(
            scenario: .fanin, qos: 1, payloadSize: 64, publishers: 2, subscribers: 1,
            connections: .init(attempted: 3, connected: 3, failed: 0, seconds: 0.01),
            sent: 1000, acknowledged: 1000, expected: 1000, delivered: 998, duplicates: 1, outOfOrder: 2, foreign: 0, seconds: 2,
            latency: latency ?? BenchResult.Latency(histogram),
            timeline: BenchTimeline(sent: [600, 400], delivered: [590, 408]))
    }

    @Test func reportIsOneSelfContainedPageWithTwoCharts() {
        let html = BenchReport.html(Self.result(), title: "fanin <run>")
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.ranges(of: "<svg").count == 2)
        #expect(html.contains("<polyline class=\"sent\""))
        #expect(html.contains("<polyline class=\"delivered\""))
        #expect(html.contains("<polyline class=\"latency\""))
        // Nothing is fetched: no script, no external stylesheet, font or image.
        #expect(!html.contains("<script"))
        #expect(!html.contains("<link"))
        #expect(!html.contains("src="))
        #expect(!html.contains("@import"))
        #expect(!html.contains("url("))
        // Titles are escaped.
        #expect(html.contains("fanin &lt;run&gt;"))
        #expect(!html.contains("<run>"))
    }

    /// The page as a reader sees it: a unit on the throughput axis, the legend above the plot (clear of the lines),
    /// "sent" drawn under "delivered" and wider, so that it shows where they match; the last percentile label
    /// ends inside the frame. (Tests/Interop/bench_report_test.py looks at it in Chromium.)
    @Test func chartsHaveUnitsAndALegendClearOfTheLines() {
        let html = BenchReport.html(Self.result(), title: "run")
        #expect(html.contains(">msg/s</text>"))
        let sent = html.range(of: "<polyline class=\"sent\" fill=\"none\" stroke-width=\"6\"")
        let delivered = html.range(of: "<polyline class=\"delivered\" fill=\"none\" stroke-width=\"2\"")
        #expect(sent != nil && delivered != nil && sent!.lowerBound < delivered!.lowerBound)
        // Every legend entry is in the top margin, above the plot's frame.
        let legend = html[html.range(of: "<g class=\"legend\">")!.upperBound...].prefix { $0 != "\n" }
        for match in legend.matches(of: /y1="([0-9.]+)"/) { #expect(Double(match.1)! < BenchReport.margin.top) }
        #expect(html.contains("text-anchor=\"end\" font-size=\"11\">99.999%</text>"))
    }

    @Test func summaryReportsLossDuplicatesAndOrder() {
        let rows = Dictionary(uniqueKeysWithValues: BenchSummary.rows(Self.result()))
        #expect(rows["lost"] == "2")
        #expect(rows["duplicated"] == "1")
        #expect(rows["out of order"] == "2")
        #expect(rows["delivered"] == "998 of 1000")
        #expect(rows["throughput"] == "499 msg/s")
    }

    @Test func latencyPercentilesComeFromTheHistogram() {
        let latency = Self.result().latency
        // 1…1000 µs uniformly: the median is near 500 µs, p99 near 990 µs, within the histogram's precision.
        #expect(abs(latency.p50 - 500) <= 1)
        #expect(abs(latency.p99 - 990) <= 1)
        #expect(abs(latency.max - 1000) <= 1)
        #expect(latency.distribution.first?.percentile == 0)
        #expect(latency.distribution.last?.percentile == 100)
    }

    @Test func aRunWithoutMessagesStillRenders() {
        var result = Self.result(latency: .empty)
        result.timeline = BenchTimeline()
        let html = BenchReport.html(result, title: "empty")
        #expect(html.contains("No messages."))
        #expect(html.contains("No latency recorded."))
    }

    @Test func timelinesMergeBySecond() {
        var a = BenchTimeline(sent: [1, 2], delivered: [0, 1])
        a.merge(BenchTimeline(sent: [10, 20, 30], delivered: [1, 1, 1]))
        #expect(a == BenchTimeline(sent: [11, 22, 30], delivered: [1, 2, 1]))
    }

    @Test func numbersAreFormattedWithoutFoundation() {
        #expect(BenchFormat.fixed(3.14159, 2) == "3.14")
        #expect(BenchFormat.fixed(-0.5, 1) == "-0.5")
        #expect(BenchFormat.fixed(2.05, 0) == "2")
        #expect(BenchFormat.rate(1_234_567) == "1.23M")
        #expect(BenchFormat.rate(45_678) == "45.7k")
        #expect(BenchFormat.duration(microseconds: 1_900) == "1.90 ms")
    }
}
