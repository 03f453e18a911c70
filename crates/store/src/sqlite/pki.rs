//! The internal CA's tables in SQLite (the statements are in [`crate::sql::pki`]). Every change
//! runs on the single writer connection, so the counters and compare-and-sets need no locks.

use time::OffsetDateTime;

use super::{SqliteStore, audit, events, secrets};
use crate::audit::AuditEvent;
use crate::model::{Page, SecretWrite, WriteOutcome};
use crate::pki::*;
use crate::shared_impls::pki_store;
use crate::sql::pki::*;
use crate::sql::{TextListRef, micros, page_of, records, to_i64, to_u64, unique};
use crate::{Entity, Result, SealFn, StoreError};

crate::sql::pki::shared_bindings!(sqlx::SqliteConnection, sqlx::SqlitePool);

pki_store!(SqliteStore, {
    /// On the writer connection, in one transaction: the certificate row, then the secret
    /// write exactly as the group-commit writer applies one (`secrets::write_in`, with the
    /// write's own audit entry and event as `commit_batch` records them), then `audit`.
    async fn insert_certificate(
        &self,
        cert: &CertRecord,
        secret: Option<(SecretWrite, Box<SealFn>)>,
        audit: Option<&AuditEvent>,
    ) -> Result<Option<WriteOutcome>> {
        check_certificate_secret(cert, secret.as_ref().map(|(write, _)| write))?;
        let mut tx = self.writer.begin().await?;
        insert_cert_row(&mut tx, cert, cert.csr_id.as_deref()).await?;
        let outcome = match &secret {
            Some((write, seal)) => {
                let outcome =
                    secrets::write_in(&mut tx, &cert.tenant_id, write, seal.as_ref()).await?;
                if let Some(event) = &write.audit {
                    let mut event = event.clone();
                    event.version = Some(outcome.version);
                    audit::append_in(&mut tx, std::slice::from_ref(&event), self.mac()).await?;
                    let outbox = crate::events::event_for(&event, outcome.previous_version);
                    events::insert_in(&mut tx, outbox.as_slice()).await?;
                }
                Some(outcome)
            }
            None => None,
        };
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn next_crl_number(&self, ca_id: &str) -> Result<u64> {
        let mut tx = self.writer.begin().await?;
        let number: i64 = sqlx::query_scalar(NEXT_CRL_NUMBER)
            .bind(ca_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound(Entity::CertificateAuthority))?;
        tx.commit().await?;
        to_u64(number, "CRL number")
    }

    async fn store_crl(&self, crl: &CrlRecord) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(STORE_CRL)
            .bind(&crl.ca_id)
            .bind(to_i64(crl.number))
            .bind(&crl.der)
            .bind(micros(crl.this_update))
            .bind(micros(crl.next_update))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
});
