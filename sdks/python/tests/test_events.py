"""Long-poll and webhooks: real events from a real server."""

from __future__ import annotations

import http.server
import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from vaultserver import Server

import scaivault
from scaivault import webhooks


def test_poll_once_and_follow(client: scaivault.Client, server: Server, unique: str) -> None:
    sub = client.subscriptions.create(f"{unique}-poll", [f"{unique}/**"], ["secret.created"])
    assert sub.id.startswith("sub_") and sub.webhook_secret is None
    assert client.subscriptions.get(sub.id).paths == [f"{unique}/**"]
    assert sub.id in [s.id for s in client.subscriptions.list(limit=1)]

    client.secrets.write(f"{unique}/before", {"a": "1"})
    once = list(client.subscriptions.poll(sub.id, wait=0))
    assert [(e.event_type, e.path) for e in once] == [("secret.created", f"{unique}/before")]

    page = client.subscriptions.poll_page(sub.id, wait=0)
    assert page.events == once and page.cursor and not page.has_more
    # follow=True: the write happens once the poll request has gone out (an httpx event hook
    # tells), and the waiting poll delivers it.
    poll_sent = threading.Event()

    def on_request(request: httpx.Request) -> None:
        if request.url.path.endswith("/poll"):
            poll_sent.set()

    def write_when_polling() -> None:
        if poll_sent.wait(20):
            client.secrets.write(f"{unique}/after", {"a": "2"})

    threading.Thread(target=write_when_polling, daemon=True).start()
    http = httpx.Client(event_hooks={"request": [on_request]})
    with server.client(http_client=http) as poller:
        events = poller.subscriptions.poll(sub.id, follow=True, cursor=page.cursor, wait=20)
        started = time.monotonic()
        event = next(events)
        assert (event.event_type, event.path) == ("secret.created", f"{unique}/after")
        assert time.monotonic() - started < 20
    assert event.data is not None and event.id.startswith("evt_")
    assert client.subscriptions.dead_letters(sub.id) == []
    client.subscriptions.delete(sub.id)
    with pytest.raises(scaivault.NotFoundError):
        client.subscriptions.get(sub.id)


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue[Delivery]]]:
    deliveries: queue.Queue[Delivery] = queue.Queue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            deliveries.put(Delivery(dict(self.headers.items()), self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", deliveries
    httpd.shutdown()
    httpd.server_close()


def _next_delivery(deliveries: queue.Queue[Delivery], path: str) -> Delivery:
    deadline = time.monotonic() + 30
    while True:
        delivery = deliveries.get(timeout=max(0.1, deadline - time.monotonic()))
        if json.loads(delivery.body).get("path") == path:
            return delivery


def test_webhook_signature_of_a_real_delivery(
    client: scaivault.Client,
    unique: str,
    receiver: tuple[str, queue.Queue[Delivery]],
) -> None:
    url, deliveries = receiver
    sub = client.subscriptions.create(
        f"{unique}-hook", [f"{unique}/**"], ["secret.created", "secret.updated"], webhook=url
    )
    secret = sub.webhook_secret
    assert secret is not None and secret.startswith("whsec_")
    assert secret not in repr(sub)
    assert client.subscriptions.get(sub.id).webhook_secret is None

    client.secrets.write(f"{unique}/hooked", {"password": "never-in-a-webhook"})
    delivery = _next_delivery(deliveries, f"{unique}/hooked")
    assert b"never-in-a-webhook" not in delivery.body

    event = webhooks.verify(delivery.body, delivery.headers, secret)
    assert (event.event_type, event.path) == ("secret.created", f"{unique}/hooked")
    assert event.id == delivery.headers["webhook-id"]
    # bytes or str payloads, any header case
    lower = {k.lower(): v for k, v in delivery.headers.items()}
    assert webhooks.verify(delivery.body.decode(), lower, secret).id == event.id

    with pytest.raises(scaivault.WebhookVerificationError):
        webhooks.verify(delivery.body.replace(b"secret.created", b"secret.deleted"),
                        delivery.headers, secret)
    wrong = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
    with pytest.raises(scaivault.WebhookVerificationError):
        webhooks.verify(delivery.body, delivery.headers, wrong)
    old = int(time.time()) - 600
    stale = dict(lower)
    stale["webhook-timestamp"] = str(old)
    stale["webhook-signature"] = webhooks.sign(delivery.body, secret, lower["webhook-id"], old)
    with pytest.raises(scaivault.WebhookVerificationError):
        webhooks.verify(delivery.body, stale, secret)
    assert webhooks.verify(delivery.body, stale, secret, tolerance=900).id == event.id
    # Several signatures (a rotation): any one that matches is enough.
    several = dict(lower)
    several["webhook-signature"] = "v1,AAAA " + lower["webhook-signature"]
    assert webhooks.verify(delivery.body, several, secret).id == event.id
    with pytest.raises(scaivault.WebhookVerificationError):
        webhooks.verify(delivery.body, {**lower, "webhook-signature": "v1,AAAA"}, secret)

    rotated = client.subscriptions.rotate_secret(sub.id)
    new_secret = rotated.webhook_secret
    assert new_secret is not None and new_secret != secret
    client.secrets.write(f"{unique}/hooked", {"password": "v2"})
    second = _next_delivery(deliveries, f"{unique}/hooked")
    assert webhooks.verify(second.body, second.headers, new_secret).event_type == "secret.updated"
    with pytest.raises(scaivault.WebhookVerificationError):
        webhooks.verify(second.body, second.headers, secret)
    client.subscriptions.delete(sub.id)
