"""`starling bench --report` looked at in a real browser (Debian's headless Chromium, through selenium).

Runs a short QoS 1 fan-in against the broker on PORT with --report, opens the page and checks what a reader
sees: the throughput axis says its unit (msg/s); the legend sits clear of the lines; the "sent" line shows where
it matches "delivered" (it is drawn under it, wider); no label of either chart is cut off by the chart's edge.
Saves a screenshot of the page to the screenshots folder. Prints `PASS bench-report` and exits 0, or the first
problem and exits 1.

    python3 bench_report_test.py --starling PATH --port PORT --screenshots DIR
        [--chromium /usr/bin/chromium] [--chromedriver /usr/bin/chromedriver]
"""

import argparse
import os
import subprocess
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

# Everything measured in the page itself: text boxes against their chart's box, the legend against the lines.
MEASURE = """
const charts = Array.from(document.querySelectorAll('svg'));
return charts.map(svg => {
  const frame = svg.getBoundingClientRect();
  const texts = Array.from(svg.querySelectorAll('text')).map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, inside: r.left >= frame.left - 0.5 && r.right <= frame.right + 0.5 &&
            r.top >= frame.top - 0.5 && r.bottom <= frame.bottom + 0.5};
  });
  const legend = svg.querySelector('g.legend');
  const lines = Array.from(svg.querySelectorAll('polyline')).map(p => ({
    series: p.getAttribute('class'), width: parseFloat(p.getAttribute('stroke-width')),
    top: p.getBoundingClientRect().top}));
  return {label: svg.getAttribute('aria-label'), texts: texts, lines: lines,
          legendBottom: legend ? legend.getBoundingClientRect().bottom : null};
});
"""


def fail(reason):
    print(f"FAIL bench-report: {reason}")
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--starling", required=True)
    parser.add_argument("--port", required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="starling-bench-report.") as work:
        report = os.path.join(work, "report.html")
        run = subprocess.run([args.starling, "bench", "fanin", "-h", "127.0.0.1", "-p", args.port, "-P", "2", "-q", "1",
                              "-n", "20000", "--report", report], capture_output=True, text=True, timeout=60)
        if run.returncode != 0 or not os.path.exists(report):
            fail(f"bench exited {run.returncode}: {run.stderr.strip()[-200:]}")

        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1000,1400", "--no-first-run", "--disable-extensions"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=options)
        try:
            driver.set_window_size(1000, 1400)
            driver.get("file://" + report)
            os.makedirs(args.screenshots, exist_ok=True)
            driver.save_screenshot(os.path.join(args.screenshots, "bench-report.png"))
            charts = driver.execute_script(MEASURE)
        finally:
            driver.quit()

    if len(charts) != 2:
        fail(f"expected 2 charts, found {len(charts)}")
    throughput, latency = charts
    if not any(t["text"] == "msg/s" for t in throughput["texts"]):
        fail("the throughput chart does not say its unit (msg/s)")
    for chart in charts:
        cut = [t["text"] for t in chart["texts"] if not t["inside"]]
        if cut:
            fail(f"{chart['label']}: labels cut off by the chart's edge: {cut}")
    lines = {line["series"]: line for line in throughput["lines"]}
    if set(lines) != {"sent", "delivered"}:
        fail(f"throughput lines: {sorted(lines)}")
    if [line["series"] for line in throughput["lines"]] != ["sent", "delivered"] or lines["sent"]["width"] <= lines["delivered"]["width"]:
        fail("'sent' is not drawn under 'delivered' and wider: where they match it would be hidden")
    if throughput["legendBottom"] is None or throughput["legendBottom"] > min(line["top"] for line in throughput["lines"]):
        fail("the legend overlaps the lines")
    print("PASS bench-report")


if __name__ == "__main__":
    main()
