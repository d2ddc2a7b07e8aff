#!/usr/bin/env bash
# Builds the PacketDecoder fuzzer and runs it for a bounded time.
#
#   Fuzz/run.sh [seconds]        default 60
#   Fuzz/run.sh --reproduce FILE run one saved input (a crash-* artifact) and exit
#
# The corpus grows in Fuzz/corpus-run/ (not in git), seeded from Tests/MQTTTests/Fixtures/*.hex and seeds/*.hex. A crash,
# leak or timeout leaves its input as Fuzz/crash-*, leak-* or timeout-* and makes this script exit non-zero.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
product=FuzzPacketDecoder

# `--sanitize=fuzzer` tells SwiftPM that libFuzzer provides `main`. The sanitizers themselves go to swiftc as one
# flag: `--sanitize=fuzzer --sanitize=address` reach it as two `-sanitize=` flags in no fixed order, swiftc keeps
# only the last, and a build without the fuzzer's coverage instrumentation fuzzes blind. `-Xswiftc` flags come last.
flags=(-c release --package-path "$here" --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address)
swift build "${flags[@]}" --product "$product"
binary="$(swift build "${flags[@]}" --show-bin-path)/$product"

if [[ "${1:-}" == "--reproduce" ]]; then
    SWIFT_BACKTRACE=enable=no exec timeout 60 "$binary" -rss_limit_mb=2048 -timeout=10 "$2"
fi

seconds="${1:-60}"
corpus="$here/corpus-run"
mkdir -p "$corpus"

# Seeds: each fixture alone, and each capture (client and version) as one stream, CONNECT first, so the
# decoder also meets a CONNECT that switches its version followed by packets of that version. The fixtures are
# what clients send; seeds/ adds what servers send and every property.
python3 - "$root/Tests/MQTTTests/Fixtures" "$here/seeds" "$corpus" <<'PY'
import pathlib, sys
fixtures, seeds, corpus = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
for path in sorted(seeds.glob("*.hex")):
    (corpus / f"seed-{path.stem}").write_bytes(bytes.fromhex(path.read_text().strip()))
streams = {}
for path in sorted(fixtures.glob("*.hex")):
    data = bytes.fromhex(path.read_text().strip())
    (corpus / f"seed-{path.stem}").write_bytes(data)
    client, version, kind = path.stem.split("-", 2)
    streams.setdefault(f"{client}-{version}", []).append((not kind.startswith("connect"), data))
for name, packets in streams.items():
    (corpus / f"seed-stream-{name}").write_bytes(b"".join(data for _, data in sorted(packets, key=lambda p: p[0])))
PY

cd "$here"
# A failed check traps; without Swift's own crash handler libFuzzer reports it and saves the input at once.
export SWIFT_BACKTRACE=enable=no
status=0
timeout --kill-after=30 $((seconds + 120)) "$binary" "$corpus" \
    -dict="$here/mqtt.dict" \
    -max_total_time="$seconds" \
    -rss_limit_mb=2048 \
    -timeout=10 \
    -max_len=4096 \
    -print_final_stats=1 \
    -artifact_prefix="$here/" || status=$?

if [[ $status -ne 0 ]]; then
    echo "fuzzing failed (exit $status); artifacts:" >&2
    ls -1 "$here"/crash-* "$here"/leak-* "$here"/timeout-* "$here"/oom-* 2>/dev/null >&2 || true
fi
exit $status
