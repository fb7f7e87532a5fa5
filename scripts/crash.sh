#!/usr/bin/env bash
# The kill -9 harness, for many cycles (CI runs 3 of each in the test suite).
#
#   bash scripts/crash.sh [CYCLES]      default 100
#
# Runs, in release mode: the writer killed with SIGKILL at random moments under a steady feed
# (every acknowledged event present exactly once after restarts), and a resolver killed and
# restarted mid-stream (it catches up with every event). Prints the cycles run and the result.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-100}"
export PERMITD_CRASH_CYCLES="$cycles"
started=$(date +%s)
cargo test --release --locked --test it -- --exact \
    writer::a_writer_killed_mid_feed_loses_no_acknowledged_event_and_applies_none_twice \
    writer::a_resolver_restarted_mid_stream_catches_up_with_every_event \
    --test-threads 1 --nocapture
echo "crash harness: $cycles cycles of each test passed in $(( $(date +%s) - started )) s"
