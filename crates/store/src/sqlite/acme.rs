//! ACME tables in SQLite (the statements are in [`crate::sql::acme`]). Every change runs on
//! the single writer connection, so a claim's SELECT and UPDATE (one statement anyway) and a
//! DNS provider's in-use check and delete need no row lock.

use time::OffsetDateTime;

use super::SqliteStore;
use crate::acme::*;
use crate::audit::AuditEvent;
use crate::model::Page;
use crate::shared_impls::acme_store;
use crate::sql::acme::*;
use crate::sql::{TextListRef, micros, page_of, records, unique};
use crate::{Entity, Result, StoreError};

const CLAIM_DUE_ORDER: &str = CLAIM_DUE_ORDER_SQLITE;
const LOCK_DNS_PROVIDER: &str = LOCK_DNS_PROVIDER_SQLITE;
const SHARE_DNS_PROVIDER: &str = SHARE_DNS_PROVIDER_SQLITE;

acme_store!(SqliteStore);
