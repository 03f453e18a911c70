#!/usr/bin/env bash
# Dynamic credentials (issue 17). See docs/benchmarks.md.
#
#   bash bench/dynamic.sh
#
# 1. Leases per second against PostgreSQL: a dev server (fresh data dir, embedded store) with a
#    `postgres` engine on the machine's PostgreSQL (127.0.0.1:5432; BENCH_PG_URL to change), a
#    role that creates a login role. Then, at concurrency BENCH_DYN_CONC (default 8) for
#    BENCH_COUNT leases (default 400): `POST .../creds/ROLE` (lease recorded, CREATE ROLE,
#    lease activated and audited) and afterwards `POST /v1/dynamic/leases/ID/revoke` (sessions
#    ended, DROP ROLE, audited). Prints leases created/s and revoked/s.
# 2. Start-up with BENCH_LIVE live leases (default 100,000): the server is stopped, the one lease
#    made by step 1's warm-up is copied BENCH_LIVE times in the SQLite file (live, expiring in a
#    day: the sweeper has nothing due), and the time from start to `GET /health/ready` = 200
#    is measured, against the same data dir without the copies.
#
# 3. The sweeper: with the leases all due, the time the server takes to revoke BENCH_SWEEP
#    (default 5,000) of them, read from the engine's live_leases while it serves.
#
# Knobs: BENCH_PG_URL, BENCH_DYN_CONC, BENCH_COUNT, BENCH_LIVE, BENCH_SWEEP, SCAIVAULT_BIN.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
CONC=${BENCH_DYN_CONC:-8}
COUNT=${BENCH_COUNT:-400}
LIVE=${BENCH_LIVE:-100000}
TOKEN="skt_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
for tool in curl jq python3; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done

if [ -n "${SCAIVAULT_BIN:-}" ]; then
  BIN=$SCAIVAULT_BIN
else
  cargo build --release -p scaivault
  TARGET_DIR=$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  BIN=${TARGET_DIR:-$PWD/target}/release/scaivault
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scaivault-dynamic-bench.XXXXXX")
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# Starts the server on the data dir; sets URL and SERVER_PID; prints ms until ready.
start_server() {
  : >"$WORK/stdout"
  local started
  started=$(now_ms)
  "$BIN" server --dev --listen 127.0.0.1:0 --data-dir "$WORK/data" --dev-root-token "$TOKEN" \
    >"$WORK/stdout" 2>>"$WORK/server.log" &
  SERVER_PID=$!
  URL=
  for _ in $(seq 1 6000); do
    URL=$(sed -n 's/^ScaiVault listening on //p' "$WORK/stdout" | head -1)
    if [ -n "$URL" ] && curl -sf -o /dev/null "$URL/health/ready"; then
      echo $(($(now_ms) - started))
      return
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited: $(tail -5 "$WORK/server.log")"
    sleep 0.01
  done
  die "the server did not become ready"
}

stop_server() {
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

api() { # METHOD PATH [BODY]
  curl -sf -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$URL$2"
}

start_server >/dev/null
api POST /v1/dynamic/engines \
  "$(jq -nc --arg url "$PG_URL" '{name:"bench-pg",type:"postgres",connection_url:$url}')" \
  >/dev/null || die "could not create the engine on $PG_URL"
api POST /v1/dynamic/engines/bench-pg/roles "$(jq -nc '{name:"app",default_ttl:"1h",max_ttl:"24h",
  creation_statements:"CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '"'"'{{password}}'"'"' VALID UNTIL '"'"'{{expiration}}'"'"';"}')" \
  >/dev/null || die "could not create the role"

# The load: one Python thread per concurrent client, each on its own keep-alive connection
# (spawning curl per request would measure process start-up, not the server).
cat >"$WORK/load.py" <<'PY'
import http.client, json, sys, threading, time, urllib.parse
url, token, mode, conc, path_in, path_out = sys.argv[1:7]
u = urllib.parse.urlparse(url)
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
if mode == "create":
    jobs = list(range(int(path_in)))
else:
    jobs = [l.strip() for l in open(path_in) if l.strip()]
