//! `/health` and `/health/ready`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    /// `ok` when the process is alive.
    pub status: String,
    pub version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ReadyResponse {
    /// `ready` or `not_ready`.
    pub status: String,
    /// `ok` or an error summary (never secret) per dependency: `store`, `keys`.
    pub checks: std::collections::BTreeMap<String, String>,
}
