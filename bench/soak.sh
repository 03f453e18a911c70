#!/usr/bin/env bash
# Retention soak: load on a dev server with the test clock, one simulated day per round, past
# the 30-day audit window. Shows the database levelling off while the archive grows, then
# verifies archive + database as one chain, and that deleting a segment is detected.
#
# Knobs (environment):
#   SOAK_DAYS            simulated days (default 45; the window is 30)
#   SOAK_READS_PER_DAY   audited reads per simulated day (default 2000)
#   SOAK_WRITES_PER_DAY  writes per simulated day (default 200)
#   SOAK_THREADS         client threads (default 4)
#   SCAIVAULT_BIN        the scaivault binary (default: cargo build --release, then its path)
#
# Output: one line per day (database bytes, archive bytes, audit rows), then the verdicts.
set -euo pipefail

DAYS=${SOAK_DAYS:-45}
READS=${SOAK_READS_PER_DAY:-2000}
WRITES=${SOAK_WRITES_PER_DAY:-200}
THREADS=${SOAK_THREADS:-4}

if [[ -z "${SCAIVAULT_BIN:-}" ]]; then
    cargo build --release -p scaivault >&2
    target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    SCAIVAULT_BIN="$target/release/scaivault"
fi

work=$(mktemp -d)
token="skt_soak_$$"
"$SCAIVAULT_BIN" server --dev --dev-test-clock --listen 127.0.0.1:0 --data-dir "$work/data" \
    --dev-root-token "$token" >"$work/stdout" 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    url=$(sed -n 's/^ScaiVault listening on //p' "$work/stdout" | head -1)
    [[ -n "$url" ]] && break
    sleep 0.1
done
[[ -n "$url" ]] || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

python3 - "$url" "$token" "$work/data" "$DAYS" "$READS" "$WRITES" "$THREADS" <<'PY'
import http.client, json, os, sqlite3, sys, threading, urllib.parse

url, token, data, days, reads, writes, threads = sys.argv[1:8]
days, reads, writes, threads = int(days), int(reads), int(writes), int(threads)
host = urllib.parse.urlparse(url).netloc

def conn():
    return http.client.HTTPConnection(host, timeout=60)

def call(c, method, path, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    payload = r.read()
    return r.status, (json.loads(payload) if payload else None)

c = conn()
status, _ = call(c, "PUT", "/v1/secrets/soak/read", {"data": {"v": "x" * 256}})
assert status in (200, 201), status

def worker(n_reads, n_writes, seed):
    c = conn()
    for i in range(n_writes):
        s, b = call(c, "PUT", f"/v1/secrets/soak/w{seed}-{i % 20}", {"data": {"v": str(i)}})
        assert s in (200, 201), (s, b)
    for _ in range(n_reads):
        s, b = call(c, "GET", "/v1/secrets/soak/read")
        assert s == 200, (s, b)

def size(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total

db = os.path.join(data, "scaivault.db")
print(f"{'day':>4} {'db_bytes':>12} {'archive_bytes':>14} {'audit_rows':>11} {'archived':>9}")
for day in range(1, days + 1):
    ts = [threading.Thread(target=worker, args=(reads // threads, writes // threads, t))
          for t in range(threads)]
    for t in ts: t.start()
    for t in ts: t.join()
    s, b = call(c, "POST", "/v1/sys/test-clock", {"advance": "1d"})
    assert s == 200, (s, b)
    rows = sqlite3.connect(db).execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    dbb = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
    print(f"{day:>4} {dbb:>12} {size(os.path.join(data, 'audit-archive')):>14} {rows:>11} {b.get('audit_archived', 0):>9}", flush=True)

s, report = call(c, "POST", "/v1/audit/verify", {})
print("verify:", "intact" if report["intact"] else "BROKEN",
      [(ch["tenant_id"], ch["entries_checked"], ch.get("archive_segments")) for ch in report["chains"]])
assert report["intact"], report
segs = sorted(os.path.join(r, f) for r, _, fs in os.walk(os.path.join(data, "audit-archive"))
              for f in fs if f.endswith(".jsonl.zst"))
if len(segs) > 1:
    os.rename(segs[1], segs[1] + ".removed")
    s, report = call(c, "POST", "/v1/audit/verify", {})
    broken = [ch for ch in report["chains"] if not ch["intact"]]
    print("after removing", os.path.relpath(segs[1], data), "->",
          [(ch["tenant_id"], ch.get("archive_segment"), ch["first_break"]) for ch in broken])
    assert not report["intact"]
    os.rename(segs[1] + ".removed", segs[1])
s, page = call(c, "GET", "/v1/audit?resource_type=secret&limit=1")
print("query over the whole range says:", json.dumps(page.get("archived")))
PY
