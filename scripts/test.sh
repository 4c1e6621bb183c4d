#!/usr/bin/env bash
# The whole test suite: every crate's tests, then the server's HTTP suite again on
# PostgreSQL (when PostgreSQL is installed), then the third-party scim2-tester checker
# against a real scimd on the embedded SQLite default.
#
# PostgreSQL tests start a throwaway cluster with initdb/pg_ctl (Debian's `postgresql`
# package; PATH or /usr/lib/postgresql/*/bin). Without it they are skipped and this script
# says so; with SCIMD_REQUIRE_POSTGRES=1 (CI) a missing PostgreSQL is a failure instead.
set -euo pipefail
cd "$(dirname "$0")/.."

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

postgres_installed() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    return 0
  fi
  local bin
  for bin in /usr/lib/postgresql/*/bin; do
    if [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ]; then
      return 0
    fi
  done
  return 1
}

if postgres_installed || [ "${SCIMD_REQUIRE_POSTGRES:-}" = "1" ]; then
  echo "==> the server's HTTP suite on PostgreSQL (SCIMD_TEST_BACKEND=postgres)"
  # `cargo test` (one process) rather than nextest (one process per test) so that the
  # tests share one throwaway cluster instead of each running initdb. The CLI and
  # multi-node tests do not depend on the backend and already ran above.
  SCIMD_TEST_BACKEND=postgres cargo test -p scimd-server --test api -- \
    --skip cli:: --skip multinode::
else
  cat >&2 <<'MSG'

################################################################################
##  PostgreSQL not installed: PostgreSQL tests skipped                        ##
##  (the HTTP suite on PostgreSQL, the multi-node tests, the PostgreSQL       ##
##  backend's conformance tests). Install Debian's `postgresql` package, or   ##
##  set SCIMD_REQUIRE_POSTGRES=1 to make this a failure.                      ##
################################################################################

MSG
fi

scripts/compliance.sh
