#!/usr/bin/env bash
# scimd benchmark harness (issue 7): one command builds the release binaries, seeds a fresh
# database, measures the bare-axum limit (W2, W3), then starts scimd on the same data and runs
# every workload (W1–W8) from a separate load-generator process on loopback.
#
#   scripts/bench.sh [--users 10000|1000000] [--backend sqlite|postgres] [--duration 10]
#                    [--only W2,W3] [--out DIR] [--baseline FILE] [--bulk-size 100]
#                    [--keep] [--no-build] [--pg-setting shared_buffers=2GB ...]
#
# --pg-setting (repeatable, postgres only) starts the throwaway cluster with that setting;
# without it PostgreSQL runs on its defaults.
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
PG_SETTINGS=()
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
        --pg-setting) PG_SETTINGS+=("$2"); shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
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
PG_OPTIONS=""
for setting in "${PG_SETTINGS[@]}"; do
    [[ "$setting" =~ ^[a-z_]+=[A-Za-z0-9._]+$ ]] \
        || { echo "--pg-setting takes name=value, got: $setting" >&2; exit 2; }
    PG_OPTIONS="$PG_OPTIONS -c $setting"
    COMMAND="$COMMAND --pg-setting $setting"
done

case "$BACKEND" in
    sqlite|postgres) ;;
    *) echo "unknown backend: $BACKEND" >&2; exit 2 ;;
esac

if [[ "$BUILD" == 1 ]]; then
    echo "== build (release)" >&2
    cargo build --release --bin scimd --bin scimd-bench >&2
fi

DATA="$(mktemp -d "${TMPDIR:-/tmp}/scimd-bench.XXXXXX")"
SERVER_PID=""
LIMIT_PID=""
PG_ROOT=""
PG_BIN=""
AS_PG=()
cleanup() {
    [[ -n "$LIMIT_PID" ]] && kill "$LIMIT_PID" 2>/dev/null && wait "$LIMIT_PID" 2>/dev/null || true
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    if [[ -n "$PG_ROOT" ]]; then
        # The throwaway cluster is always stopped; with --keep its directory stays.
        "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_ROOT/data" -m fast -w stop >/dev/null 2>&1 || true
        if [[ "$KEEP" == 1 ]]; then echo "PostgreSQL cluster kept in $PG_ROOT" >&2; else rm -rf "$PG_ROOT"; fi
    fi
    if [[ "$KEEP" == 1 ]]; then echo "data kept in $DATA" >&2; else rm -rf "$DATA"; fi
}
trap cleanup EXIT

NOTES=()
if [[ "$BACKEND" == postgres ]]; then
    # A throwaway PostgreSQL cluster on 127.0.0.1, as crates/scimd-store-postgres/src/
    # test_cluster.rs starts one: initdb + pg_ctl from Debian's `postgresql` package (newest
    # version under /usr/lib/postgresql), run as the `postgres` OS user when we are root
    # (PostgreSQL refuses to run as root), trust authentication, UTF8 without locale.
    #
    # Settings: unlike the test cluster (fsync, synchronous_commit and full_page_writes off),
    # every setting is PostgreSQL's default, durability included: each acknowledged write is
    # flushed to the WAL, as in production. docs/DEPLOYMENT.md asks only that max_connections
    # cover every node's pool (10) plus operator connections; the default 100 covers the
    # seed's pool (at most 64) and then scimd's (10), which never run together.
    # shared_buffers etc. stay at their defaults (128 MB) unless --pg-setting names them.
    if ! PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)" \
        || [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
        echo "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin:" \
             "install them with: apt-get install -y postgresql" >&2
        exit 3
    fi
    # Not inside $DATA: mktemp makes that 0700 and root's, closed to the postgres user.
    PG_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/scimd-bench-pg.XXXXXX")"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$PG_ROOT"
        AS_PG=(runuser -u postgres --)
    fi
    "${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_ROOT/data" --auth=trust -U postgres -E UTF8 \
        --no-locale >"$PG_ROOT/initdb.log" 2>&1 \
        || { cat "$PG_ROOT/initdb.log" >&2; exit 1; }
    # A random free port: a port taken between the check and the bind makes pg_ctl fail, so
    # try a few.
    PG_PORT=""
    for _ in 1 2 3 4 5; do
        candidate=$(( 40000 + RANDOM % 20000 ))
        if "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_ROOT/data" -l "$PG_ROOT/log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $candidate -k $PG_ROOT$PG_OPTIONS" start >/dev/null; then
            PG_PORT="$candidate"
            break
        fi
    done
    if [[ -z "$PG_PORT" ]]; then
        echo "starting PostgreSQL failed:" >&2; cat "$PG_ROOT/log" >&2; exit 1
    fi
    "${AS_PG[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres scimd
    DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/scimd"
    PG_VERSION="$("$PG_BIN/postgres" --version | awk '{print $3}')"
    echo "== PostgreSQL $PG_VERSION on 127.0.0.1:$PG_PORT ($PG_ROOT)" >&2
    NOTES+=(--note "PostgreSQL $PG_VERSION (${PG_OPTIONS:+settings:$PG_OPTIONS; otherwise }default settings, durable commits) runs on the same $(nproc) CPUs as scimd and the load generator, over loopback; peak RSS and server CPU are of scimd only.")
