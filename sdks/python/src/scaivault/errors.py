"""The exception hierarchy of the ScaiVault SDK, keyed by the API's error codes.

Every error carries ``code``, ``status``, ``message`` and ``request_id`` (the server's
``X-Request-Id``, to quote to an operator). A code this SDK does not know maps by its HTTP
status, so a newer server never breaks an older SDK.
"""

from __future__ import annotations

from typing import Any

__all__ = [
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
    "error_from_response",
]


class ScaiVaultError(Exception):
    """The base of every SDK error; also any error status without a more specific class."""

    code: str
    status: int | None
    message: str
    request_id: str | None

    def __init__(
        self,
        message: str,
        *,
        code: str = "error",
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        if self.status is not None:
            text = f"{text} (HTTP {self.status}"
            text += f", request {self.request_id})" if self.request_id else ")"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class ValidationError(ScaiVaultError):
    """400/413/422: the request (path, body, parameter, CSR) is not acceptable."""


class AuthenticationError(ScaiVaultError):
    """401: no token, or an unknown, revoked or expired one."""


class AccessDeniedError(ScaiVaultError):
    """403: authenticated, but not allowed to do this."""


class NotFoundError(ScaiVaultError):
    """404: no such secret, version, resource or route."""


class ConflictError(ScaiVaultError):
    """409: the resource is not in a state that allows this (exists, disabled, ...)."""


class VersionConflictError(ConflictError):
    """409 ``version_conflict``: an ``If-Match`` / ``If-None-Match`` precondition failed."""


class SecretExpiredError(ScaiVaultError):
    """410: the secret's ``expires_at`` has passed."""


class _RetryAfterMixin(ScaiVaultError):
    retry_after: float | None

    def __init__(
        self,
        message: str,
        *,
        code: str = "error",
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status, request_id=request_id)
        self.retry_after = retry_after


class RateLimitedError(_RetryAfterMixin):
    """429: too many requests (or a lease cap); ``retry_after`` in seconds when sent."""


class ServiceUnavailableError(_RetryAfterMixin):
    """503: the server cannot serve this now (storage, sealed, key provider)."""


class ServerError(ScaiVaultError):
    """500/502/other 5xx: something failed inside the server or its target."""


class TransportError(ScaiVaultError):
    """No HTTP answer: connection refused or reset, timeout, TLS failure (``status`` is None)."""


class WebhookVerificationError(ScaiVaultError):
    """A webhook delivery whose signature or timestamp does not verify."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="webhook_verification_failed")


_BY_CODE: dict[str, type[ScaiVaultError]] = {}
for _cls, _codes in (
    (
        ValidationError,
        "invalid_path validation_error payload_too_large invalid_csr validity_exceeds_ca "
        "name_not_permitted",
    ),
    (AuthenticationError, "authentication_required"),
    (AccessDeniedError, "access_denied separation_of_duties"),
    (
        NotFoundError,
        "secret_not_found version_not_found not_found ca_not_found certificate_not_found "
        "csr_not_found engine_not_found role_not_found lease_not_found",
    ),
    (
        ConflictError,
        "secret_exists conflict csr_not_approved ca_disabled engine_has_leases "
        "lease_not_renewable",
    ),
    (VersionConflictError, "version_conflict"),
    (SecretExpiredError, "secret_expired"),
    (RateLimitedError, "rate_limited lease_limit_reached"),
    (
        ServiceUnavailableError,
        "service_unavailable storage_unavailable sealed key_provider_unavailable",
    ),
    (ServerError, "internal_error engine_unreachable acme_ca_error"),
):
    for _code in _codes.split():
        _BY_CODE[_code] = _cls

_BY_STATUS: dict[int, type[ScaiVaultError]] = {
    400: ValidationError,
    413: ValidationError,
    422: ValidationError,
    401: AuthenticationError,
    403: AccessDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: SecretExpiredError,
    429: RateLimitedError,
    503: ServiceUnavailableError,
}


def _class_for(code: str | None, status: int) -> type[ScaiVaultError]:
    if code is not None and code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if 500 <= status <= 599:
        return ServerError
    return ScaiVaultError


def error_from_response(
    status: int,
    body: Any,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> ScaiVaultError:
    """The exception for an error response: ``body`` is the decoded JSON (or None)."""
    code: str | None = None
    message = f"HTTP {status}"
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        detail = body["error"]
        if isinstance(detail.get("code"), str):
            code = detail["code"]
        if isinstance(detail.get("message"), str):
            message = detail["message"]
        if request_id is None and isinstance(detail.get("request_id"), str):
            request_id = detail["request_id"]
    cls = _class_for(code, status)
    final_code = code if code is not None else f"http_{status}"
    if issubclass(cls, _RetryAfterMixin):
        return cls(
            message,
            code=final_code,
            status=status,
            request_id=request_id,
            retry_after=retry_after,
        )
    return cls(message, code=final_code, status=status, request_id=request_id)
