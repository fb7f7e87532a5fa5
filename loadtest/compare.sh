#!/usr/bin/env bash
# permitd beside nginx (static files) and Redis, on this machine, in one run.
#
#   bash loadtest/compare.sh [--out DIR]          # default DIR: target/compare
#   COMPARE_QUICK=1 bash loadtest/compare.sh      # ~1 minute smoke run
#
# What it does, in order:
#   1. installs nginx, redis-server (+ redis-tools), jq and curl from Debian if missing
#      (services are not started by the install);
#   2. builds permitd and permit-load in release;
#   3. in a temp dir: `permitd gen --permits N --seed 1`, `permitd snapshot build`, and
#      `permitd export answers`: the exact bodies permitd serves, as files for nginx and as a
#      Redis mass insert;
#   4. starts permitd, nginx (one worker, sendfile, open_file_cache; root = the export) and
#      redis-server (no persistence, loaded with `redis-cli --pipe`), all on 127.0.0.1, each
#      pinned to core 0; the load tester runs pinned to core 1;
#   5. checks that permitd, nginx and Redis hand out byte-identical bodies for a few numbers;
#   6. for the QR-scan row (mix qr=100) and the lookup row (mix lookup=100), for each server:
#      a closed-loop peak run (same connections, warmup, duration) with the server's CPU time
#      from /proc/<pid>/stat over the measured window (nginx: master + worker), then open-loop
#      runs at 25 %, 50 % and 75 % of the slowest server's peak, for p50 / p99 / p99.9;
#   7. prints the table and permitd's ratios to nginx and Redis, and writes the JSON reports,
#      table.txt, summary.json and SVG charts into DIR.
# Every process it started is stopped on exit (also on failure or Ctrl-C). Only 127.0.0.1.
#
# Environment (defaults; COMPARE_QUICK=1 changes the starred ones):
#   COMPARE_PERMITS=100000*       data set size         COMPARE_SEED=1
#   COMPARE_DURATION=10s*         each measured run     COMPARE_WARMUP=2s*
#   COMPARE_CONNECTIONS=64        keep-alive connections of every run
#   COMPARE_LEVELS="25 50 75"     open-loop rates, % of the slowest server's peak
#   COMPARE_TIMER=spin            open-loop send timer: spin (precise; permit-load busy-waits its
#                                 own core) or sleep (tokio's ~1 ms timer: adds up to ~1 ms)
#   COMPARE_WORKLOADS="qr lookup" rows (mix kind=100 each)
#   COMPARE_SERVER_CPU=0          core the servers are pinned to
#   COMPARE_CLIENT_CPU=1          core permit-load is pinned to
#   COMPARE_PERMITD_PORT=18080  COMPARE_NGINX_PORT=18081  COMPARE_REDIS_PORT=16379
#   COMPARE_CHECK_NUMBERS=5       numbers whose bodies are compared byte for byte
#   COMPARE_READY_TIMEOUT=300     seconds to wait for each server to be ready
#   COMPARE_WAIT_IDLE=120*        before each run, wait up to this many seconds for the machine
#                                 to be idle (other work on a shared machine skews the numbers)
#   COMPARE_MAX_OTHERS=0.1        a run during which other work kept more cores than this busy
#   COMPARE_RETRIES=2*            is repeated (after waiting for quiet) up to this many times
#   COMPARE_KEEP_TMP=0            1 keeps the temp dir (data, export, logs) for a look
#   COMPARE_SKIP_BUILD=0          1 uses the release binaries as they are
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_DIR="$ROOT/target/compare"

