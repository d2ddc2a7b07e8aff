#!/usr/bin/env bash
# Runs the connection-lifetime tests (and any others named) under AddressSanitizer, whose LeakSanitizer reports
# at exit every allocation nothing refers to any more: a reference cycle between a connection's handler, its
# session and its channel shows up there even where the tests' own counts would miss it.
#
#   Scripts/sanitize.sh                   the ConnectionLifetimeTests suite
#   Scripts/sanitize.sh FILTER            the tests `swift test --filter FILTER` selects
#
# The instrumented build goes to .build-asan, beside the usual .build, and takes a few minutes the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

filter="${1:-ConnectionLifetimeTests}"
flags=(--sanitize=address --scratch-path .build-asan)
swift build --build-tests "${flags[@]}"
# LeakSanitizer runs when the test process exits and makes it fail on any leak; the suppressions name the
# allocations that live for the whole process by design (the runtime's and the libraries' caches).
export LSAN_OPTIONS="suppressions=$PWD/Scripts/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
SWIFT_BACKTRACE=enable=no swift test --skip-build "${flags[@]}" --filter "$filter"
