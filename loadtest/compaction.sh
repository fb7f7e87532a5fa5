#!/usr/bin/env bash
# Resolver throughput while the writer compacts, on this machine, in one run.
#
#   bash loadtest/compaction.sh [--out DIR]        # default DIR: target/compaction
#
# 1. builds permitd and permit-load in release;
# 2. generates COMPACT_PERMITS permits and a change feed of COMPACT_CHANGES events for them,
#    imports the permits offline (`permitd feed apply`: the first snapshot);
# 3. starts the writer (nice 19: compaction is background work) and a resolver pinned to core 0
#    following the same directory; before each run it sends half the change feed (the overlay
#    that run's compaction folds in);
# 4. runs permit-load pinned to core 1 for COMPACT_DURATION, closed loop (peak) and then open
#    loop at COMPACT_RATE_PCT % of that peak; COMPACT_AT seconds into each run it asks the
#    writer to compact (`POST /v1/compact`) and records when the new snapshot was published;
# 5. prints the throughput (and for the open loop, the p99 of each second) before, during and
#    after the compaction, and the ratio during / before.
# Everything it started is stopped on exit. Only 127.0.0.1.
#
# Environment: COMPACT_PERMITS=1000000 COMPACT_CHANGES=100000 COMPACT_DURATION=60s
#   COMPACT_AT=10 COMPACT_RATE_PCT=50 COMPACT_CONNECTIONS=64 COMPACT_SERVER_CPU=0
#   COMPACT_CLIENT_CPU=1 COMPACT_SKIP_BUILD=0
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_DIR="$ROOT/target/compaction"
[ "${1:-}" = "--out" ] && OUT_DIR=${2:?--out needs a directory}
PERMITS=${COMPACT_PERMITS:-1000000}
CHANGES=${COMPACT_CHANGES:-100000}
DURATION=${COMPACT_DURATION:-90s}
AT=${COMPACT_AT:-10}
RATE_PCT=${COMPACT_RATE_PCT:-50}
CONNECTIONS=${COMPACT_CONNECTIONS:-64}
SERVER_CPU=${COMPACT_SERVER_CPU:-0}
CLIENT_CPU=${COMPACT_CLIENT_CPU:-1}
RESOLVER_PORT=18090
WRITER_PORT=18091

for tool in jq curl taskset; do
    command -v "$tool" >/dev/null || { apt-get install -y jq curl util-linux >/dev/null; break; }
