//! ACME tables in PostgreSQL (the statements are in [`crate::sql::acme`]). Several nodes work
//! at once:
//! - a claim selects its order `FOR UPDATE SKIP LOCKED`, so two nodes claiming together take
//!   two different orders (or one takes it and the other none), never the same one; a row
//!   claimed and committed meanwhile is re-checked and skipped;
//! - deleting a DNS provider locks its row `FOR UPDATE` before counting the unfinished orders
//!   that use it, and an order insert naming it holds it `FOR SHARE`: whichever comes second
//!   waits, then sees the other's result (the count is a fresh statement under READ COMMITTED).

use time::OffsetDateTime;

use super::PgStore;
use crate::acme::*;
use crate::audit::AuditEvent;
use crate::model::Page;
use crate::shared_impls::acme_store;
use crate::sql::acme::*;
use crate::sql::{TextListRef, micros, page_of, records, unique};
use crate::{Entity, Result, StoreError};

const CLAIM_DUE_ORDER: &str = CLAIM_DUE_ORDER_POSTGRES;
const LOCK_DNS_PROVIDER: &str = LOCK_DNS_PROVIDER_POSTGRES;
const SHARE_DNS_PROVIDER: &str = SHARE_DNS_PROVIDER_POSTGRES;

acme_store!(PgStore);
