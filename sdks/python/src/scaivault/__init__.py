"""ScaiVault's Python SDK: a typed client of the ScaiVault HTTP API, sync and async.

    import scaivault

    with scaivault.Client() as vault:          # SCAIVAULT_URL / SCAIVAULT_TOKEN from the env
        vault.secrets.write("app/db", {"password": "s3cret"})
        print(vault.secrets.read("app/db").data["password"])
"""

from __future__ import annotations

from . import errors, models, webhooks
from ._version import __version__
from .client import AsyncClient, Client
from .errors import (
    AccessDeniedError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    ScaiVaultError,
    SecretExpiredError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    ValidationError,
    VersionConflictError,
    WebhookVerificationError,
)

__all__ = [
    "__version__",
    "Client",
    "AsyncClient",
    "errors",
    "models",
    "webhooks",
    "ScaiVaultError",
    "ValidationError",
    "AuthenticationError",
    "AccessDeniedError",
    "NotFoundError",
    "ConflictError",
    "VersionConflictError",
    "SecretExpiredError",
    "RateLimitedError",
    "ServiceUnavailableError",
    "ServerError",
    "TransportError",
    "WebhookVerificationError",
]
