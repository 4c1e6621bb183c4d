#!/usr/bin/env bash
# scimd benchmark harness (issue 7): one command builds the release binaries, seeds a fresh
# database, measures the bare-axum limit (W2, W3), then starts scimd on the same data and runs
# every workload (W1–W8) from a separate load-generator process on loopback.
#
#   scripts/bench.sh [--users 10000|1000000] [--backend sqlite|postgres] [--duration 10]
#                    [--only W2,W3] [--out DIR] [--baseline FILE] [--bulk-size 100]
#                    [--keep] [--no-build]
#
# Writes DIR/scimd.json, DIR/limit.json (machine-readable) and DIR/results.md (the table for
# docs/PERFORMANCE.md). DIR defaults to target-bench/bench-results/<users>-<backend>.
set -euo pipefail

USERS=10000
BACKEND=sqlite
DURATION=10
ONLY=""
OUT=""
BASELINE=""
KEEP=0
BUILD=1
BULK_SIZE=100
while [[ $# -gt 0 ]]; do
    case "$1" in
        --users) USERS="$2"; shift 2 ;;
        --backend) BACKEND="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --baseline) BASELINE="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --bulk-size) BULK_SIZE="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$CARGO_TARGET_DIR/release"
OUT="${OUT:-$CARGO_TARGET_DIR/bench-results/$USERS-$BACKEND}"
mkdir -p "$OUT"
COMMAND="scripts/bench.sh --users $USERS --backend $BACKEND --duration $DURATION${ONLY:+ --only $ONLY}"
[[ "$BULK_SIZE" != 100 ]] && COMMAND="$COMMAND --bulk-size $BULK_SIZE"

case "$BACKEND" in
    sqlite) ;;
    postgres)
        # scimd serves postgres:// URLs, but `scimd-bench seed` writes through SqliteStore only.
        echo "not yet measured: PostgreSQL seeding in scimd-bench is pending (seed writes through SqliteStore only)" >&2
        exit 3 ;;
    *) echo "unknown backend: $BACKEND" >&2; exit 2 ;;
esac

if [[ "$BUILD" == 1 ]]; then
    echo "== build (release)" >&2
    cargo build --release --bin scimd --bin scimd-bench >&2
fi

DATA="$(mktemp -d "${TMPDIR:-/tmp}/scimd-bench.XXXXXX")"
SERVER_PID=""
LIMIT_PID=""
cleanup() {
    [[ -n "$LIMIT_PID" ]] && kill "$LIMIT_PID" 2>/dev/null && wait "$LIMIT_PID" 2>/dev/null || true
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    if [[ "$KEEP" == 1 ]]; then echo "data kept in $DATA" >&2; else rm -rf "$DATA"; fi
}
trap cleanup EXIT

# A random port pair and a random token for this run.
PORT=$(( 20000 + RANDOM % 20000 ))
LIMIT_PORT=$(( PORT + 1 ))
export SCIMD_BOOTSTRAP_TOKEN="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

echo "== seed $USERS users into $DATA (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
"$BIN/scimd-bench" seed --database "sqlite://$DATA/scimd.db" --users "$USERS" \
    --manifest "$DATA/manifest.json" >&2

echo "== limit (bare axum) on 127.0.0.1:$LIMIT_PORT" >&2
"$BIN/scimd-bench" limit --listen "127.0.0.1:$LIMIT_PORT" --manifest "$DATA/manifest.json" &
LIMIT_PID=$!
"$BIN/scimd-bench" wait --target "127.0.0.1:$LIMIT_PORT" --timeout 600
"$BIN/scimd-bench" run --label limit --target "127.0.0.1:$LIMIT_PORT" --server-pid "$LIMIT_PID" \
    --manifest "$DATA/manifest.json" --only W2,W3 --duration "$DURATION" \
    --backend "$BACKEND" --date "$DATE" --command "$COMMAND" --out "$OUT/limit.json"
kill "$LIMIT_PID"; wait "$LIMIT_PID" 2>/dev/null || true; LIMIT_PID=""

echo "== scimd on 127.0.0.1:$PORT" >&2
# Request logs go to a file (as in production, not a terminal); RUST_LOG is left at its default.
"$BIN/scimd" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" >"$DATA/scimd.log" 2>&1 &
SERVER_PID=$!
"$BIN/scimd-bench" wait --target "127.0.0.1:$PORT"
"$BIN/scimd-bench" run --label scimd --target "127.0.0.1:$PORT" --server-pid "$SERVER_PID" \
    --manifest "$DATA/manifest.json" ${ONLY:+--only "$ONLY"} --duration "$DURATION" --bulk-size "$BULK_SIZE" \
    --backend "$BACKEND" --date "$DATE" --command "$COMMAND" --out "$OUT/scimd.json"
echo "== server peak RSS over the whole run: $(grep VmHWM /proc/$SERVER_PID/status | awk '{print $2/1024 " MiB"}')" >&2

"$BIN/scimd-bench" report --results "$OUT/scimd.json" --limit "$OUT/limit.json" \
    ${BASELINE:+--baseline "$BASELINE"} >"$OUT/results.md"
{
    echo
    echo "Command: \`$COMMAND\` — $DATE — $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average before $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$OUT/results.md"
cat "$OUT/results.md"
echo "results: $OUT/scimd.json $OUT/limit.json $OUT/results.md" >&2
