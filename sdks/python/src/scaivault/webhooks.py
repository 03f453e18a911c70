"""Verifying webhook deliveries (Standard Webhooks signatures).

Each delivery carries ``webhook-id`` (the event id), ``webhook-timestamp`` (unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``, keyed by the
base64 part of the subscription's ``whsec_...`` secret. While a secret rotates, several
space-separated signatures appear; one valid signature is enough.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping

from .errors import WebhookVerificationError
from .models import Event

__all__ = ["verify", "sign", "WebhookVerificationError"]

DEFAULT_TOLERANCE = 300


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookVerificationError("the webhook secret is not a whsec_<base64> secret") from exc


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"the {name} header is missing")


def sign(payload: bytes | str, secret: str, msg_id: str, timestamp: int) -> str:
    """The ``webhook-signature`` value the server sends (``v1,<base64>``), e.g. for tests."""
    body = payload.encode() if isinstance(payload, str) else payload
    message = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Event:
    """Checks a delivery and returns its event.

    ``payload`` is the raw request body, exactly as received (do not re-encode parsed JSON);
    ``headers`` the request headers (any mapping, case-insensitive names); ``secret`` the
    subscription's ``whsec_...`` signing secret. Raises :class:`WebhookVerificationError` when no
    signature matches (compared in constant time) or the timestamp is more than ``tolerance``
    seconds from now.
    """
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    msg_id = _header(headers, "webhook-id")
    raw_timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        timestamp = int(raw_timestamp)
    except ValueError as exc:
        raise WebhookVerificationError("the webhook-timestamp header is not a number") from exc
    if abs(time.time() - timestamp) > tolerance:
        raise WebhookVerificationError("the webhook timestamp is outside the tolerance")
    expected = sign(body, secret, msg_id, timestamp).encode()
    matched = False
    for candidate in signatures.split():
        if not candidate.startswith("v1,"):
            continue
        # No early exit: every candidate is compared, each in constant time.
        matched |= hmac.compare_digest(candidate.encode(), expected)
    if not matched:
        raise WebhookVerificationError("no webhook signature matches")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise WebhookVerificationError("the webhook payload is not JSON") from exc
    return Event.from_json(data)
