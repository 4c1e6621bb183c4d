#!/usr/bin/env bash
# The whole test suite: every crate's tests, then the third-party scim2-tester checker
# against a real scimd on the embedded SQLite default.
set -euo pipefail
cd "$(dirname "$0")/.."

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

scripts/compliance.sh