done
if [ "${COMPACT_SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --release --locked -p permitd -p permit-load)
fi
PERMITD="$ROOT/target/release/permitd"
LOAD="$ROOT/target/release/permit-load"
mkdir -p "$OUT_DIR"
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
export PERMITD_FEED_TOKEN="compaction-bench-token-$$-$RANDOM"

echo "== data: $PERMITS permits, $CHANGES changes"
"$PERMITD" gen --permits "$PERMITS" --seed 1 --out "$TMP/permits.ndjson"
"$PERMITD" gen --changes "$CHANGES" --from "$TMP/permits.ndjson" --seed 2 --out "$TMP/changes.ndjson"
"$PERMITD" feed apply "$TMP/permits.ndjson" --data "$TMP/data" 2> "$OUT_DIR/apply.log"
tail -n 2 "$OUT_DIR/apply.log"

nice -n 19 "$PERMITD" writer --data "$TMP/data" --listen "127.0.0.1:$WRITER_PORT" \
    --compact-events 1000000000 --compact-seconds 1000000 2> "$OUT_DIR/writer.log" &
PIDS+=($!)
taskset -c "$SERVER_CPU" "$PERMITD" serve --data "$TMP/data" --listen "127.0.0.1:$RESOLVER_PORT" \
    2> "$OUT_DIR/resolver.log" &
RESOLVER_PID=$!
PIDS+=($RESOLVER_PID)
for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$RESOLVER_PORT/readyz" >/dev/null && \
        curl -sf "http://127.0.0.1:$WRITER_PORT/healthz" >/dev/null && break
    sleep 0.5
done
# Half the changes before each run, so each run's compaction has something to fold in.
lines=$(wc -l < "$TMP/changes.ndjson")
head -n $((lines / 2)) "$TMP/changes.ndjson" > "$TMP/changes-1.ndjson"
tail -n +$((lines / 2 + 1)) "$TMP/changes.ndjson" > "$TMP/changes-2.ndjson"

compact_during() {
    # Waits AT seconds, asks for a compaction, prints "start end" in seconds since $1.
    local t0=$1
    sleep "$AT"
    local start end
    start=$(date +%s.%N)
    curl -sf -X POST -H "Authorization: Bearer $PERMITD_FEED_TOKEN" \
        "http://127.0.0.1:$WRITER_PORT/v1/compact" > /dev/null
    # The resolver has swapped once its metrics show the new snapshot's sequence.
    local want
    want=$(curl -sf "http://127.0.0.1:$WRITER_PORT/v1/status" | jq .snapshot_sequence)
    for _ in $(seq 6000); do
        curl -sf "http://127.0.0.1:$RESOLVER_PORT/metrics" | grep -q "^permitd_snapshot_sequence $want\$" && break
        sleep 0.05
    done
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" -v t="$t0" 'BEGIN { printf "%.3f %.3f\n", a - t, b - t }'
}

run() {
    local name=$1 changes=$2; shift 2
    "$PERMITD" feed send "$changes" --to "http://127.0.0.1:$WRITER_PORT" 2>/dev/null
    sleep 2
    local t0
    t0=$(date +%s.%N)
    compact_during "$t0" > "$OUT_DIR/$name.window" &
    local compactor=$!
    taskset -c "$CLIENT_CPU" "$LOAD" --data "$TMP/permits.ndjson" \
        --url "http://127.0.0.1:$RESOLVER_PORT" --connections "$CONNECTIONS" --threads 1 \
        --duration "$DURATION" --mix qr=80,lookup=20 --quiet --server-pid "$RESOLVER_PID" \
        --report "$OUT_DIR/$name.json" "$@" > /dev/null
    wait "$compactor"
    read -r from to < "$OUT_DIR/$name.window"
    jq -r --argjson from "$from" --argjson to "$to" --arg name "$name" '
        def mean(f): if length == 0 then null else (map(f) | add) / length end;
        def show: if . == null then "n/a" else round end;
        def ratio(a; b): if a == null or b == null then "n/a" else (a / b * 1000 | round / 1000) end;
        [.timeline[] | select(.span_s > 0.99)] as $t
        | ($t | map(select(.second + 1 <= $from))) as $before
        | ($t | map(select(.second >= ($from | floor) and .second < ($to | ceil)))) as $during
        | ($t | map(select(.second >= ($to | ceil)))) as $after
        | "\($name): compaction \($from | . * 10 | round / 10)–\($to | . * 10 | round / 10) s; req/s before \($before | mean(.rps) | show), during \($during | mean(.rps) | show), after \($after | mean(.rps) | show); during/before \(ratio($during | mean(.rps); $before | mean(.rps)))"
    ' "$OUT_DIR/$name.json" | tee -a "$OUT_DIR/summary.txt"
}

: > "$OUT_DIR/summary.txt"
echo "== closed loop (peak), compaction at ${AT}s"
run closed "$TMP/changes-1.ndjson" --mode closed
PEAK=$(jq '.totals.throughput_rps' "$OUT_DIR/closed.json")
RATE=$(awk -v p="$PEAK" -v pct="$RATE_PCT" 'BEGIN { printf "%d", p * pct / 100 }')
echo "== open loop at $RATE req/s ($RATE_PCT % of the peak), compaction at ${AT}s"
run open "$TMP/changes-2.ndjson" --mode open --rate "$RATE" --timer spin
grep -h "compacted" "$OUT_DIR/writer.log" | tee -a "$OUT_DIR/summary.txt"
echo "reports and logs in $OUT_DIR"
