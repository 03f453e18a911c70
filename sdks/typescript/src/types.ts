// The SDK's request and response types: aliases into the types generated from the server's
// OpenAPI document (src/openapi.ts, `npm run generate -- <url>`), so they cannot drift.

import type { components } from "./openapi.js";

/** Every schema of the API, by its OpenAPI name. */
export type Schemas = components["schemas"];

// --- secrets -------------------------------------------------------------------------------
export type SecretType = Schemas["SecretType"];
export type SecretMetadata = Schemas["SecretMetadata"];
export type SecretOptions = Schemas["SecretOptions"];
export type WriteSecretRequest = Schemas["WriteSecretRequest"];
export type WriteSecretResponse = Schemas["WriteSecretResponse"];
export type ReadSecretResponse = Schemas["ReadSecretResponse"];
/** `secrets.read`'s answer. */
export type Secret = ReadSecretResponse;
export type PatchSecretRequest = Schemas["PatchSecretRequest"];
export type SecretSummary = Schemas["SecretSummary"];
export type ListSecretsResponse = Schemas["ListSecretsResponse"];
export type VersionInfo = Schemas["VersionInfo"];
export type VersionsResponse = Schemas["VersionsResponse"];
export type SecretMetadataResponse = Schemas["SecretMetadataResponse"];
export type RotateSecretRequest = Schemas["RotateSecretRequest"];
export type RotateSecretResponse = Schemas["RotateSecretResponse"];
export type ExpiringSecret = Schemas["ExpiringSecret"];
export type ExpiringSecretsResponse = Schemas["ExpiringSecretsResponse"];
export type RestoreSecretResponse = Schemas["RestoreSecretResponse"];

// --- auth ----------------------------------------------------------------------------------
export type WhoAmIResponse = Schemas["WhoAmIResponse"];
export type CreateTokenRequest = Schemas["CreateTokenRequest"];
export type CreateTokenResponse = Schemas["CreateTokenResponse"];
export type TokenInfo = Schemas["TokenInfo"];
export type TokenListResponse = Schemas["TokenListResponse"];
export type ExchangeRequest = Schemas["ExchangeRequest"];

// --- policies ------------------------------------------------------------------------------
export type Rule = Schemas["Rule"];
export type PolicyRequest = Schemas["PolicyRequest"];
export type Policy = Schemas["Policy"];
export type PolicyList = Schemas["PolicyList"];
export type BindRequest = Schemas["BindRequest"];
export type Binding = Schemas["Binding"];
export type BindingList = Schemas["BindingList"];
export type PolicyTestRequest = Schemas["PolicyTestRequest"];
export type PolicyTestResponse = Schemas["PolicyTestResponse"];

// --- secret policies and rotation ----------------------------------------------------------
export type SecretPolicyRequest = Schemas["SecretPolicyRequest"];
export type SecretPolicy = Schemas["SecretPolicy"];
export type SecretPolicyList = Schemas["SecretPolicyList"];
export type GeneratedValue = Schemas["GeneratedValue"];
export type GeneratorCatalogue = Schemas["GeneratorCatalogue"];
export type RotationPolicyRequest = Schemas["RotationPolicyRequest"];
export type RotationPolicy = Schemas["RotationPolicy"];
export type RotationPolicyList = Schemas["RotationPolicyList"];
export type AssignRequest = Schemas["AssignRequest"];
export type AssignResponse = Schemas["AssignResponse"];
export type TriggerRequest = Schemas["TriggerRequest"];
export type TriggerResponse = Schemas["TriggerResponse"];
export type RotationRun = Schemas["RotationRun"];
export type RotationRunList = Schemas["RotationRunList"];
export type ScheduledRotation = Schemas["ScheduledRotation"];
export type ScheduledRotationList = Schemas["ScheduledRotationList"];

// --- audit ---------------------------------------------------------------------------------
export type AuditEntry = Schemas["AuditEntry"];
export type AuditListResponse = Schemas["AuditListResponse"];
export type AuditSummaryResponse = Schemas["AuditSummaryResponse"];
export type AuditVerifyResponse = Schemas["AuditVerifyResponse"];

