#!/usr/bin/env bash
# Event delivery benchmark (issue 8): events/s and latency from an acknowledged write to a
# waiting long-poller and to a webhook receiver. See docs/benchmarks.md.
#
#   bash bench/events.sh            # knobs: EVENTS_WRITES (2000), EVENTS_CONCURRENCY (16),
#                                   # SCAIVAULT_BIN (skip the build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is required"
if [ -n "${SCAIVAULT_BIN:-}" ]; then
  BIN=$SCAIVAULT_BIN
else
  cargo build --release -p scaivault
  TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  BIN=${TARGET_DIR:-target}/release/scaivault
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/scaivault-events.XXXXXX")
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cat >"$WORK/scaivault.toml" <<TOML
listen = "127.0.0.1:0"
allow_plain_http = true
data_dir = "$WORK/data"
root_key_file = "$WORK/root.key"
webhook_allowed_networks = ["127.0.0.0/8"]
TOML
TOKEN=$("$BIN" operator init --config "$WORK/scaivault.toml" | grep '^skt_') || die "operator init failed"
"$BIN" server --config "$WORK/scaivault.toml" >"$WORK/out" 2>"$WORK/err" &
SERVER_PID=$!
URL=
for _ in $(seq 1 300); do
  URL=$(sed -n 's/^ScaiVault listening on \(http[^ ]*\).*/\1/p' "$WORK/out" | head -n1)
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || die "the server did not start"
python3 bench/events.py "$URL" "$TOKEN" "${EVENTS_WRITES:-2000}" "${EVENTS_CONCURRENCY:-16}"