usage() { sed -n '2,40p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT_DIR=${2:?--out needs a directory}; shift 2 ;;
        --out=*) OUT_DIR=${1#--out=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

QUICK=${COMPARE_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    PERMITS=${COMPARE_PERMITS:-20000}
    DURATION=${COMPARE_DURATION:-1500ms}
    WARMUP=${COMPARE_WARMUP:-500ms}
    WAIT_IDLE=${COMPARE_WAIT_IDLE:-0}
    RETRIES=${COMPARE_RETRIES:-0}
else
    PERMITS=${COMPARE_PERMITS:-100000}
    DURATION=${COMPARE_DURATION:-10s}
    WARMUP=${COMPARE_WARMUP:-2s}
    WAIT_IDLE=${COMPARE_WAIT_IDLE:-120}
    RETRIES=${COMPARE_RETRIES:-2}
fi
MAX_OTHERS=${COMPARE_MAX_OTHERS:-0.1}
TIMER=${COMPARE_TIMER:-spin}
SEED=${COMPARE_SEED:-1}
CONNECTIONS=${COMPARE_CONNECTIONS:-64}
LEVELS=${COMPARE_LEVELS:-25 50 75}
WORKLOADS=${COMPARE_WORKLOADS:-qr lookup}
SERVER_CPU=${COMPARE_SERVER_CPU:-0}
CLIENT_CPU=${COMPARE_CLIENT_CPU:-1}
PERMITD_PORT=${COMPARE_PERMITD_PORT:-18080}
NGINX_PORT=${COMPARE_NGINX_PORT:-18081}
REDIS_PORT=${COMPARE_REDIS_PORT:-16379}
CHECK_NUMBERS=${COMPARE_CHECK_NUMBERS:-5}
READY_TIMEOUT=${COMPARE_READY_TIMEOUT:-300}
SERVERS="permitd nginx redis"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'compare.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- 1. tools
need_install=()
command -v nginx > /dev/null || [ -x /usr/sbin/nginx ] || need_install+=(nginx)
command -v redis-server > /dev/null || need_install+=(redis-server)
command -v redis-cli > /dev/null || need_install+=(redis-tools)
command -v jq > /dev/null || need_install+=(jq)
command -v curl > /dev/null || need_install+=(curl)
command -v taskset > /dev/null || need_install+=(util-linux)
command -v pgrep > /dev/null || need_install+=(procps)
if [ ${#need_install[@]} -gt 0 ]; then
    log "installing ${need_install[*]} (Debian packages)"
    [ "$(id -u)" = 0 ] || die "installing packages needs root; install ${need_install[*]} first"
    # Installing must not start system-wide nginx/redis services: a policy-rc.d that refuses
    # service starts is put in place for the install if there is none.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${need_install[@]}" > /dev/null
    if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
CLK_TCK=$(getconf CLK_TCK)
cores=$(nproc --all)
[ "$cores" -ge 2 ] || die "needs 2 cores (servers on core $SERVER_CPU, load tester on core $CLIENT_CPU); this machine has $cores"

# ---------------------------------------------------------------- 2. build
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PERMITD=$TARGET_DIR/release/permitd
LOAD=$TARGET_DIR/release/permit-load
if [ "${COMPARE_SKIP_BUILD:-0}" != 1 ]; then
    log "building permitd and permit-load (release)"
    (cd "$ROOT" && cargo build --release --quiet -p permitd -p permit-load --bins)
fi
[ -x "$PERMITD" ] && [ -x "$LOAD" ] || die "no release binaries in $TARGET_DIR/release"

# ---------------------------------------------------------------- processes and cleanup
TMP=$(mktemp -d /tmp/permitd-compare.XXXXXX)
PERMITD_PID=""
REDIS_PID=""
NGINX_PIDFILE="$TMP/nginx/nginx.pid"

stop_pid() { # pid name: TERM, wait up to 10 s, then KILL
    local pid=$1 name=$2 i
    [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null || return 0
    kill -TERM "$pid" 2> /dev/null || true
    for i in $(seq 100); do
        kill -0 "$pid" 2> /dev/null || return 0
        sleep 0.1
    done
    echo "compare.sh: $name (pid $pid) did not stop; killing it" >&2
    kill -KILL "$pid" 2> /dev/null || true
}

cleanup() {
    local status=$?
    set +e
    if [ -s "$NGINX_PIDFILE" ]; then
        local master
        master=$(cat "$NGINX_PIDFILE")
        local workers
        workers=$(pgrep -P "$master" 2> /dev/null)
        kill -QUIT "$master" 2> /dev/null
        for _ in $(seq 100); do
            kill -0 "$master" 2> /dev/null || break
            sleep 0.1
        done
        stop_pid "$master" "nginx master"
        for w in $workers; do stop_pid "$w" "nginx worker"; done
    fi
    stop_pid "$REDIS_PID" redis-server
    stop_pid "$PERMITD_PID" permitd
    if [ "$status" != 0 ]; then
        for f in "$TMP"/permitd.log "$TMP"/nginx/error.log "$TMP"/redis/redis.log; do
            [ -s "$f" ] && { echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; }
        done
    fi
    if [ "${COMPARE_KEEP_TMP:-0}" = 1 ]; then
        echo "compare.sh: kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
for port in "$PERMITD_PORT" "$NGINX_PORT" "$REDIS_PORT"; do
    port_free "$port" || die "127.0.0.1:$port is in use; set COMPARE_*_PORT"
done

wait_until() { # description command...: retry for READY_TIMEOUT seconds
    local what=$1 i
    shift
    for i in $(seq $((READY_TIMEOUT * 10))); do
        "$@" > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$what not ready after ${READY_TIMEOUT}s"
}

# ---------------------------------------------------------------- 3. data, snapshot, export
log "generating $PERMITS permits (seed $SEED), building the snapshot, exporting the answers into $TMP"
FEED=$TMP/feed.ndjson
DATA=$TMP/data
WWW=$TMP/www
"$PERMITD" gen --permits "$PERMITS" --seed "$SEED" --out "$FEED" 2>&1 | tail -n 1
"$PERMITD" snapshot build --input "$FEED" --data "$DATA" 2>&1 | tail -n 1
"$PERMITD" export answers --data "$DATA" --out "$WWW" 2>&1 | tail -n 1
RESP_FILE=$WWW/redis-mass-insert.resp
[ -s "$RESP_FILE" ] || die "the export wrote no $RESP_FILE"
EXPORTED=$(find "$WWW/q" -type f | wc -l)
# Flush the export's dirty pages now: otherwise kernel writeback competes with the first runs.
sync

# ---------------------------------------------------------------- 4. servers
log "starting permitd on 127.0.0.1:$PERMITD_PORT (core $SERVER_CPU)"
taskset -c "$SERVER_CPU" "$PERMITD" serve --data "$DATA" --listen "127.0.0.1:$PERMITD_PORT" \
    > "$TMP/permitd.log" 2>&1 &
PERMITD_PID=$!
wait_until "permitd /readyz" curl -fsS "http://127.0.0.1:$PERMITD_PORT/readyz"

log "starting nginx on 127.0.0.1:$NGINX_PORT (core $SERVER_CPU, one worker)"
# The open file cache holds a descriptor per cached file, so it cannot hold more files than
# the worker may open: the hard RLIMIT_NOFILE (raising it needs CAP_SYS_RESOURCE) less room for
# connections and logs. Past that nginx evicts the least recently used entries.
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
FILE_CACHE_MAX=$(( NOFILE - 1000 < 200000 ? NOFILE - 1000 : 200000 ))
if [ "$FILE_CACHE_MAX" -lt 200000 ]; then
    echo "open_file_cache max=$FILE_CACHE_MAX, not 200000: the hard open-files limit here is $NOFILE" >&2
fi
mkdir -p "$TMP/nginx/tmp"
cat > "$TMP/nginx/nginx.conf" << EOF
# Generated by loadtest/compare.sh: static files, as fast as nginx serves them.
daemon on;
master_process on;
user root;
worker_processes 1;
# The open file cache keeps a descriptor per cached file: far more than the default 1024.
worker_rlimit_nofile $NOFILE;
pid $NGINX_PIDFILE;
error_log $TMP/nginx/error.log warn;
events {
    worker_connections 4096;
}
http {
    sendfile on;
    tcp_nopush on;
    open_file_cache max=$FILE_CACHE_MAX inactive=60s;
    open_file_cache_valid 3600s;
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    default_type application/json;
    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path $TMP/nginx/tmp/proxy;
    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
    scgi_temp_path $TMP/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WWW;
    }
}
EOF
taskset -c "$SERVER_CPU" "$NGINX" -p "$TMP/nginx/" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log"
wait_until "nginx pid file" test -s "$NGINX_PIDFILE"
NGINX_MASTER=$(cat "$NGINX_PIDFILE")
wait_until "nginx worker" pgrep -P "$NGINX_MASTER"
NGINX_WORKERS=$(pgrep -P "$NGINX_MASTER" | paste -sd, -)
FIRST=$(find "$WWW/q" -type f -printf '%f\n' -quit)
wait_until "nginx" curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/q/$FIRST"

log "starting redis-server on 127.0.0.1:$REDIS_PORT (core $SERVER_CPU, no persistence)"
mkdir -p "$TMP/redis"
taskset -c "$SERVER_CPU" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' \
    --appendonly no --daemonize no --protected-mode yes --dir "$TMP/redis" \
    --logfile "$TMP/redis/redis.log" > /dev/null 2>&1 &
REDIS_PID=$!
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
wait_until "redis-server" sh -c "redis-cli -h 127.0.0.1 -p $REDIS_PORT ping | grep -q PONG"
pipe_out=$(taskset -c "$SERVER_CPU" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --pipe < "$RESP_FILE")
echo "$pipe_out" | tail -n 1
echo "$pipe_out" | grep -q "errors: 0," || die "redis-cli --pipe reported errors: $pipe_out"
keys=$(rcli dbsize)
[ "$keys" = "$EXPORTED" ] || die "Redis holds $keys keys, the export $EXPORTED answers"

# ---------------------------------------------------------------- 5. same bytes everywhere
log "checking that permitd, nginx and Redis give byte-identical bodies ($CHECK_NUMBERS numbers)"
# Evenly spread over the sorted numbers: the first, the last and some between.
mapfile -t CHECK < <(find "$WWW/q" -type f -printf '%f\n' | sort | awk -v n="$CHECK_NUMBERS" \
    '{ a[NR] = $0 } END { for (i = 1; i <= n && i <= NR; i++) print a[int(1 + (NR - 1) * (i - 1) / (n > 1 ? n - 1 : 1))] }')
mkdir -p "$TMP/check"
for number in "${CHECK[@]}"; do
    for route in q v1/permits; do
        curl -fsS -H 'Accept: application/json' -o "$TMP/check/permitd" \
            "http://127.0.0.1:$PERMITD_PORT/$route/$number" \
            || die "permitd: GET /$route/$number failed"
        curl -fsS -o "$TMP/check/nginx" "http://127.0.0.1:$NGINX_PORT/$route/$number" \
            || die "nginx: GET /$route/$number failed"
        cmp "$TMP/check/permitd" "$TMP/check/nginx" \
            || die "BODIES DIFFER for /$route/$number: permitd and nginx (the export) do not serve the same bytes"
    done
    # redis-cli prints the raw value and a newline.
    rcli --raw get "q/$number" | head -c -1 > "$TMP/check/redis"
    cmp "$TMP/check/permitd" "$TMP/check/redis" \
        || die "BODIES DIFFER for q/$number: permitd and Redis do not hold the same bytes"
done
echo "identical: ${CHECK[*]} (/q/ and /v1/permits/ from permitd and nginx, q/ from Redis)"

# ---------------------------------------------------------------- 6. runs
# Busy cores of the whole machine over the next second (from /proc/stat).
busy_cores() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
    awk -v a="$a" -v b="$b" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz }'
}

# Waits (up to COMPARE_WAIT_IDLE s) until other work leaves the machine (< 0.1 cores busy).
wait_idle() {
    local limit=$WAIT_IDLE waited=0 busy
    [ "$limit" -gt 0 ] || return 0
    while busy=$(busy_cores) && awk -v b="$busy" 'BEGIN { exit !(b >= 0.1) }'; do
        [ "$waited" -lt "$limit" ] || { echo "    machine still busy ($busy cores); measuring anyway" >&2; return 0; }
        [ "$waited" = 0 ] && echo "    waiting for the machine to be idle ($busy cores busy)" >&2
        sleep 4
        waited=$((waited + 5))
    done
}

BUSY_BEFORE=$(busy_cores)
if awk -v b="$BUSY_BEFORE" 'BEGIN { exit !(b >= 0.1) }'; then
    echo "compare.sh: WARNING: other work keeps $BUSY_BEFORE cores of this machine busy; the runs will share the cores with it (see 'other work' per run; COMPARE_WAIT_IDLE=SECONDS waits for quiet)" >&2
fi
mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/run-*.json "$OUT_DIR"/compare*.svg "$OUT_DIR"/table.txt "$OUT_DIR"/summary.json
WARNINGS=()
DISTURBED=()

url_of() {
    case $1 in
        permitd) echo "http://127.0.0.1:$PERMITD_PORT" ;;
        nginx) echo "http://127.0.0.1:$NGINX_PORT" ;;
        redis) echo "redis://127.0.0.1:$REDIS_PORT" ;;
    esac
}
protocol_of() { [ "$1" = redis ] && echo redis || echo http; }
pids_of() {
    case $1 in
        permitd) echo "$PERMITD_PID" ;;
        nginx) echo "$NGINX_MASTER,$NGINX_WORKERS" ;;
        redis) echo "$REDIS_PID" ;;
    esac
}