// --- subscriptions -------------------------------------------------------------------------
export type Event = Schemas["Event"];
export type CreateSubscriptionRequest = Schemas["CreateSubscriptionRequest"];
export type Subscription = Schemas["Subscription"];
export type SubscriptionList = Schemas["SubscriptionList"];
export type PollResponse = Schemas["PollResponse"];
export type DeadLetterInfo = Schemas["DeadLetterInfo"];
export type DeadLetterList = Schemas["DeadLetterList"];

// --- service accounts and identity ---------------------------------------------------------
export type CreateServiceAccountRequest = Schemas["CreateServiceAccountRequest"];
export type ServiceAccount = Schemas["ServiceAccount"];
export type ServiceAccountList = Schemas["ServiceAccountList"];
export type CreateApiKeyRequest = Schemas["CreateApiKeyRequest"];
export type CreateApiKeyResponse = Schemas["CreateApiKeyResponse"];
export type ApiKeyInfo = Schemas["ApiKeyInfo"];
export type ApiKeyList = Schemas["ApiKeyList"];
export type CreatePartnerRequest = Schemas["CreatePartnerRequest"];
export type Partner = Schemas["Partner"];
export type PartnerList = Schemas["PartnerList"];
export type CreateTenantRequest = Schemas["CreateTenantRequest"];
export type Tenant = Schemas["Tenant"];
export type TenantList = Schemas["TenantList"];
export type SetGroupsRequest = Schemas["SetGroupsRequest"];
export type GroupsResponse = Schemas["GroupsResponse"];
export type RegisterRequest = Schemas["RegisterRequest"];
export type RegisterResponse = Schemas["RegisterResponse"];

// --- PKI -----------------------------------------------------------------------------------
export type CreateCaRequest = Schemas["CreateCaRequest"];
export type ImportCaRequest = Schemas["ImportCaRequest"];
export type Ca = Schemas["Ca"];
export type CaList = Schemas["CaList"];
export type IssueCertificateRequest = Schemas["IssueCertificateRequest"];
export type IssuedCertificate = Schemas["IssuedCertificate"];
export type CertRenewRequest = Schemas["CertRenewRequest"];
export type Certificate = Schemas["Certificate"];
export type CertificateList = Schemas["CertificateList"];
export type RevokeRequest = Schemas["RevokeRequest"];
export type SubmitCsrRequest = Schemas["SubmitCsrRequest"];
export type Csr = Schemas["Csr"];
export type CsrList = Schemas["CsrList"];
export type RejectCsrRequest = Schemas["RejectCsrRequest"];
export type SignCsrRequest = Schemas["SignCsrRequest"];
export type SignedCertificate = Schemas["SignedCertificate"];

// --- dynamic credentials -------------------------------------------------------------------
export type CreateEngineRequest = Schemas["CreateEngineRequest"];
export type UpdateEngineRequest = Schemas["UpdateEngineRequest"];
export type Engine = Schemas["Engine"];
export type EngineList = Schemas["EngineList"];
export type CreateRoleRequest = Schemas["CreateRoleRequest"];
export type UpdateRoleRequest = Schemas["UpdateRoleRequest"];
export type Role = Schemas["Role"];
export type RoleList = Schemas["RoleList"];
export type CredsRequest = Schemas["CredsRequest"];
export type LeaseCreated = Schemas["LeaseCreated"];
export type Lease = Schemas["Lease"];
export type LeaseList = Schemas["LeaseList"];
export type RevokePrefixRequest = Schemas["RevokePrefixRequest"];
export type RevokePrefixResult = Schemas["RevokePrefixResult"];

// --- system --------------------------------------------------------------------------------
export type HealthResponse = Schemas["HealthResponse"];
export type SealStatus = Schemas["SealStatus"];
export type KeyringStatus = Schemas["KeyringStatus"];

/** The error envelope `{"error": {"code", "message", "request_id"}}`. */
export type ErrorBody = Schemas["ErrorBody"];
