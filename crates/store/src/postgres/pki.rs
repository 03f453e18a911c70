//! The internal CA's tables in PostgreSQL (the statements are in [`crate::sql::pki`]). Several
//! nodes write at once: the UPDATEs of the counters and compare-and-sets take the row's lock,
//! so a second caller waits and then sees the first one's result; `UNIQUE (ca_id, serial)`
//! refuses a serial another node inserted (even one not yet committed: the insert waits).

use time::OffsetDateTime;

use super::{PgStore, commit_failed, secrets};
use crate::audit::AuditEvent;
use crate::model::{Page, SecretWrite, WriteOutcome};
use crate::pki::*;
use crate::shared_impls::pki_store;
use crate::sql::pki::*;
use crate::sql::{TextListRef, micros, page_of, records, to_i64, to_u64, unique};
use crate::{Entity, Result, SealFn, StoreError};

crate::sql::pki::shared_bindings!(sqlx::PgConnection, sqlx::PgPool);

pki_store!(PgStore, {
    /// In one transaction: the certificate row, then the secret write exactly as `write_secret`
    /// applies it (`secrets::write_in` under the secret's row lock, with the write's own audit
    /// entry and event), then `audit` (audit heads are locked last, as everywhere).
    async fn insert_certificate(
        &self,
        cert: &CertRecord,
        secret: Option<(SecretWrite, Box<SealFn>)>,
        audit: Option<&AuditEvent>,
    ) -> Result<Option<WriteOutcome>> {
        check_certificate_secret(cert, secret.as_ref().map(|(write, _)| write))?;
        let mut tx = self.pool.begin().await?;
        insert_cert_row(&mut tx, cert, cert.csr_id.as_deref()).await?;
        let outcome = match &secret {
            Some((write, seal)) => {
                let outcome =
                    secrets::write_in(&mut tx, &cert.tenant_id, write, seal.as_ref()).await?;
                if let Some(event) = &write.audit {
                    let mut event = event.clone();
                    event.version = Some(outcome.version);
                    self.record_in(&mut tx, Some(&event), outcome.previous_version)
                        .await?;
                }
                Some(outcome)
            }
            None => None,
        };
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(outcome)
    }

    async fn next_crl_number(&self, ca_id: &str) -> Result<u64> {
        let number: i64 = sqlx::query_scalar(NEXT_CRL_NUMBER)
            .bind(ca_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound(Entity::CertificateAuthority))?;
        to_u64(number, "CRL number")
    }

    async fn store_crl(&self, crl: &CrlRecord) -> Result<bool> {
        let done = sqlx::query(STORE_CRL)
            .bind(&crl.ca_id)
            .bind(to_i64(crl.number))
            .bind(&crl.der)
            .bind(micros(crl.this_update))
            .bind(micros(crl.next_update))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
});
