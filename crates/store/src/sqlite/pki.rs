//! The internal CA's tables in SQLite (the statements are in [`crate::sql::pki`]). Every change
//! runs on the single writer connection, so the counters and compare-and-sets need no locks.

use async_trait::async_trait;
use sqlx::SqliteConnection;
use time::OffsetDateTime;

use super::{SqliteStore, audit, events, secrets};
use crate::audit::AuditEvent;
use crate::model::{Page, SecretWrite, WriteOutcome};
use crate::pki::*;
use crate::sql::pki::*;
use crate::sql::{TextListRef, micros, page_of, records, to_i64, to_u64, unique};
use crate::{Entity, Result, SealFn, StoreError};

async fn insert_ca_row(conn: &mut SqliteConnection, ca: &CaRecord) -> Result<()> {
    sqlx::query(INSERT_CA)
        .bind(&ca.id)
        .bind(&ca.tenant_id)
        .bind(&ca.name)
        .bind(&ca.parent_ca_id)
        .bind(&ca.common_name)
        .bind(&ca.key_type)
        .bind(&ca.cert_der)
        .bind(&ca.sealed_key.key_id)
        .bind(&ca.sealed_key.ciphertext)
        .bind(&ca.serial)
        .bind(micros(ca.not_before))
        .bind(micros(ca.not_after))
        .bind(&ca.status)
        .bind(ca.separation_of_duties)
        .bind(&ca.settings)
        .bind(ca.imported)
        .bind(micros(ca.created_at))
        .bind(micros(ca.updated_at))
        .execute(&mut *conn)
        .await
        .map_err(unique)?;
    Ok(())
}

/// `Duplicate` when the id or (CA, serial) is taken.
async fn insert_cert_row(
    conn: &mut SqliteConnection,
    cert: &CertRecord,
    csr_id: Option<&str>,
) -> Result<()> {
    sqlx::query(INSERT_CERT)
        .bind(&cert.id)
        .bind(&cert.tenant_id)
        .bind(&cert.ca_id)
        .bind(&cert.serial)
        .bind(&cert.common_name)
        .bind(TextListRef(&cert.sans))
        .bind(&cert.key_type)
        .bind(&cert.usage)
        .bind(micros(cert.not_before))
        .bind(micros(cert.not_after))
        .bind(&cert.cert_der)
        .bind(&cert.secret_path)
        .bind(csr_id)
        .bind(cert.revoked_at.map(micros))
        .bind(&cert.revocation_reason)
        .bind(&cert.issued_by)
        .bind(micros(cert.created_at))
        .execute(&mut *conn)
        .await
        .map_err(unique)?;
    Ok(())
}