# load SERVER WORKLOAD NAME LABEL [--mode open --rate R]
load() {
    local server=$1 workload=$2 name=$3 label=$4
    shift 4
    local report="$OUT_DIR/run-$server-$workload-$name.json" attempt others
    for attempt in $(seq 0 "$RETRIES"); do
        wait_idle
        taskset -c "$CLIENT_CPU" "$LOAD" run --quiet \
            --protocol "$(protocol_of "$server")" --url "$(url_of "$server")" \
            --data "$FEED" --seed "$SEED" --mix "$workload=100" \
            --connections "$CONNECTIONS" --threads 1 \
            --duration "$DURATION" --warmup "$WARMUP" \
            --server-pid "$(pids_of "$server")" --clk-tck "$CLK_TCK" \
            --label "$label" --report "$report" "$@" > "$TMP/last-run.txt" 2> "$TMP/last-run.err" \
            || { cat "$TMP/last-run.txt" "$TMP/last-run.err" >&2; die "permit-load failed: $label"; }
        others=$(jq '.cpu.others_cores // 0' "$report")
        awk -v o="$others" -v m="$MAX_OTHERS" 'BEGIN { exit !(o > m) }' || break
        if [ "$attempt" -lt "$RETRIES" ]; then
            echo "    other work kept $others cores busy during the run; repeating it" >&2
        else
            DISTURBED+=("$label: other work kept $others cores busy during the run (kept after $RETRIES repeats)")
        fi
    done
    local bad
    bad=$(jq -r '"\(.totals.unexpected) unexpected, \(.totals.errors) errors"' "$report")
    [ "$bad" = "0 unexpected, 0 errors" ] || WARNINGS+=("$label: $bad (see $report)")
    jq -r '"    \(.label): \(.totals.throughput_rps | floor) req/s, p50 \(.latency_us.p50) µs, p99 \(.latency_us.p99) µs, server \(.cpu.server.us_per_request) µs/req (\(.cpu.server.cores) cores), permit-load \(.cpu.client.cores) cores, other work \(.cpu.others_cores) cores"' "$report" >&2
}

