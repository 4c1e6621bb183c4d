#!/usr/bin/env bash
# Starts scimd on a free loopback port with a throwaway data directory and runs
# scim2-tester (PyPI) against it. The checker lives in a local virtualenv (.venv-compliance).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-compliance
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import scim2_tester, httpx2" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "scim2-tester[httpx2]==0.5.2"
fi

cargo build --quiet --bin scimd
scimd="${CARGO_TARGET_DIR:-target}/debug/scimd"
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token="scimd_compliance_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
SCIMD_BOOTSTRAP_TOKEN="$token" "$scimd" serve --listen "127.0.0.1:$port" --data-dir "$data" \
  >"$data/scimd.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port/scim/v2/ServiceProviderConfig"; then
    break
  fi
  sleep 0.1
done

if ! "$venv/bin/python" tests/compliance/scim2_tester_check.py "http://127.0.0.1:$port/scim/v2" "$token"; then
  echo "--- scimd log ---"; tail -n 50 "$data/scimd.log"
  exit 1
fi
