#!/usr/bin/env bash
# Bytes per audit entry, per read and per write, on both stores: a production server per store
# (fresh data dir; for PostgreSQL a fresh database on SIZING_DATABASE_URL's server), N reads and
# M writes, then `scaivault operator storage --json` after each phase. Knobs: SIZING_READS
# (default 20000), SIZING_WRITES (default 2000), SIZING_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/postgres; empty: SQLite only), SCAIVAULT_BIN.
set -euo pipefail
READS=${SIZING_READS:-20000}
WRITES=${SIZING_WRITES:-2000}
PG=${SIZING_DATABASE_URL-postgres://postgres@127.0.0.1:5432/postgres}
if [[ -z "${SCAIVAULT_BIN:-}" ]]; then
    cargo build --release -p scaivault >&2
    target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    SCAIVAULT_BIN="$target/release/scaivault"
fi

measure() { # store
    local store=$1 work db=""
    work=$(mktemp -d)
    {
        echo "listen = \"127.0.0.1:0\""; echo "allow_plain_http = true"
        echo "data_dir = \"$work/data\""; echo "root_key_file = \"$work/root.key\""
        echo "bootstrap_tenant_id = \"tnt_ops\""; echo "bootstrap_partner_id = \"ptn_ops\""
        echo "[rate_limits]"; echo "unauthenticated = { per_second = 0 }"; echo "auth_failures = { per_second = 0 }"
    } >"$work/c.toml"
    if [[ $store == postgres ]]; then
        db="scaivault_sizing_$$"
        psql "$PG" -qc "CREATE DATABASE $db" >/dev/null
        sed -i "1i storage = \"postgres\"\ndatabase_url = \"${PG%/*}/$db\"" "$work/c.toml"
    fi
    token=$("$SCAIVAULT_BIN" operator init --config "$work/c.toml" | grep -o 'skt_[A-Za-z0-9_-]*' | head -1)
    : >"$work/stdout"
    "$SCAIVAULT_BIN" server --config "$work/c.toml" >"$work/stdout" 2>"$work/log" &
    local pid=$!
    local url=""
    for _ in $(seq 100); do url=$(sed -n 's/^ScaiVault listening on //p' "$work/stdout" | head -1); [[ -n $url ]] && break; sleep 0.1; done
    python3 - "$url" "$token" "$READS" "$WRITES" "$SCAIVAULT_BIN" "$work/c.toml" "$store" <<'PY'
import http.client, json, subprocess, sys, threading, urllib.parse
url, token, reads, writes, binary, config, store = sys.argv[1:8]
reads, writes = int(reads), int(writes)
host = urllib.parse.urlparse(url).netloc
def call(c, method, path, body=None):
    h = {"Authorization": f"Bearer {token}"}
    if body is not None:
        h["Content-Type"] = "application/json"; body = json.dumps(body)
    c.request(method, path, body=body, headers=h); r = c.getresponse(); r.read(); return r.status
def usage():
    doc = json.loads(subprocess.check_output([binary, "operator", "storage", "--json", "--config", config]))
    return {t["name"]: (t["rows"], t["bytes"]) for t in doc["tables"]}, doc["database_bytes"]
def run(n, f):
    ts = [threading.Thread(target=f, args=(n // 4, i)) for i in range(4)]
    [t.start() for t in ts]; [t.join() for t in ts]
c = http.client.HTTPConnection(host)
assert call(c, "PUT", "/v1/secrets/size/read", {"data": {"v": "x" * 256}}) in (200, 201)
t0, d0 = usage()
def reader(n, _):
    c = http.client.HTTPConnection(host)
    for _ in range(n): assert call(c, "GET", "/v1/secrets/size/read") == 200
run(reads, reader)
t1, d1 = usage()
def writer(n, i):
    c = http.client.HTTPConnection(host)
    for k in range(n): assert call(c, "PUT", f"/v1/secrets/size/w{i}-{k % 50}", {"data": {"v": "y" * 256}}) in (200, 201)
run(writes, writer)
t2, d2 = usage()
def delta(a, b, name): return b.get(name, (0, 0))[1] - a.get(name, (0, 0))[1]
def rows(a, b, name): return b.get(name, (0, 0))[0] - a.get(name, (0, 0))[0]
# An entry's bytes include its share of audit_callers (absent before the compact layout).
def audit(a, b): return delta(a, b, "audit_log") + delta(a, b, "audit_callers")
r_audit = audit(t0, t1) / max(rows(t0, t1, "audit_log"), 1)
w_tables = {n: delta(t1, t2, n) for n in t2 if delta(t1, t2, n) > 0}
w_audit = audit(t1, t2) / max(rows(t1, t2, "audit_log"), 1)
print(f"{store}: read: {r_audit:.0f} bytes (audit entry, table + indexes); database +{(d1 - d0) / reads:.0f} bytes/read")
print(f"{store}: write: {w_audit:.0f} bytes audit entry; per write by table: " +
      ", ".join(f"{n} {v / writes:.0f}" for n, v in sorted(w_tables.items())) +
      f"; database +{(d2 - d1) / writes:.0f} bytes/write")
PY
    kill $pid; wait $pid 2>/dev/null || true
    [[ -n $db ]] && psql "$PG" -qc "DROP DATABASE $db" >/dev/null
    rm -rf "$work"
}
[[ -z "${SIZING_SKIP_SQLITE:-}" ]] && measure sqlite
[[ -n "$PG" ]] && measure postgres