declare -A PEAK
for workload in $WORKLOADS; do
    for server in $SERVERS; do
        log "peak: $server, $workload=100, closed loop, $CONNECTIONS connections, $DURATION (+$WARMUP warmup)"
        load "$server" "$workload" peak "$server $workload peak"
        PEAK[$server.$workload]=$(jq '.totals.throughput_rps' "$OUT_DIR/run-$server-$workload-peak.json")
    done
done

declare -A SLOWEST SLOWEST_SERVER
for workload in $WORKLOADS; do
    SLOWEST[$workload]=""
    for server in $SERVERS; do
        rps=${PEAK[$server.$workload]}
        if [ -z "${SLOWEST[$workload]}" ] || awk -v a="$rps" -v b="${SLOWEST[$workload]}" 'BEGIN { exit !(a < b) }'; then
            SLOWEST[$workload]=$rps
            SLOWEST_SERVER[$workload]=$server
        fi
    done
    for level in $LEVELS; do
        rate=$(awk -v p="${SLOWEST[$workload]}" -v l="$level" 'BEGIN { r = int(p * l / 100); print (r < 1 ? 1 : r) }')
        for server in $SERVERS; do
            log "open loop: $server, $workload=100 at $rate req/s ($level % of ${SLOWEST_SERVER[$workload]}'s peak)"
            load "$server" "$workload" "open$level" "$server $workload $level% ($rate/s)" \
                --mode open --rate "$rate" --timer "$TIMER"
        done
    done