else
    DATABASE_URL="sqlite://$DATA/scimd.db"
fi

# A random port pair and a random token for this run.
PORT=$(( 20000 + RANDOM % 20000 ))
LIMIT_PORT=$(( PORT + 1 ))
export SCIMD_BOOTSTRAP_TOKEN="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

echo "== seed $USERS users into $DATABASE_URL (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
"$BIN/scimd-bench" seed --database "$DATABASE_URL" --users "$USERS" \
    --manifest "$DATA/manifest.json" >&2
if [[ "$BACKEND" == postgres ]]; then
    # A freshly bulk-loaded PostgreSQL database has no planner statistics (autovacuum analyzes
    # it about a minute later, in the middle of the measurement). Without them the listing
    # queries get plans slow enough that 16 concurrent W3 requests hold scimd's 10 pooled
    # connections past its 10 s acquire timeout and every later request fails with 500.
    # A production database has statistics, so analyze (and vacuum, for the visibility map)
    # as after any bulk load, and checkpoint so the seed's dirty pages are not written during
    # the measurement (SQLite's store checkpoints its WAL when the seed closes it).
    echo "== VACUUM (ANALYZE); CHECKPOINT" >&2
    "${AS_PG[@]}" "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d scimd \
        -v ON_ERROR_STOP=1 -c 'VACUUM (ANALYZE)' -c 'CHECKPOINT' >&2
fi

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
# --database takes precedence over the sqlite:// default under --data-dir.
"$BIN/scimd" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" --database "$DATABASE_URL" \
    >"$DATA/scimd.log" 2>&1 &
SERVER_PID=$!
"$BIN/scimd-bench" wait --target "127.0.0.1:$PORT"
"$BIN/scimd-bench" run --label scimd --target "127.0.0.1:$PORT" --server-pid "$SERVER_PID" \
    --manifest "$DATA/manifest.json" ${ONLY:+--only "$ONLY"} --duration "$DURATION" --bulk-size "$BULK_SIZE" \
    --backend "$BACKEND" --date "$DATE" --command "$COMMAND" "${NOTES[@]}" --out "$OUT/scimd.json"
echo "== server peak RSS over the whole run: $(grep VmHWM /proc/$SERVER_PID/status | awk '{print $2/1024 " MiB"}')" >&2

"$BIN/scimd-bench" report --results "$OUT/scimd.json" --limit "$OUT/limit.json" \
    ${BASELINE:+--baseline "$BASELINE"} >"$OUT/results.md"
{
    echo
    echo "Command: \`$COMMAND\` — $DATE — $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average before $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$OUT/results.md"
cat "$OUT/results.md"
echo "results: $OUT/scimd.json $OUT/limit.json $OUT/results.md" >&2
