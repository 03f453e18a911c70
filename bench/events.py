"""Event delivery benchmark: writes -> waiting long-poller, and writes -> webhook receiver.

usage: events.py URL TOKEN WRITES CONCURRENCY
Creates a subscription with a webhook to a receiver started here (127.0.0.1) and long-polls the
same subscription; writes WRITES secrets with CONCURRENCY writer threads; records, per event, the
time between the write's acknowledgement and its arrival at the poller and at the receiver.
Prints one JSON object with throughput and latency percentiles. Standard library only.
"""
import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

url, token, writes, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
acked = {}      # path -> ack time
polled = {}     # path -> arrival time at the poller
hooked = {}     # path -> arrival time at the webhook receiver
lock = threading.Lock()


def call(method, path, body=None, timeout=90):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        now = time.monotonic()
        with lock:
            hooked.setdefault(body["path"], now)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


receiver = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
sub = call("POST", "/v1/subscriptions", {
    "name": "bench", "paths": ["bench/events/**"], "events": ["secret.created"],
    "webhook": f"http://127.0.0.1:{receiver.server_address[1]}/hook"})

done = threading.Event()


def poller():
    cursor = None
    while not done.is_set():
        q = f"/v1/subscriptions/{sub['id']}/poll?wait=5s&limit=500"
        if cursor:
            q += "&cursor=" + cursor
        page = call("GET", q)
        now = time.monotonic()
        with lock:
            for e in page["events"]:
                polled.setdefault(e["path"], now)
        cursor = page["cursor"]


threading.Thread(target=poller, daemon=True).start()
time.sleep(0.5)


def writer(k):
    for i in range(k, writes, concurrency):
        path = f"bench/events/s{i}"
        call("PUT", "/v1/secrets/" + path, {"data": {"i": i}})
        with lock:
            acked[path] = time.monotonic()


start = time.monotonic()
threads = [threading.Thread(target=writer, args=(k,)) for k in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join()
write_end = time.monotonic()
deadline = time.monotonic() + 120
while (len(polled) < writes or len(hooked) < writes) and time.monotonic() < deadline:
    time.sleep(0.05)
done.set()


def summary(arrived):
    lat = sorted(max(0.0, arrived[p] - acked[p]) * 1000 for p in acked if p in arrived)
    if not lat:
        return {"received": 0}
    pct = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 2)
    last = max(arrived.values())
    return {"received": len(lat), "events_per_s": round(len(lat) / (last - start), 1),
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": round(lat[-1], 2)}


print(json.dumps({"writes": writes, "concurrency": concurrency,
                  "writes_per_s": round(writes / (write_end - start), 1),
                  "poll": summary(polled), "webhook": summary(hooked)}))