done

# ---------------------------------------------------------------- 7. table, ratios, charts
field() { jq -r "$2" "$OUT_DIR/run-$1.json"; }
{
    echo "permitd vs nginx (static files) vs Redis: $PERMITS permits, $CONNECTIONS connections, ${DURATION} runs (+${WARMUP} warmup)"
    echo "servers pinned to core $SERVER_CPU, permit-load to core $CLIENT_CPU; $(nproc --all) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "$("$NGINX" -v 2>&1 | sed 's/.*: //'), Redis $(redis-server --version | sed 's/.* v=\([^ ]*\).*/\1/'), permitd $(cd "$ROOT" && git rev-parse --short HEAD 2> /dev/null || echo '?')$(cd "$ROOT" && git diff --quiet HEAD 2> /dev/null || echo '+changes')"
    echo
    header="%-8s %-7s %11s %11s %10s %10s %7s"
    args=(server workload "peak req/s" "CPU µs/req" "srv cores" "load cores" "others")
    for level in $LEVELS; do
        header+=" %10s"
        args+=("p99@$level%")
    done
    # shellcheck disable=SC2059
    printf "$header\n" "${args[@]}"
    for workload in $WORKLOADS; do
        for server in $SERVERS; do
            row=$(printf '%-8s %-7s %11.0f %11.2f %10.2f %10.2f %7.2f' "$server" "$workload" \
                "$(field "$server-$workload-peak" '.totals.throughput_rps')" \
                "$(field "$server-$workload-peak" '.cpu.server.us_per_request')" \
                "$(field "$server-$workload-peak" '.cpu.server.cores')" \
                "$(field "$server-$workload-peak" '.cpu.client.cores')" \
                "$(field "$server-$workload-peak" '.cpu.others_cores // 0')")
            for level in $LEVELS; do
                row+=$(printf ' %8s µs' "$(field "$server-$workload-open$level" '.latency_us.p99')")
            done
            echo "$row"
        done
    done
    echo
    echo "open loop (--timer $TIMER), latency from the intended send time (µs): p50 / p99 / p99.9"
    for workload in $WORKLOADS; do
        for level in $LEVELS; do
            rate=$(field "permitd-$workload-open$level" '.config.rate_per_s')
            line=$(printf '%-7s %3s%% = %7s req/s:' "$workload" "$level" "$rate")
            for server in $SERVERS; do
                line+=$(printf '  %s %s' "$server" \
                    "$(field "$server-$workload-open$level" '"\(.latency_us.p50)/\(.latency_us.p99)/\(.latency_us.p999)"')")
            done
            echo "$line"
        done
    done
    echo
    echo "permitd's ratios (throughput: permitd ÷ other, higher is better for permitd; CPU per request: permitd ÷ other, lower is better)"
    for workload in $WORKLOADS; do
        for other in nginx redis; do
            awk -v w="$workload" -v o="$other" \
                -v pt="$(field "permitd-$workload-peak" '.totals.throughput_rps')" \
                -v ot="$(field "$other-$workload-peak" '.totals.throughput_rps')" \
                -v pc="$(field "permitd-$workload-peak" '.cpu.server.us_per_request')" \
                -v oc="$(field "$other-$workload-peak" '.cpu.server.us_per_request')" \
                'BEGIN { printf "%-7s permitd / %-6s throughput %5.2f×   CPU per request %5.2f×\n", w, o, (ot > 0 ? pt / ot : 0), (oc > 0 ? pc / oc : 0) }'
        done
    done
    echo
    echo "srv cores / load cores / others: cores busy over the peak's measured window with the server, permit-load, and anything else"
    echo "notes:"
    max_others=$(jq -rs 'map(.cpu.others_cores // 0) | max' "$OUT_DIR"/run-*.json)
    if awk -v o="$max_others" 'BEGIN { exit !(o >= 0.05) }'; then
        echo "  other work on the machine used up to $max_others cores during the kept runs (machine busy $BUSY_BEFORE cores before they began)"
    fi
    for d in "${DISTURBED[@]}"; do echo "  DISTURBED: $d"; done
    top=${LEVELS##* }
    for workload in $WORKLOADS; do
        late=""
        for server in $SERVERS; do
            client=$(field "$server-$workload-peak" '.cpu.client.cores')
            srv=$(field "$server-$workload-peak" '.cpu.server.cores')
            others=$(field "$server-$workload-peak" '.cpu.others_cores // 0')
            if awk -v c="$client" 'BEGIN { exit !(c >= 0.9) }'; then
                echo "  $server $workload peak: permit-load used $client of its core: the load tester was (near) saturated, so this peak is a lower bound"
            fi
            if awk -v s="$srv" -v o="$others" 'BEGIN { exit !(s < 0.9 && o < 0.05) }'; then
                echo "  $server $workload peak: the server used only $srv of its core and permit-load $client of its own: neither core was the limit (round trips were)"
            fi
            late+=" $server $(field "$server-$workload-open$top" '"\(.totals.late_sends) of \(.totals.sent)"'),"
        done
        echo "  $workload $top%: requests sent >1 ms after their intended time (the lag is in the latency):${late%,}"
    done
    if [ "$QUICK" = 1 ]; then
        echo "  COMPARE_QUICK=1: a smoke run (small data set, short runs); do not quote these numbers"
    fi
    echo "  Redis answers both rows from the same key q/{number} (both routes have the same body)"
    if [ "$FILE_CACHE_MAX" -lt "$EXPORTED" ]; then
        echo "  nginx: open_file_cache max=$FILE_CACHE_MAX (hard open-files limit $NOFILE) < $EXPORTED files per route: the Zipf tail is opened from the page cache per request"
    fi
} | tee "$OUT_DIR/table.txt"

jq -s '{
    permits: '"$PERMITS"', connections: '"$CONNECTIONS"', duration: "'"$DURATION"'", warmup: "'"$WARMUP"'",
    runs: [ .[] | {
        label: .label, url: .config.url, protocol: .config.protocol, mode: .config.mode,
        rate_per_s: .config.rate_per_s, mix: .config.workload.mix,
        throughput_rps: .totals.throughput_rps, unexpected: .totals.unexpected, errors: .totals.errors,
        p50_us: .latency_us.p50, p99_us: .latency_us.p99, p999_us: .latency_us.p999,
        server_cpu_us_per_request: .cpu.server.us_per_request, server_cores: .cpu.server.cores,
        client_cores: .cpu.client.cores, others_cores: .cpu.others_cores
    } ]
}' "$OUT_DIR"/run-*.json > "$OUT_DIR/summary.json"

