#!/usr/bin/env bash
# Certificate issuance throughput (issue 16). See docs/benchmarks.md.
#
#   bash bench/pki.sh
#
# Starts a dev server on 127.0.0.1 (fresh data dir), creates an EC P-256 root CA, then with wrk
# POSTs /v1/pki/certs at concurrency BENCH_PKI_CONC (default 16) for BENCH_DURATION seconds
# (default 10): every request generates an EC P-256 key, signs a leaf, and commits the
# certificate row, its secret version (certificate + key, sealed) and its audit entry in one
# transaction before answering. Each wrk thread issues distinct common names, so the
# certificates land on distinct secrets. Prints wrk's summary (requests/s, latency).
#
# Knobs: BENCH_DURATION, BENCH_PKI_CONC, BENCH_PKI_THREADS (wrk threads, default 2),
#        SCAIVAULT_BIN (a binary instead of building the release one).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${BENCH_DURATION:-10}
CONC=${BENCH_PKI_CONC:-16}
THREADS=${BENCH_PKI_THREADS:-2}
TOKEN="skt_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
command -v curl >/dev/null || die "curl is needed"
command -v jq >/dev/null || die "jq is needed"

if [ -n "${SCAIVAULT_BIN:-}" ]; then
  BIN=$SCAIVAULT_BIN
else
  cargo build --release -p scaivault
  TARGET_DIR=$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  BIN=${TARGET_DIR:-$PWD/target}/release/scaivault
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scaivault-pki-bench.XXXXXX")
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" server --dev --listen 127.0.0.1:0 --data-dir "$WORK/data" --dev-root-token "$TOKEN" \
  >"$WORK/stdout" 2>"$WORK/server.log" &
SERVER_PID=$!
URL=
for _ in $(seq 1 600); do
  URL=$(sed -n 's/^ScaiVault listening on //p' "$WORK/stdout" | head -1)
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited: $(cat "$WORK/server.log")"
  sleep 0.1
done
[ -n "$URL" ] || die "the server did not start"

CA=$(curl -sf -H "Authorization: Bearer $TOKEN" -d '{"name":"bench","common_name":"Bench CA"}' \
  "$URL/v1/pki/cas" | jq -r .id)
[ -n "$CA" ] && [ "$CA" != null ] || die "could not create the CA"

cat >"$WORK/issue.lua" <<LUA
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end
local n = 0
function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer $TOKEN"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  n = n + 1
  local body = string.format(
    '{"ca_id":"$CA","common_name":"t%d-n%d.bench.example","validity_days":30}', tid, n)
  return wrk.format(nil, "/v1/pki/certs", nil, body)
end
function response(status, headers, body)
  if status ~= 201 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
LUA

echo "== POST /v1/pki/certs (EC P-256, stored and audited), c=$CONC, ${DURATION}s"
wrk -t"$THREADS" -c"$CONC" -d"${DURATION}s" --latency -s "$WORK/issue.lua" "$URL"
COUNT=$(curl -sf -H "Authorization: Bearer $TOKEN" "$URL/v1/pki/certs?ca_id=$CA&limit=1" \
  | jq -r '.certificates | length')
echo "issued certificates are listed: $COUNT (first page of 1)"
