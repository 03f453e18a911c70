"""A webhook receiver for the tests: verifies Standard Webhooks signatures on its own (hmac,
hashlib, base64 from the Python standard library, not ScaiVault's code) and records every
delivery as one JSON line.

usage: webhook_receiver.py SECRET_FILE LOG_FILE FAIL_FIRST
  SECRET_FILE  read on each request (the test writes the whsec_ secret once it has it)
  LOG_FILE     one JSON object per delivery: id, timestamp, verified, status, body
  FAIL_FIRST   answer 500 to this many first deliveries (forced failures); paths under
               /always-fail always answer 500
Prints the port it listens on (127.0.0.1) on its first line.
"""
import base64
import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

secret_file, log_file, fail_first = sys.argv[1], sys.argv[2], int(sys.argv[3])
seen = {"count": 0}


def verify(headers, body):
    try:
        secret = open(secret_file).read().strip()
    except OSError:
        return False
    key = base64.b64decode(secret[len("whsec_"):])
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    signed = f"{msg_id}.{ts}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split() if "," in s]
    return any(hmac.compare_digest(expected, g) for g in given)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        seen["count"] += 1
        fail = self.path.startswith("/always-fail") or seen["count"] <= fail_first
        status = 500 if fail else 200
        record = {
            "id": self.headers.get("webhook-id"),
            "timestamp": self.headers.get("webhook-timestamp"),
            "verified": verify(self.headers, body),
            "status": status,
            "path": self.path,
            "body": json.loads(body or b"null"),
        }
        with open(log_file, "a") as f:
            f.write(json.dumps(record) + "\n")
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
