#!/usr/bin/env bash
# ACME orders end to end (issue 21). See docs/benchmarks.md.
#
#   bash bench/acme.sh
#
# A dev server (fresh data dir, embedded store), pebble (Debian's package) as the CA with
# PEBBLE_VA_NOSLEEP=1 and knot as the authoritative server of bench.test taking RFC 2136
# updates. BENCH_ACME_COUNT orders (default 40) are placed at once, half http-01 (answered by
# the server's own listener), half dns-01 (TXT records through knot, propagation checked on
# knot), and the time until every order is `valid` is measured: orders per minute and the
# average order's latency. What this measures is ScaiVault's side (claims, sealing, the store,
# the worker's concurrency of 4 per node) against a CA that answers at once; a public CA's
# validation takes seconds and its rate limits dominate.
#
# Knobs: BENCH_ACME_COUNT, SCAIVAULT_BIN.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

COUNT=${BENCH_ACME_COUNT:-40}
TOKEN="skt_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
ZONE=bench.test

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
for tool in curl jq openssl pebble knotd keymgr python3; do
  command -v "$tool" >/dev/null || die "$tool is needed (apt-get install pebble knot curl jq openssl)"
done

if [ -n "${SCAIVAULT_BIN:-}" ]; then
  BIN=$SCAIVAULT_BIN
else
  cargo build --release -p scaivault
  TARGET_DIR=$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  BIN=${TARGET_DIR:-$PWD/target}/release/scaivault
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scaivault-acme-bench.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; die "nothing listens on $1"; }
now_ms() { date +%s%3N; }

# knot: the zone, every bench name resolving to 127.0.0.1, updates by TSIG.
DNS_PORT=$(free_port)
SECRET=$(keymgr -t bench-key hmac-sha256 | sed -n 's/^ *secret: *//p')
{
  printf '$ORIGIN %s.\n$TTL 60\n@ IN SOA ns.%s. hostmaster.%s. 1 60 60 3600 60\n' "$ZONE" "$ZONE" "$ZONE"
  printf '@ IN NS ns.%s.\nns IN A 127.0.0.1\n* IN A 127.0.0.1\n' "$ZONE"
} >"$WORK/zone.db"
cat >"$WORK/knot.conf" <<CONF
server:
  rundir: $WORK
  listen: 127.0.0.1@$DNS_PORT
log:
  - target: stderr
    any: warning
database:
  storage: $WORK
key:
  - id: bench-key
    algorithm: hmac-sha256
    secret: $SECRET
acl:
  - id: update
    key: bench-key
    action: update
zone:
  - domain: $ZONE
    storage: $WORK
    file: zone.db
    acl: update
    zonefile-sync: -1
CONF
knotd -c "$WORK/knot.conf" 2>>"$WORK/knot.log" &
PIDS+=($!)
wait_port "$DNS_PORT"

# The server first: pebble validates http-01 on its port.
"$BIN" server --dev --listen 127.0.0.1:0 --data-dir "$WORK/data" --dev-root-token "$TOKEN" \
  >"$WORK/stdout" 2>>"$WORK/server.log" &
PIDS+=($!)
for _ in $(seq 1 600); do grep -q "listening on" "$WORK/stdout" && break; sleep 0.1; done
URL=$(sed -n 's/^ScaiVault listening on //p' "$WORK/stdout" | head -1)
[ -n "$URL" ] || die "the server did not start"
HTTP_PORT=${URL##*:}

# pebble with its own TLS certificate (Debian ships none).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ca.key" \
  -out "$WORK/ca.pem" -days 2 -subj "/CN=bench pebble CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/key.pem" \
  -out "$WORK/leaf.csr" -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$WORK/leaf.ext"
openssl x509 -req -in "$WORK/leaf.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -out "$WORK/cert.pem" -days 2 -extfile "$WORK/leaf.ext" 2>/dev/null
ACME_PORT=$(free_port)
cat >"$WORK/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$ACME_PORT",
  "managementListenAddress": "127.0.0.1:$(free_port)",
  "certificate": "$WORK/cert.pem", "privateKey": "$WORK/key.pem",
  "httpPort": $HTTP_PORT, "tlsPort": $(free_port), "ocspResponderURL": "",
  "externalAccountBindingRequired": false}}
JSON
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$WORK/pebble.json" \
  -dnsserver "127.0.0.1:$DNS_PORT" >>"$WORK/pebble.log" 2>&1 &
PIDS+=($!)
wait_port "$ACME_PORT"

api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
ACCOUNT=$(api -X POST "$URL/v1/pki/acme/accounts" -d "$(jq -n --arg d "https://127.0.0.1:$ACME_PORT/dir" \
  --rawfile ca "$WORK/ca.pem" '{provider:"custom", directory_url:$d, ca_bundle:$ca, terms_of_service_agreed:true}')" \
  | jq -r .id)
PROVIDER=$(api -X POST "$URL/v1/pki/dns-providers" -d "$(jq -n --arg s "127.0.0.1:$DNS_PORT" \
  --arg z "$ZONE" --arg k "$SECRET" \
  '{name:"knot", type:"rfc2136", settings:{server:$s, zone:$z, tsig_key_name:"bench-key"}, credentials:{tsig_secret:$k}}')" \
  | jq -r .id)

echo "== $COUNT orders at once (half http-01, half dns-01) against pebble"
started=$(now_ms)
for i in $(seq 1 "$COUNT"); do
  if [ $((i % 2)) -eq 0 ]; then
    body="{\"account_id\":\"$ACCOUNT\",\"domains\":[\"h$i.$ZONE\"],\"challenge\":\"http-01\"}"
  else
    body="{\"account_id\":\"$ACCOUNT\",\"domains\":[\"d$i.$ZONE\"],\"challenge\":\"dns-01\",\"dns_provider_id\":\"$PROVIDER\"}"
  fi
  api -X POST "$URL/v1/pki/acme/orders" -d "$body" >/dev/null
done
placed=$(now_ms)
while :; do
  valid=$(api "$URL/v1/pki/acme/orders?status=valid&limit=200" | jq '.orders | length')
  failed=$(api "$URL/v1/pki/acme/orders?status=failed&limit=200" | jq '.orders | length')
  [ "$failed" -eq 0 ] || die "$failed orders failed (see $WORK/server.log)"
  [ "$valid" -ge "$COUNT" ] && break
  [ $(( $(now_ms) - started )) -lt 600000 ] || die "only $valid of $COUNT valid after 10 minutes"
  sleep 0.2
done
done_ms=$(now_ms)
total=$((done_ms - started))
latency=$(api "$URL/v1/pki/acme/orders?status=valid&limit=200" | python3 -c '
import json, sys, datetime
orders = json.load(sys.stdin)["orders"]
p = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
ms = sorted((p(o["updated_at"]) - p(o["created_at"])).total_seconds() * 1000 for o in orders)
print(f"p50 {ms[len(ms)//2]:.0f} ms, max {ms[-1]:.0f} ms")')
echo "placed in $((placed - started)) ms; all $COUNT valid after $total ms"
echo "orders per minute: $((COUNT * 60000 / total)); order latency (placed -> stored): $latency"