charts=()
for workload in $WORKLOADS; do
    reports=()
    for server in $SERVERS; do
        reports+=("$OUT_DIR/run-$server-$workload-peak.json")
        for level in $LEVELS; do reports+=("$OUT_DIR/run-$server-$workload-open$level.json"); done
    done
    if [ ${#reports[@]} -le 12 ]; then
        "$LOAD" chart --out "$OUT_DIR/compare-$workload.svg" "${reports[@]}" 2> /dev/null
        charts+=("$OUT_DIR/compare-$workload.svg")
    fi
done
# One picture of everything that fits on a chart: the peaks, and the middle open-loop level.
mid=$(echo "$LEVELS" | awk '{ print $(int((NF + 1) / 2)) }')
combined=()
for workload in $WORKLOADS; do
    for server in $SERVERS; do
        combined+=("$OUT_DIR/run-$server-$workload-peak.json" "$OUT_DIR/run-$server-$workload-open$mid.json")
    done
done
if [ ${#combined[@]} -le 12 ]; then
    "$LOAD" chart --out "$OUT_DIR/compare.svg" "${combined[@]}" 2> /dev/null
    charts+=("$OUT_DIR/compare.svg")
fi
log "wrote $(ls "$OUT_DIR"/run-*.json | wc -l) reports, table.txt, summary.json and ${charts[*]##*/} into $OUT_DIR"

if [ ${#WARNINGS[@]} -gt 0 ]; then
    printf 'compare.sh: RUNS WITH UNEXPECTED ANSWERS OR ERRORS:\n' >&2
    printf '  %s\n' "${WARNINGS[@]}" >&2
    exit 1
fi
