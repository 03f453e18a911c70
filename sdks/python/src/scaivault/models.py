"""Typed results: frozen dataclasses built from the API's JSON.

Unknown fields from a newer server are ignored; fields a server leaves out are None. Secret
values (a secret's ``data``, token and key values, private keys, webhook signing secrets, dynamic
credentials) are hidden from ``repr()``: read the attribute to get them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from ._model import Model

# -------------------- Secrets


@dataclass(frozen=True, repr=False, kw_only=True)
class SecretMetadata(Model):
    description: str | None = None
    tags: list[str] | None = None
    owner: str | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class Secret(Model):
    _secret_fields: ClassVar[frozenset[str]] = frozenset({'data'})
    path: str
    secret_type: str
    version: int
    data: dict[str, Any]
    metadata: SecretMetadata
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class WriteResult(Model):
    path: str
    version: int
    created: bool
    secret_type: str | None = None
    previous_version: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class SecretSummary(Model):
    path: str
    secret_type: str
    version: int
    updated_at: datetime
    expires_at: datetime | None = None
    tags: list[str]
    description: str | None = None
    owner: str | None = None
    created_at: datetime | None = None
    max_versions: int | None = None
    rotation_policy_id: str | None = None
    secret_policy_id: str | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class VersionInfo(Model):
    version: int
    created_at: datetime
    is_current: bool
    retires_at: datetime | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class RotationPolicyRef(Model):
    id: str
    next_rotation: datetime | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class SecretInfo(Model):
    path: str
    secret_type: str
    current_version: int
    version_count: int
    metadata: SecretMetadata
    max_versions: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    last_accessed_at: datetime | None = None
    access_count_30d: int
    rotation_policy: RotationPolicyRef | None = None
    secret_policy_id: str | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class RotateResult(Model):
    path: str
    version: int
    previous_version: int
    rotated_at: datetime
    previous_version_retires_at: datetime


@dataclass(frozen=True, repr=False, kw_only=True)
class ExpiringSecret(Model):
    path: str
    expires_at: datetime
    days_remaining: int


@dataclass(frozen=True, repr=False, kw_only=True)
class RestoreResult(Model):
    path: str
    restored: bool
    current_version: int


# -------------------- Auth


@dataclass(frozen=True, repr=False, kw_only=True)
class WhoAmI(Model):
    identity_id: str
    identity_type: str
    tenant_id: str
    partner_id: str
    scopes: list[str]


@dataclass(frozen=True, repr=False, kw_only=True)
class CreatedToken(Model):
    _secret_fields: ClassVar[frozenset[str]] = frozenset({'token'})
    id: str
    token: str
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class TokenInfo(Model):
    id: str
    name: str
    identity_id: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None = None


# -------------------- Policies


@dataclass(frozen=True, repr=False, kw_only=True)
class Rule(Model):
    path: str
    permissions: list[str]
    effect: str | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class Policy(Model):
    id: str
    name: str
    description: str | None = None
    rules: list[Rule]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, repr=False, kw_only=True)
class Binding(Model):
    policy_id: str
    identity_type: str
    identity_id: str
    created_at: datetime


@dataclass(frozen=True, repr=False, kw_only=True)
class DecidingRule(Model):
    policy_id: str
    policy_name: str
    rule_index: int
    rule_path: str
    effect: str


@dataclass(frozen=True, repr=False, kw_only=True)
class PolicyTestResult(Model):
    allowed: bool
    identity_id: str
    evaluated_identities: list[str]
    reason: str
    decided_by: DecidingRule | None = None
    explanation: str


# -------------------- Secret policies and rotation


@dataclass(frozen=True, repr=False, kw_only=True)
class GeneratorField(Model):
    name: str
    generator: str
    config: dict[str, Any] | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class SecretPolicy(Model):
    id: str
    name: str
    description: str | None = None
    secret_type: str
    fields: list[GeneratorField]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, repr=False, kw_only=True)
class GeneratedValue(Model):
    _secret_fields: ClassVar[frozenset[str]] = frozenset({'data'})
    secret_policy_id: str
    secret_type: str
    data: dict[str, Any]


@dataclass(frozen=True, repr=False, kw_only=True)
class GeneratorCatalogue(Model):
    generators: list[Any]
    charsets: list[Any]


@dataclass(frozen=True, repr=False, kw_only=True)
class RotationPolicy(Model):
    id: str
    name: str
    description: str | None = None
    interval: str
    grace_period: str
    warn_before: list[str]
    auto_generate: bool
    window: str | None = None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, repr=False, kw_only=True)
class AssignResult(Model):
    policy_id: str
    paths: list[str]
    count: int


@dataclass(frozen=True, repr=False, kw_only=True)
class RotationRun(Model):
    id: str
    policy_id: str | None = None
    path: str
    trigger: str
    status: str
    attempt: int
    old_version: int | None = None
    new_version: int | None = None
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class TriggerResult(Model):
    policy_id: str
    runs: list[RotationRun]


@dataclass(frozen=True, repr=False, kw_only=True)
class ScheduledRotation(Model):
    path: str
    policy_id: str
    state: str
    next_rotation: datetime
    last_rotated_at: datetime | None = None
    attempts: int
    last_error: str | None = None


# -------------------- Audit


@dataclass(frozen=True, repr=False, kw_only=True)
class AuditEntry(Model):
    id: str
    sequence: int
    timestamp: datetime
    request_id: str
    identity_id: str
    identity_type: str
    actor_tenant_id: str | None = None
    tenant_id: str | None = None
    partner_id: str | None = None
    credential_id: str | None = None
    action: str
    resource_type: str
    path: str | None = None
    version: int | None = None
    outcome: str
    error_code: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    chain_sequence: int
    hash: str
    prev_hash: str


@dataclass(frozen=True, repr=False, kw_only=True)
class AuditCount(Model):
    key: str
    count: int


@dataclass(frozen=True, repr=False, kw_only=True)
class AuditSummary(Model):
    start: datetime | None = None
    end: datetime | None = None
    total: int
    by_action: list[AuditCount]
    by_outcome: list[AuditCount]
    by_identity: list[AuditCount]
    top_paths: list[AuditCount]


@dataclass(frozen=True, repr=False, kw_only=True)
class AuditChainReport(Model):
    tenant_id: str
    entries_checked: int
    last_chain_sequence: int
    intact: bool
    first_break: str | None = None
    broken_at_chain_sequence: int | None = None
    archive_segment: str | None = None
    archive_segments: int | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class AuditVerifyResult(Model):
    intact: bool
    chains: list[AuditChainReport]


# -------------------- Subscriptions


@dataclass(frozen=True, repr=False, kw_only=True)
class Event(Model):
    id: str
    event_type: str
    tenant_id: str
    path: str | None = None
    occurred_at: datetime
    data: Any


@dataclass(frozen=True, repr=False, kw_only=True)
class Subscription(Model):
    _secret_fields: ClassVar[frozenset[str]] = frozenset({'webhook_secret'})
    id: str
    name: str
    paths: list[str]
    events: list[str]
    tenants: list[str]
    webhook_url: str | None = None
    webhook_secret: str | None = None
    owner_identity: str
    created_at: datetime
    delivery_attempts: int
    next_attempt_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class PollPage(Model):
    events: list[Event]
    cursor: str
    has_more: bool


@dataclass(frozen=True, repr=False, kw_only=True)
class DeadLetter(Model):
    event_id: str
    attempts: int
    last_error: str
    failed_at: datetime


# -------------------- Identity and service accounts


@dataclass(frozen=True, repr=False, kw_only=True)
class Partner(Model):
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, repr=False, kw_only=True)
class Tenant(Model):
    id: str
    partner_id: str
    slug: str
    name: str
    created_at: datetime


@dataclass(frozen=True, repr=False, kw_only=True)
class GroupMembership(Model):
    identity_id: str
    groups: list[str]


@dataclass(frozen=True, repr=False, kw_only=True)
class RegisterResult(Model):
    _secret_fields: ClassVar[frozenset[str]] = frozenset({'token'})
    partner_id: str
    tenant_id: str | None = None
    identity_id: str
    token_id: str
    token: str
    expires_at: datetime | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class ServiceAccount(Model):
    id: str
    identity_id: str
    name: str
    description: str | None = None
    roles: list[str]
    scopes: list[str]
    created_at: datetime


@dataclass(frozen=True, repr=False, kw_only=True)
class CreatedApiKey(Model):
    _secret_fields: ClassVar[frozenset[str]] = frozenset({'key'})
    id: str
    key: str
    name: str
    service_account_id: str
    created_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class ApiKeyInfo(Model):
    id: str
    name: str
    created_at: datetime
    expires_at: datetime | None = None


# -------------------- PKI


@dataclass(frozen=True, repr=False, kw_only=True)
class Ca(Model):
    id: str
    name: str
    common_name: str
    parent_ca_id: str | None = None
    key_type: str
    serial: str
    not_before: datetime
    not_after: datetime
    status: str
    require_separate_approver: bool
    path_len: int | None = None
    permitted_dns_domains: list[str] | None = None
    excluded_dns_domains: list[str] | None = None
    imported: bool
    crl_url: str
    ocsp_url: str
    policy_path: str
    certificate: str
    created_at: datetime


@dataclass(frozen=True, repr=False, kw_only=True)
class IssuedCertificate(Model):
    _secret_fields: ClassVar[frozenset[str]] = frozenset({'private_key'})
    id: str
    serial: str
    certificate: str
    private_key: str
    chain: list[str]
    ca_id: str
    common_name: str
    sans: list[str]
    not_before: datetime
    not_after: datetime
    secret_path: str
    secret_version: int


@dataclass(frozen=True, repr=False, kw_only=True)
class Certificate(Model):
    id: str
    ca_id: str
    serial: str
    common_name: str
    sans: list[str]
    key_type: str | None = None
    usage: str
    not_before: datetime
    not_after: datetime
    status: str
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    secret_path: str | None = None
    csr_id: str | None = None
    issued_by: str
    certificate: str
    created_at: datetime


@dataclass(frozen=True, repr=False, kw_only=True)
class Csr(Model):
    id: str
    common_name: str
    sans: list[str]
    key_type: str | None = None
    status: str
    submitted_by: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    cert_id: str | None = None
    csr: str
    created_at: datetime


@dataclass(frozen=True, repr=False, kw_only=True)
class SignedCertificate(Model):
    id: str
    csr_id: str
    serial: str
    certificate: str
    chain: list[str]
    ca_id: str
    not_before: datetime
    not_after: datetime


# -------------------- Dynamic credentials


@dataclass(frozen=True, repr=False, kw_only=True)
class Engine(Model):
    name: str
    type: str
    config: Any
    created_at: datetime
    updated_at: datetime
    root_rotated_at: datetime | None = None
    live_leases: int


@dataclass(frozen=True, repr=False, kw_only=True)
class Role(Model):
    name: str
    engine: str
    default_ttl: int
    max_ttl: int
    max_leases: int | None = None
    config: Any
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, repr=False, kw_only=True)
class LeaseCreated(Model):
    _secret_fields: ClassVar[frozenset[str]] = frozenset({'data'})
    lease_id: str
    lease_duration: int
    renewable: bool
    expires_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True, repr=False, kw_only=True)
class Lease(Model):
    id: str
    engine: str
    role: str
    identity: str
    status: str
    renewable: bool
    username: str | None = None
    issued_at: datetime
    expires_at: datetime
    max_expires_at: datetime
    revoked_at: datetime | None = None
    revocation_attempts: int | None = None
    last_error: str | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class RevokePrefixResult(Model):
    revoked: int
    pending: int


# -------------------- Sys


@dataclass(frozen=True, repr=False, kw_only=True)
class Health(Model):
    status: str
    version: str


@dataclass(frozen=True, repr=False, kw_only=True)
class SealStatus(Model):
    sealed: bool
    provider: str
    reason: str | None = None


@dataclass(frozen=True, repr=False, kw_only=True)
class DataKeyInfo(Model):
    key_id: str
    purpose: str
    active: bool
    wrapped_by: str
    created_at: datetime
    sealed_values: int


@dataclass(frozen=True, repr=False, kw_only=True)
class RewrapProgress(Model):
    pending: int
    resealed: int
    failed: int
    running: bool


@dataclass(frozen=True, repr=False, kw_only=True)
class KeyringStatus(Model):
    provider: str
    active_key_id: str
    keys: list[DataKeyInfo]
    rewrap: RewrapProgress


__all__ = [
    'SecretMetadata',
    'Secret',
    'WriteResult',
    'SecretSummary',
    'VersionInfo',
    'RotationPolicyRef',
    'SecretInfo',
    'RotateResult',
    'ExpiringSecret',
    'RestoreResult',
    'WhoAmI',
    'CreatedToken',
    'TokenInfo',
    'Rule',
    'Policy',
    'Binding',
    'DecidingRule',
    'PolicyTestResult',
    'GeneratorField',
    'SecretPolicy',
    'GeneratedValue',
    'GeneratorCatalogue',
    'RotationPolicy',
    'AssignResult',
    'RotationRun',
    'TriggerResult',
    'ScheduledRotation',
    'AuditEntry',
    'AuditCount',
    'AuditSummary',
    'AuditChainReport',
    'AuditVerifyResult',
    'Event',
    'Subscription',
    'PollPage',
    'DeadLetter',
    'Partner',
    'Tenant',
    'GroupMembership',
    'RegisterResult',
    'ServiceAccount',
    'CreatedApiKey',
    'ApiKeyInfo',
    'Ca',
    'IssuedCertificate',
    'Certificate',
    'Csr',
    'SignedCertificate',
    'Engine',
    'Role',
    'LeaseCreated',
    'Lease',
    'RevokePrefixResult',
    'Health',
    'SealStatus',
    'DataKeyInfo',
    'RewrapProgress',
    'KeyringStatus',
]