#[async_trait]
impl PkiStore for SqliteStore {
    async fn insert_ca(&self, ca: &CaRecord, audit: Option<&AuditEvent>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_ca_row(&mut tx, ca).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_ca(&self, tenant_id: &str, id: &str) -> Result<Option<CaRecord>> {
        let row: Option<CaRow> = sqlx::query_as(GET_CA)
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn find_ca(&self, id: &str) -> Result<Option<CaRecord>> {
        let row: Option<CaRow> = sqlx::query_as(FIND_CA)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list_cas(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<CaRecord>> {
        let rows: Vec<CaRow> = sqlx::query_as(LIST_CAS)
            .bind(tenant_id)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.reader)
            .await?;
        Ok(page_of(records(rows)?, limit, None))
    }

    async fn disable_ca(
        &self,
        tenant_id: &str,
        id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(DISABLE_CA)
            .bind(tenant_id)
            .bind(id)
            .bind(micros(now))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// On the writer connection, in one transaction: the certificate row, then the secret
    /// write exactly as the group-commit writer applies one ([`secrets::write_in`], with the
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

    async fn get_certificate(&self, tenant_id: &str, id: &str) -> Result<Option<CertRecord>> {
        let row: Option<CertRow> = sqlx::query_as(GET_CERT)
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn certificate_by_serial(&self, ca_id: &str, serial: &str) -> Result<Option<CertRecord>> {
        let row: Option<CertRow> = sqlx::query_as(CERT_BY_SERIAL)
            .bind(ca_id)
            .bind(serial)
            .fetch_optional(&self.reader)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list_certificates(&self, tenant_id: &str, q: &CertQuery) -> Result<Page<CertRecord>> {
        let rows: Vec<CertRow> = sqlx::query_as(LIST_CERTS)
            .bind(tenant_id)
            .bind(q.after.as_deref().unwrap_or(""))
            .bind(q.ca_id.as_deref())
            .bind(status_code(q.status))
            .bind(micros(q.now))
            .bind(q.expiring_before.map(micros))
            .bind(i64::from(q.limit) + 1)
            .fetch_all(&self.reader)
            .await?;
        Ok(page_of(records(rows)?, q.limit, None))
    }

    async fn revoke_certificate(
        &self,
        tenant_id: &str,
        id: &str,
        at: OffsetDateTime,
        reason: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(REVOKE_CERT)
            .bind(tenant_id)
            .bind(id)
            .bind(micros(at))
            .bind(reason)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn revoked_certificates(
        &self,
        ca_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<CertRecord>> {
        let rows: Vec<CertRow> = sqlx::query_as(REVOKED_CERTS)
            .bind(ca_id)
            .bind(micros(now))
            .fetch_all(&self.reader)
            .await?;
        records(rows)
    }

    async fn insert_csr(&self, csr: &CsrRecord, audit: Option<&AuditEvent>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(INSERT_CSR)
            .bind(&csr.id)
            .bind(&csr.tenant_id)
            .bind(&csr.csr_pem)
            .bind(&csr.common_name)
            .bind(TextListRef(&csr.sans))
            .bind(&csr.key_type)
            .bind(&csr.status)
            .bind(&csr.submitted_by)
            .bind(&csr.decided_by)
            .bind(csr.decided_at.map(micros))
            .bind(&csr.reason)
            .bind(&csr.cert_id)
            .bind(micros(csr.created_at))
            .execute(&mut *tx)
            .await
            .map_err(unique)?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_csr(&self, tenant_id: &str, id: &str) -> Result<Option<CsrRecord>> {
        let row: Option<CsrRow> = sqlx::query_as(GET_CSR)
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list_csrs(
        &self,
        tenant_id: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<CsrRecord>> {
        let rows: Vec<CsrRow> = sqlx::query_as(LIST_CSRS)
            .bind(tenant_id)
            .bind(status)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.reader)
            .await?;
        Ok(page_of(records(rows)?, limit, None))
    }

    async fn decide_csr(
        &self,
        tenant_id: &str,
        id: &str,
        from: &str,
        to: &str,
        by: &str,
        at: OffsetDateTime,
        reason: Option<&str>,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(DECIDE_CSR)
            .bind(tenant_id)
            .bind(id)
            .bind(from)
            .bind(to)
            .bind(by)
            .bind(micros(at))
            .bind(reason)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn sign_csr(
        &self,
        tenant_id: &str,
        id: &str,
        cert: &CertRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        if cert.tenant_id != tenant_id {
            return Err(StoreError::Invalid("the certificate is another tenant's"));
        }
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(SIGN_CSR)
            .bind(tenant_id)
            .bind(id)
            .bind(&cert.id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_cert_row(&mut tx, cert, Some(id)).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
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

    async fn latest_crl(&self, ca_id: &str) -> Result<Option<CrlRecord>> {
        let row: Option<CrlRow> = sqlx::query_as(LATEST_CRL)
            .bind(ca_id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn certificates_expiring_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<CertRecord>> {
        let rows: Vec<CertRow> = sqlx::query_as(EXPIRING_CERTS)
            .bind(micros(from))
            .bind(micros(to))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        records(rows)
    }
}