results, lock = [], threading.Lock()
def worker(items):
    c = http.client.HTTPConnection(u.hostname, u.port)
    for item in items:
        if mode == "create":
            c.request("POST", "/v1/dynamic/engines/bench-pg/creds/app", '{"ttl":"1h"}', headers)
        else:
            c.request("POST", f"/v1/dynamic/leases/{item}/revoke", "{}", headers)
        r = c.getresponse(); body = r.read()
        out = json.loads(body)["lease_id"] if (mode == "create" and r.status == 201) else str(r.status)
        with lock: results.append(out)
n = int(conc)
threads = [threading.Thread(target=worker, args=(jobs[i::n],)) for i in range(n)]
t0 = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.monotonic() - t0
open(path_out, "w").write("\n".join(results) + "\n")
print(f"{len(results)} in {elapsed*1000:.0f} ms: {len(results)/elapsed:.0f}/s")
PY

echo "== $COUNT leases (CREATE ROLE on $PG_URL), c=$CONC"
python3 "$WORK/load.py" "$URL" "$TOKEN" create "$CONC" "$COUNT" "$WORK/leases"
created=$(grep -c '^lease_' "$WORK/leases" || true)
[ "$created" -eq "$COUNT" ] || die "only $created of $COUNT leases were created"

echo "== revoke them (sessions ended, DROP ROLE), c=$CONC"
python3 "$WORK/load.py" "$URL" "$TOKEN" revoke "$CONC" "$WORK/leases" "$WORK/revoked"
revoked=$(grep -c '^200$' "$WORK/revoked" || true)
[ "$revoked" -eq "$COUNT" ] || die "only $revoked of $COUNT revocations answered 200"

# One live lease to copy.
SEED=$(api POST /v1/dynamic/engines/bench-pg/creds/app '{"ttl":"24h"}' | jq -r .lease_id)
stop_server

echo "== start-up: ready after (ms), 1 live lease"
for _ in 1 2 3; do start_server; stop_server; done
echo "== copying the live lease $LIVE times in the SQLite file"
python3 - "$WORK/data/scaivault.db" "$SEED" "$LIVE" <<'PY'
import sqlite3, sys
path, seed, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite3.connect(path)
cols = [r[1] for r in db.execute("PRAGMA table_info(dynamic_leases)")]
row = db.execute("SELECT * FROM dynamic_leases WHERE id = ?", (seed,)).fetchone()
assert row, "the seed lease is not in dynamic_leases"
i = cols.index("id")
rows = []
for k in range(n):
    r = list(row)
    r[i] = f"{seed}_{k:07d}"
    rows.append(r)
db.executemany(f"INSERT INTO dynamic_leases ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", rows)
db.commit()
print(db.execute("SELECT count(*) FROM dynamic_leases WHERE due_at IS NOT NULL").fetchone()[0], "live leases")
PY
echo "== start-up: ready after (ms), $LIVE live leases"
for _ in 1 2 3; do start_server; stop_server; done

echo "== start-up: ready after (ms), the same $LIVE leases all expired while the server was down"
python3 - "$WORK/data/scaivault.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
# Timestamps are microseconds; an hour ago, so the first sweep round finds every lease due.
db.execute("UPDATE dynamic_leases SET expires_at = expires_at - 90000000000, due_at = due_at - 90000000000 WHERE due_at IS NOT NULL")
db.commit()
PY
for _ in 1 2 3; do start_server; stop_server; done

SWEEP=${BENCH_SWEEP:-5000}
echo "== the sweeper at start: time to revoke $SWEEP of the due leases (one target, DROP ROLE each)"
start_server >/dev/null
live() { api GET /v1/dynamic/engines/bench-pg | jq -r .live_leases; }
first=$(live)
started=$(now_ms)
while [ "$(live)" -gt $((first - SWEEP)) ]; do sleep 0.5; done
elapsed=$(($(now_ms) - started))
echo "revoked $SWEEP due leases in ${elapsed} ms: $((SWEEP * 1000 / elapsed)) leases/s (from $first live)"
stop_server
