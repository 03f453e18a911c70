//! The store-trait implementations both backends share, written once.
//!
//! Each macro expands to one trait's `impl` for a backend. Inside it, `self.writer()` and
//! `self.reader()` are the backend's connection pools (SQLite: its single writer and its read
//! pool; PostgreSQL: its one pool for both), and a module path such as `policies::insert` names
//! the backend's own statement-binding module (`sqlite/policies.rs` or `postgres/policies.rs`),
//! because `macro_rules!` resolves item paths where the macro is invoked. So the logic of a
//! method (its transaction, its audit entry, its checks) is written here once, while each
//! backend keeps what its dialect does differently in its own modules. A method the backends
//! implement differently is written in the backend and passed in.

/// `SystemStore` for both backends (the methods they do differently are passed in).
macro_rules! system_store {
    ($store:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::SystemStore for $store {

            async fn gauge_snapshot(
                &self,
                now: time::OffsetDateTime,
                expiring_before: time::OffsetDateTime,
            ) -> Result<crate::gauges::GaugeSnapshot> {
                let month = now + time::Duration::days(30);
                let row: crate::gauges::SnapshotRow = sqlx::query_as(crate::gauges::SNAPSHOT)
                    .bind(crate::sql::micros(now))
                    .bind(crate::sql::micros(expiring_before))
                    .bind(crate::sql::micros(month))
                    .fetch_one(self.reader())
                    .await?;
                Ok(row.into())
            }

            async fn get_system(&self, key: &str) -> Result<Option<String>> {
                Ok(sqlx::query_scalar(crate::sql::system::GET)
                    .bind(key)
                    .fetch_optional(self.reader())
                    .await?)
            }


            async fn set_system(&self, key: &str, value: &str) -> Result<()> {
                sqlx::query(crate::sql::system::SET)
                    .bind(key)
                    .bind(value)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }


            async fn list_data_keys(&self) -> Result<Vec<StoredKey>> {
                tokens::list_data_keys(self.reader()).await
            }


            async fn insert_data_key(&self, key: &StoredKey) -> Result<()> {
                tokens::insert_data_key(self.writer(), key).await
            }


            async fn rotate_data_key(&self, key: &StoredKey) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                sqlx::query(crate::sql::system::DEACTIVATE_DATA_KEYS)
                    .bind(&key.purpose)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(crate::sql::system::INSERT_DATA_KEY)
                    .bind(&key.key_id)
                    .bind(&key.purpose)
                    .bind(&key.provider)
                    .bind(&key.wrapped)
                    .bind(crate::sql::micros(key.created_at))
                    .bind(true)
                    .execute(&mut *tx)
                    .await
                    .map_err(crate::sql::unique)?;
                tx.commit().await?;
                Ok(())
            }


            async fn replace_wrapped_keys(&self, keys: &[StoredKey]) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                for key in keys {
                    let done = sqlx::query(crate::sql::system::REPLACE_WRAPPED)
                        .bind(&key.key_id)
                        .bind(&key.wrapped)
                        .bind(&key.provider)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() != 1 {
                        // Dropping the transaction rolls back the keys replaced before.
                        return Err(crate::StoreError::NotFound(crate::Entity::DataKey));
                    }
                }
                tx.commit().await?;
                Ok(())
            }


            async fn sealed_not_under(
                &self,
                kind: SealedKind,
                active_key_id: &str,
                after: Option<&SealedLocator>,
                limit: u32,
            ) -> Result<Vec<SealedRow>> {
                let (tenant_id, id, version) = match after {
                    Some(at) => (at.tenant_id.as_str(), at.id.as_str(), crate::sql::to_i64(at.version)),
                    None => ("", "", -1),
                };
                let rows: Vec<crate::sql::system::SealedDbRow> =
                    sqlx::query_as(crate::sql::system::sealed_not_under(kind))
                        .bind(active_key_id)
                        .bind(tenant_id)
                        .bind(id)
                        .bind(version)
                        .bind(i64::from(limit))
                        .fetch_all(self.reader())
                        .await?;
                rows.into_iter().map(|row| row.into_row(kind)).collect()
            }


            async fn reseal(&self, row: &SealedRow, new: &SealedBlob) -> Result<bool> {
                let done = sqlx::query(crate::sql::system::reseal(row.kind))
                    .bind(&row.at.tenant_id)
                    .bind(&row.at.id)
                    .bind(crate::sql::to_i64(row.at.version))
                    .bind(&new.key_id)
                    .bind(&new.ciphertext)
                    .bind(&row.sealed.key_id)
                    .bind(&row.sealed.ciphertext)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }


            async fn count_sealed_by_key(&self) -> Result<Vec<(String, u64)>> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as(crate::sql::system::COUNT_SEALED_BY_KEY)
                        .fetch_all(self.reader())
                        .await?;
                rows.into_iter()
                    .map(|(key_id, n)| Ok((key_id, crate::sql::to_u64(n, "count")?)))
                    .collect()
            }

            $($own)*
        }
    };
}
pub(crate) use system_store;

/// `SecretStore` for both backends (the methods they do differently are passed in).
macro_rules! secret_store {
    ($store:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::SecretStore for $store {

            async fn read_secret(
                &self,
                tenant_id: &str,
                path: &str,
                version: Option<u64>,
                now: OffsetDateTime,
            ) -> Result<(SecretRecord, VersionRecord)> {
                secrets::read(self.reader(), tenant_id, path, version, now).await
            }


            async fn get_secret(&self, tenant_id: &str, path: &str) -> Result<SecretRecord> {
                secrets::get(self.reader(), tenant_id, path).await
            }


            async fn patch_secret(
                &self,
                tenant_id: &str,
                path: &str,
                patch: &SecretPatch,
                now: OffsetDateTime,
                audit: Option<&AuditEvent>,
            ) -> Result<SecretRecord> {
                let mut tx = self.writer().begin().await?;
                let record = secrets::patch(&mut tx, tenant_id, path, patch, now).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(record)
            }


            async fn list_secrets(&self, tenant_id: &str, q: &ListQuery) -> Result<Page<SecretRecord>> {
                secrets::list(self.reader(), tenant_id, q).await
            }


            async fn list_expiring(
                &self,
                tenant_id: &str,
                q: &ExpiringQuery,
            ) -> Result<Page<SecretRecord>> {
                secrets::list_expiring(self.reader(), tenant_id, q).await
            }


            async fn list_versions(
                &self,
                tenant_id: &str,
                path: &str,
                now: OffsetDateTime,
            ) -> Result<Vec<VersionRecord>> {
                secrets::list_versions(self.reader(), tenant_id, path, now).await
            }


            async fn soft_delete(
                &self,
                tenant_id: &str,
                path: &str,
                now: OffsetDateTime,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                secrets::soft_delete(&mut tx, tenant_id, path, now).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }


            async fn restore(
                &self,
                tenant_id: &str,
                path: &str,
                _now: OffsetDateTime,
                audit: Option<&AuditEvent>,
            ) -> Result<SecretRecord> {
                let mut tx = self.writer().begin().await?;
                let record = secrets::restore(&mut tx, tenant_id, path).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(record)
            }


            async fn hard_delete(
                &self,
                tenant_id: &str,
                path: &str,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                secrets::hard_delete(&mut tx, tenant_id, path).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }


            async fn delete_version(
                &self,
                tenant_id: &str,
                path: &str,
                version: u64,
                now: OffsetDateTime,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                secrets::delete_version(&mut tx, tenant_id, path, version, now).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }


            async fn record_access(&self, hits: &[AccessHit]) -> Result<()> {
                secrets::record_access(self.writer(), hits).await
            }


            async fn access_stats(
                &self,
                tenant_id: &str,
                path: &str,
                since: OffsetDateTime,
            ) -> Result<(u64, Option<OffsetDateTime>)> {
                secrets::access_stats(self.reader(), tenant_id, path, since).await
            }


            async fn sweep(
                &self,
                deleted_before: OffsetDateTime,
                now: OffsetDateTime,
            ) -> Result<(u64, u64)> {
                secrets::sweep(self.writer(), deleted_before, now).await
            }


            async fn secrets_expiring_between(
                &self,
                from: OffsetDateTime,
                to: OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<(String, String, OffsetDateTime)>> {
                events::expiring_between(self.reader(), from, to, limit).await
            }

            $($own)*
        }
    };
}
pub(crate) use secret_store;

/// `TokenStore` for both backends (the methods they do differently are passed in).
macro_rules! token_store {
    ($store:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::TokenStore for $store {
            async fn insert_token(&self, t: &TokenRecord, audit: Option<&AuditEvent>) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                tokens::insert(&mut tx, t).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }


            async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
                tokens::find(self.reader(), token_hash).await
            }


            async fn list_tokens(
                &self,
                tenant_id: &str,
                identity_id: &str,
                after_id: Option<&str>,
                limit: u32,
            ) -> Result<Page<TokenRecord>> {
                tokens::list(self.reader(), tenant_id, identity_id, after_id, limit).await
            }


            async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>> {
                tokens::get(self.reader(), id).await
            }


            async fn revoke_token(
                &self,
                tenant_id: &str,
                identity_id: &str,
                token_id: &str,
                now: OffsetDateTime,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                if !tokens::revoke(&mut tx, tenant_id, identity_id, token_id, now).await? {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            $($own)*
        }
    };
}
pub(crate) use token_store;

/// `IdentityStore` for both backends.
macro_rules! identity_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::IdentityStore for $store {
            async fn insert_partner(
                &self,
                p: &PartnerRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                identity::insert_partner(&mut tx, p).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_partner(&self, id: &str) -> Result<Option<PartnerRecord>> {
                identity::get_partner(self.reader(), id).await
            }

            async fn list_partners(
                &self,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Page<PartnerRecord>> {
                identity::list_partners(self.reader(), after, limit).await
            }

            async fn insert_tenant(
                &self,
                t: &TenantRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                identity::insert_tenant(&mut tx, t).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_tenant(&self, id: &str) -> Result<Option<TenantRecord>> {
                identity::get_tenant(self.reader(), id).await
            }

            async fn register_tenant(
                &self,
                partner: Option<&PartnerRecord>,
                tenant: &TenantRecord,
                admin_token: &TokenRecord,
                audit: &[AuditEvent],
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                identity::register_tenant(&mut tx, partner, tenant, admin_token).await?;
                for event in audit {
                    self.audit_in(&mut tx, Some(event)).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_tenants(
                &self,
                partner_id: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Page<TenantRecord>> {
                identity::list_tenants(self.reader(), partner_id, after, limit).await
            }

            async fn insert_service_account(
                &self,
                sa: &ServiceAccountRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                identity::insert_service_account(&mut tx, sa).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_service_account(
                &self,
                tenant_id: &str,
                id: &str,
            ) -> Result<Option<ServiceAccountRecord>> {
                identity::get_service_account(self.reader(), tenant_id, id).await
            }

            async fn list_service_accounts(
                &self,
                tenant_id: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Page<ServiceAccountRecord>> {
                identity::list_service_accounts(self.reader(), tenant_id, after, limit).await
            }

            async fn delete_service_account(
                &self,
                tenant_id: &str,
                id: &str,
                now: OffsetDateTime,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                if !identity::delete_service_account(&mut tx, tenant_id, id, micros(now)).await? {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn set_identity_groups(
                &self,
                tenant_id: &str,
                identity_id: &str,
                groups: &[String],
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                identity::set_groups(&mut tx, tenant_id, identity_id, groups).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn identity_groups(
                &self,
                tenant_id: &str,
                identity_id: &str,
            ) -> Result<Vec<String>> {
                identity::groups_of(self.reader(), tenant_id, identity_id).await
            }
        }
    };
}
pub(crate) use identity_store;

/// `PolicyStore` for both backends.
macro_rules! policy_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::PolicyStore for $store {
            async fn insert_policy(
                &self,
                p: &PolicyRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                policies::insert(&mut tx, p).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_policy(
                &self,
                p: &PolicyRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                if !policies::update(&mut tx, p).await? {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn get_policy(&self, tenant_id: &str, id: &str) -> Result<Option<PolicyRecord>> {
                policies::get(self.reader(), tenant_id, id).await
            }

            async fn list_policies(
                &self,
                tenant_id: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Page<PolicyRecord>> {
                policies::list(self.reader(), tenant_id, after, limit).await
            }

            async fn delete_policy(
                &self,
                tenant_id: &str,
                id: &str,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                if !policies::delete(&mut tx, tenant_id, id).await? {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn bind_policy(
                &self,
                tenant_id: &str,
                binding: &PolicyBinding,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                policies::bind(&mut tx, tenant_id, binding).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn unbind_policy(
                &self,
                tenant_id: &str,
                policy_id: &str,
                identity_id: &str,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                if !policies::unbind(&mut tx, tenant_id, policy_id, identity_id).await? {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn policy_bindings(
                &self,
                tenant_id: &str,
                policy_id: &str,
            ) -> Result<Vec<PolicyBinding>> {
                policies::bindings(self.reader(), tenant_id, policy_id).await
            }

            async fn policies_bound_to(
                &self,
                tenant_id: &str,
                identities: &[String],
            ) -> Result<Vec<PolicyRecord>> {
                policies::bound_to(self.reader(), tenant_id, identities).await
            }
        }
    };
}
pub(crate) use policy_store;

/// `RotationStore` for both backends.
macro_rules! rotation_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::RotationStore for $store {
            async fn insert_secret_policy(
                &self,
                p: &SecretPolicyRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                rotation::insert_secret_policy(&mut tx, p).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_secret_policy(
                &self,
                p: &SecretPolicyRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                if !rotation::update_secret_policy(&mut tx, p).await? {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn get_secret_policy(
                &self,
                tenant_id: &str,
                id: &str,
            ) -> Result<Option<SecretPolicyRecord>> {
                rotation::get_secret_policy(self.reader(), tenant_id, id).await
            }

            async fn list_secret_policies(
                &self,
                tenant_id: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Page<SecretPolicyRecord>> {
                rotation::list_secret_policies(self.reader(), tenant_id, after, limit).await
            }

            async fn delete_secret_policy(
                &self,
                tenant_id: &str,
                id: &str,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                if !rotation::delete_secret_policy(&mut tx, tenant_id, id).await? {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn insert_rotation_policy(
                &self,
                p: &RotationPolicyRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                rotation::insert_rotation_policy(&mut tx, p).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_rotation_policy(
                &self,
                p: &RotationPolicyRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                if !rotation::update_rotation_policy(&mut tx, p).await? {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn get_rotation_policy(
                &self,
                tenant_id: &str,
                id: &str,
            ) -> Result<Option<RotationPolicyRecord>> {
                rotation::get_rotation_policy(self.reader(), tenant_id, id).await
            }

            async fn list_rotation_policies(
                &self,
                tenant_id: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Page<RotationPolicyRecord>> {
                rotation::list_rotation_policies(self.reader(), tenant_id, after, limit).await
            }

            async fn delete_rotation_policy(
                &self,
                tenant_id: &str,
                id: &str,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                if !rotation::delete_rotation_policy(&mut tx, tenant_id, id).await? {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn set_secret_rotation_policy(
                &self,
                tenant_id: &str,
                path: &str,
                policy_id: Option<&str>,
                schedule: &ScheduleChange,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                if schedule
                    .target()
                    .is_some_and(|target| target != (tenant_id, path))
                {
                    return Err(StoreError::Invalid("the schedule is another secret's"));
                }
                let mut tx = self.writer().begin().await?;
                if !rotation::set_secret_rotation_policy(&mut tx, tenant_id, path, policy_id)
                    .await?
                {
                    return Ok(false);
                }
                rotation::apply_schedule(&mut tx, schedule).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn get_rotation_schedule(
                &self,
                tenant_id: &str,
                path: &str,
            ) -> Result<Option<ScheduleRecord>> {
                rotation::get_schedule(self.reader(), tenant_id, path).await
            }

            async fn list_rotation_schedules(
                &self,
                tenant_id: &str,
                q: &ScheduleQuery,
            ) -> Result<Page<ScheduleRecord>> {
                rotation::list_schedules(self.reader(), tenant_id, q).await
            }

            async fn due_rotations(
                &self,
                now: OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<ScheduleRecord>> {
                rotation::due(self.reader(), now, limit).await
            }

            async fn due_rotation_warnings(
                &self,
                now: OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<ScheduleRecord>> {
                rotation::due_warnings(self.reader(), now, limit).await
            }

            async fn unscheduled_rotations(
                &self,
                limit: u32,
            ) -> Result<Vec<(String, String, String)>> {
                rotation::unscheduled(self.reader(), limit).await
            }

            async fn commit_rotation_step(&self, step: &RotationStep) -> Result<u64> {
                let mut tx = self.writer().begin().await?;
                let seq = match &step.run {
                    Some(run) => rotation::upsert_run(&mut tx, run).await?,
                    None => 0,
                };
                rotation::apply_schedule(&mut tx, &step.schedule).await?;
                self.audit_in(&mut tx, step.audit.as_ref()).await?;
                // The step's own `rotation.*` events (its audit entry derives none).
                events::insert_in(&mut tx, &step.events).await?;
                tx.commit().await?;
                Ok(seq)
            }

            async fn get_rotation_run(
                &self,
                tenant_id: &str,
                id: &str,
            ) -> Result<Option<RunRecord>> {
                rotation::get_run(self.reader(), tenant_id, id).await
            }

            async fn list_rotation_runs(
                &self,
                tenant_id: &str,
                q: &RunQuery,
            ) -> Result<Page<RunRecord>> {
                rotation::list_runs(self.reader(), tenant_id, q).await
            }

            async fn open_rotation_runs(
                &self,
                status: RunStatus,
                limit: u32,
            ) -> Result<Vec<RunRecord>> {
                rotation::open_runs(self.reader(), status, limit).await
            }
        }
    };
}
pub(crate) use rotation_store;

/// `EventStore` for both backends (the methods they do differently are passed in).
macro_rules! event_store {
    ($store:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::EventStore for $store {
            async fn events_after(
                &self,
                tenants: &[String],
                after_seq: u64,
                limit: u32,
            ) -> Result<Vec<EventRecord>> {
                events::after(self.reader(), tenants, after_seq, limit).await
            }


            async fn last_event_seq(&self) -> Result<u64> {
                events::last_seq(self.reader()).await
            }


            async fn insert_subscription(
                &self,
                s: &SubscriptionRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                events::insert_subscription(&mut tx, s).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }


            async fn get_subscription(
                &self,
                tenant_id: &str,
                id: &str,
            ) -> Result<Option<SubscriptionRecord>> {
                events::get_subscription(self.reader(), tenant_id, id).await
            }


            async fn list_subscriptions(
                &self,
                tenant_id: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Page<SubscriptionRecord>> {
                events::list_subscriptions(self.reader(), tenant_id, after, limit).await
            }


            async fn delete_subscription(
                &self,
                tenant_id: &str,
                id: &str,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                if !events::delete_subscription(&mut tx, tenant_id, id).await? {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }


            async fn set_webhook_secret(
                &self,
                tenant_id: &str,
                id: &str,
                secret: &SealedBlob,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                if !events::set_webhook_secret(&mut tx, tenant_id, id, secret).await? {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }


            async fn webhook_subscriptions(&self) -> Result<Vec<SubscriptionRecord>> {
                events::webhook_subscriptions(self.reader()).await
            }


            async fn dead_letters(&self, subscription_id: &str) -> Result<Vec<DeadLetter>> {
                events::dead_letters(self.reader(), subscription_id).await
            }

            $($own)*
        }
    };
}
pub(crate) use event_store;

/// `PkiStore` for both backends (the methods they do differently are passed in).
macro_rules! pki_store {
    ($store:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::PkiStore for $store {
            async fn insert_ca(&self, ca: &CaRecord, audit: Option<&AuditEvent>) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                insert_ca_row(&mut tx, ca).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }


            async fn get_ca(&self, tenant_id: &str, id: &str) -> Result<Option<CaRecord>> {
                let row: Option<CaRow> = sqlx::query_as(GET_CA)
                    .bind(tenant_id)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                row.map(TryInto::try_into).transpose()
            }


            async fn find_ca(&self, id: &str) -> Result<Option<CaRecord>> {
                let row: Option<CaRow> = sqlx::query_as(FIND_CA)
                    .bind(id)
                    .fetch_optional(self.reader())
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
                    .fetch_all(self.reader())
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
                let mut tx = self.writer().begin().await?;
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


            async fn get_certificate(&self, tenant_id: &str, id: &str) -> Result<Option<CertRecord>> {
                let row: Option<CertRow> = sqlx::query_as(GET_CERT)
                    .bind(tenant_id)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                row.map(TryInto::try_into).transpose()
            }


            async fn certificate_by_serial(&self, ca_id: &str, serial: &str) -> Result<Option<CertRecord>> {
                let row: Option<CertRow> = sqlx::query_as(CERT_BY_SERIAL)
                    .bind(ca_id)
                    .bind(serial)
                    .fetch_optional(self.reader())
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
                    .fetch_all(self.reader())
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
                let mut tx = self.writer().begin().await?;
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
                    .fetch_all(self.reader())
                    .await?;
                records(rows)
            }


            async fn insert_csr(&self, csr: &CsrRecord, audit: Option<&AuditEvent>) -> Result<()> {
                let mut tx = self.writer().begin().await?;
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
                    .fetch_optional(self.reader())
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
                    .fetch_all(self.reader())
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
                let mut tx = self.writer().begin().await?;
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
                let mut tx = self.writer().begin().await?;
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


            async fn latest_crl(&self, ca_id: &str) -> Result<Option<CrlRecord>> {
                let row: Option<CrlRow> = sqlx::query_as(LATEST_CRL)
                    .bind(ca_id)
                    .fetch_optional(self.reader())
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
                    .fetch_all(self.reader())
                    .await?;
                records(rows)
            }

            $($own)*
        }
    };
}
pub(crate) use pki_store;

/// `DynamicStore` for both backends. The one thing the backends do differently is passed in
/// by where the macro is invoked: `lock_lease_caps`, which makes a capped lease insert's count
/// and insert atomic (a no-op on SQLite's single writer; an advisory lock per tenant on
/// PostgreSQL, where several nodes insert at once).
macro_rules! dynamic_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::DynamicStore for $store {
            async fn insert_engine(
                &self,
                engine: &EngineRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                sqlx::query(INSERT_ENGINE)
                    .bind(&engine.tenant_id)
                    .bind(&engine.name)
                    .bind(&engine.kind)
                    .bind(&engine.config)
                    .bind(&engine.sealed_secret.key_id)
                    .bind(&engine.sealed_secret.ciphertext)
                    .bind(micros(engine.created_at))
                    .bind(micros(engine.updated_at))
                    .bind(engine.root_rotated_at.map(micros))
                    .execute(&mut *tx)
                    .await
                    .map_err(unique)?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_engine(
                &self,
                tenant_id: &str,
                name: &str,
            ) -> Result<Option<EngineRecord>> {
                let row: Option<EngineRow> = sqlx::query_as(GET_ENGINE)
                    .bind(tenant_id)
                    .bind(name)
                    .fetch_optional(self.reader())
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_engines(
                &self,
                tenant_id: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Page<EngineRecord>> {
                let rows: Vec<EngineRow> = sqlx::query_as(LIST_ENGINES)
                    .bind(tenant_id)
                    .bind(after.unwrap_or(""))
                    .bind(i64::from(limit) + 1)
                    .fetch_all(self.reader())
                    .await?;
                Ok(page_of(records(rows)?, limit, None))
            }

            async fn update_engine(
                &self,
                engine: &EngineRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query(UPDATE_ENGINE)
                    .bind(&engine.tenant_id)
                    .bind(&engine.name)
                    .bind(&engine.config)
                    .bind(&engine.sealed_secret.key_id)
                    .bind(&engine.sealed_secret.ciphertext)
                    .bind(micros(engine.updated_at))
                    .bind(engine.root_rotated_at.map(micros))
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn delete_engine(
                &self,
                tenant_id: &str,
                name: &str,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                // The roles explicitly (the foreign key cascades too); leases stay as history.
                sqlx::query(DELETE_ENGINE_ROLES)
                    .bind(tenant_id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query(DELETE_ENGINE)
                    .bind(tenant_id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn insert_role(
                &self,
                role: &RoleRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                let engines: i64 = sqlx::query_scalar(ENGINE_EXISTS)
                    .bind(&role.tenant_id)
                    .bind(&role.engine)
                    .fetch_one(&mut *tx)
                    .await?;
                if engines == 0 {
                    return Err(StoreError::NotFound(Entity::DynamicEngine));
                }
                sqlx::query(INSERT_ROLE)
                    .bind(&role.tenant_id)
                    .bind(&role.engine)
                    .bind(&role.name)
                    .bind(&role.config)
                    .bind(to_i64(role.default_ttl_secs))
                    .bind(to_i64(role.max_ttl_secs))
                    .bind(role.max_leases.map(i64::from))
                    .bind(micros(role.created_at))
                    .bind(micros(role.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(role_insert_error)?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_role(
                &self,
                tenant_id: &str,
                engine: &str,
                name: &str,
            ) -> Result<Option<RoleRecord>> {
                let row: Option<RoleRow> = sqlx::query_as(GET_ROLE)
                    .bind(tenant_id)
                    .bind(engine)
                    .bind(name)
                    .fetch_optional(self.reader())
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_roles(
                &self,
                tenant_id: &str,
                engine: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Page<RoleRecord>> {
                let rows: Vec<RoleRow> = sqlx::query_as(LIST_ROLES)
                    .bind(tenant_id)
                    .bind(engine)
                    .bind(after.unwrap_or(""))
                    .bind(i64::from(limit) + 1)
                    .fetch_all(self.reader())
                    .await?;
                Ok(page_of(records(rows)?, limit, None))
            }

            async fn update_role(
                &self,
                role: &RoleRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query(UPDATE_ROLE)
                    .bind(&role.tenant_id)
                    .bind(&role.engine)
                    .bind(&role.name)
                    .bind(&role.config)
                    .bind(to_i64(role.default_ttl_secs))
                    .bind(to_i64(role.max_ttl_secs))
                    .bind(role.max_leases.map(i64::from))
                    .bind(micros(role.updated_at))
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn delete_role(
                &self,
                tenant_id: &str,
                engine: &str,
                name: &str,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query(DELETE_ROLE)
                    .bind(tenant_id)
                    .bind(engine)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn insert_lease(
                &self,
                lease: &LeaseRecord,
                caps: LeaseCaps,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                // Uncapped inserts need no lock: nothing they write is checked against a cap
                // (a tenant cap, when set, is passed with every insert of the tenant).
                if caps.role.is_some() || caps.tenant.is_some() {
                    lock_lease_caps(&mut tx, &lease.tenant_id).await?;
                    check_lease_caps(&mut tx, lease, caps).await?;
                }
                insert_lease_row(&mut tx, lease).await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn activate_lease(
                &self,
                tenant_id: &str,
                id: &str,
                handle: &str,
                now: OffsetDateTime,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query(ACTIVATE_LEASE)
                    .bind(tenant_id)
                    .bind(id)
                    .bind(handle)
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

            async fn get_lease(&self, tenant_id: &str, id: &str) -> Result<Option<LeaseRecord>> {
                let row: Option<LeaseRow> = sqlx::query_as(GET_LEASE)
                    .bind(tenant_id)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_leases(
                &self,
                tenant_id: &str,
                query: &LeaseQuery,
            ) -> Result<Page<LeaseRecord>> {
                let rows: Vec<LeaseRow> = sqlx::query_as(LIST_LEASES)
                    .bind(tenant_id)
                    .bind(query.after.as_deref().unwrap_or(""))
                    .bind(query.engine.as_deref())
                    .bind(query.role.as_deref())
                    .bind(query.identity.as_deref())
                    .bind(query.live_only.then_some(true))
                    .bind(i64::from(query.limit) + 1)
                    .fetch_all(self.reader())
                    .await?;
                Ok(page_of(records(rows)?, query.limit, None))
            }

            async fn renew_lease(
                &self,
                tenant_id: &str,
                id: &str,
                expires_at: OffsetDateTime,
                now: OffsetDateTime,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query(RENEW_LEASE)
                    .bind(tenant_id)
                    .bind(id)
                    .bind(micros(expires_at))
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

            async fn request_revocation(
                &self,
                tenant_id: &str,
                selector: &LeaseSelector,
                now: OffsetDateTime,
                audit: Option<&AuditEvent>,
            ) -> Result<Vec<String>> {
                let mut tx = self.writer().begin().await?;
                let query = match selector {
                    LeaseSelector::One(id) => sqlx::query_scalar(REVOKE_ONE)
                        .bind(tenant_id)
                        .bind(micros(now))
                        .bind(id.as_str()),
                    LeaseSelector::Engine(engine) => sqlx::query_scalar(REVOKE_ENGINE)
                        .bind(tenant_id)
                        .bind(micros(now))
                        .bind(engine.as_str()),
                    LeaseSelector::Role { engine, role } => sqlx::query_scalar(REVOKE_ROLE)
                        .bind(tenant_id)
                        .bind(micros(now))
                        .bind(engine.as_str())
                        .bind(role.as_str()),
                };
                let mut ids: Vec<String> = query.fetch_all(&mut *tx).await?;
                if ids.is_empty() {
                    return Ok(ids);
                }
                // RETURNING has no order of its own.
                ids.sort_unstable();
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(ids)
            }

            async fn due_leases(
                &self,
                now: OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<LeaseRecord>> {
                let rows: Vec<LeaseRow> = sqlx::query_as(DUE_LEASES)
                    .bind(micros(now))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                records(rows)
            }

            async fn complete_revocation(
                &self,
                id: &str,
                at: OffsetDateTime,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query(COMPLETE_REVOCATION)
                    .bind(id)
                    .bind(micros(at))
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn fail_revocation(
                &self,
                id: &str,
                error: &str,
                retry_at: OffsetDateTime,
                now: OffsetDateTime,
                audit: Option<&AuditEvent>,
            ) -> Result<bool> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query(FAIL_REVOCATION)
                    .bind(id)
                    .bind(error)
                    .bind(micros(retry_at))
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

            async fn leases_expiring_between(
                &self,
                from: OffsetDateTime,
                to: OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<LeaseRecord>> {
                let rows: Vec<LeaseRow> = sqlx::query_as(EXPIRING_LEASES)
                    .bind(micros(from))
                    .bind(micros(to))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                records(rows)
            }

            async fn count_live_leases(
                &self,
                tenant_id: &str,
                engine: Option<&str>,
                role: Option<&str>,
            ) -> Result<u64> {
                let count: i64 = sqlx::query_scalar(COUNT_LIVE)
                    .bind(tenant_id)
                    .bind(engine)
                    .bind(role)
                    .fetch_one(self.reader())
                    .await?;
                to_u64(count, "lease count")
            }
        }
    };
}
pub(crate) use dynamic_store;

/// `AcmeStore` for both backends. The backend's module defines the statements that differ by
/// their row locks: `CLAIM_DUE_ORDER`, `LOCK_DNS_PROVIDER` and `SHARE_DNS_PROVIDER`.
macro_rules! acme_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::acme::AcmeStore for $store {
            async fn insert_acme_account(
                &self,
                account: &AcmeAccountRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                sqlx::query(INSERT_ACCOUNT)
                    .bind(&account.id)
                    .bind(&account.tenant_id)
                    .bind(&account.provider)
                    .bind(&account.directory_url)
                    .bind(TextListRef(&account.contacts))
                    .bind(&account.status)
                    .bind(&account.account_url)
                    .bind(&account.sealed_credentials.key_id)
                    .bind(&account.sealed_credentials.ciphertext)
                    .bind(account.eab_kid.as_deref())
                    .bind(micros(account.created_at))
                    .bind(micros(account.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(unique)?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_acme_account(
                &self,
                tenant_id: &str,
                id: &str,
            ) -> Result<Option<AcmeAccountRecord>> {
                let row: Option<AccountRow> = sqlx::query_as(GET_ACCOUNT)
                    .bind(tenant_id)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_acme_accounts(
                &self,
                tenant_id: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Page<AcmeAccountRecord>> {
                let rows: Vec<AccountRow> = sqlx::query_as(LIST_ACCOUNTS)
                    .bind(tenant_id)
                    .bind(after.unwrap_or(""))
                    .bind(i64::from(limit) + 1)
                    .fetch_all(self.reader())
                    .await?;
                Ok(page_of(records(rows)?, limit, None))
            }

            async fn set_acme_account_status(
                &self,
                tenant_id: &str,
                id: &str,
                status: &str,
                now: OffsetDateTime,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                let done = sqlx::query(SET_ACCOUNT_STATUS)
                    .bind(tenant_id)
                    .bind(id)
                    .bind(status)
                    .bind(micros(now))
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound(Entity::AcmeAccount));
                }
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn insert_dns_provider(
                &self,
                provider: &DnsProviderRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                sqlx::query(INSERT_DNS_PROVIDER)
                    .bind(&provider.id)
                    .bind(&provider.tenant_id)
                    .bind(&provider.name)
                    .bind(&provider.kind)
                    .bind(&provider.settings)
                    .bind(&provider.sealed_credentials.key_id)
                    .bind(&provider.sealed_credentials.ciphertext)
                    .bind(micros(provider.created_at))
                    .bind(micros(provider.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(unique)?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_dns_provider(
                &self,
                tenant_id: &str,
                id: &str,
            ) -> Result<Option<DnsProviderRecord>> {
                let row: Option<DnsProviderRow> = sqlx::query_as(GET_DNS_PROVIDER)
                    .bind(tenant_id)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_dns_providers(
                &self,
                tenant_id: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Page<DnsProviderRecord>> {
                let rows: Vec<DnsProviderRow> = sqlx::query_as(LIST_DNS_PROVIDERS)
                    .bind(tenant_id)
                    .bind(after.unwrap_or(""))
                    .bind(i64::from(limit) + 1)
                    .fetch_all(self.reader())
                    .await?;
                Ok(page_of(records(rows)?, limit, None))
            }

            async fn delete_dns_provider(
                &self,
                tenant_id: &str,
                id: &str,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                // The row first (locked on PostgreSQL: an order insert naming it waits, or has
                // committed and is counted below, the count being a statement of its own).
                let found: Option<String> = sqlx::query_scalar(LOCK_DNS_PROVIDER)
                    .bind(tenant_id)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if found.is_none() {
                    return Err(StoreError::NotFound(Entity::DnsProvider));
                }
                let in_use: i64 = sqlx::query_scalar(PROVIDER_IN_USE)
                    .bind(tenant_id)
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                if in_use > 0 {
                    return Err(StoreError::Conflict(
                        "the DNS provider is used by an unfinished order",
                    ));
                }
                sqlx::query(DELETE_DNS_PROVIDER)
                    .bind(tenant_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn insert_acme_order(
                &self,
                order: &AcmeOrderRecord,
                audit: Option<&AuditEvent>,
            ) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                let accounts: i64 = sqlx::query_scalar(ACCOUNT_EXISTS)
                    .bind(&order.tenant_id)
                    .bind(&order.account_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if accounts == 0 {
                    return Err(StoreError::NotFound(Entity::AcmeAccount));
                }
                if let Some(provider) = &order.dns_provider_id {
                    let found: Option<String> = sqlx::query_scalar(SHARE_DNS_PROVIDER)
                        .bind(&order.tenant_id)
                        .bind(provider)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if found.is_none() {
                        return Err(StoreError::NotFound(Entity::DnsProvider));
                    }
                }
                let checkpoint = order.sealed_checkpoint.as_ref();
                sqlx::query(INSERT_ORDER)
                    .bind(&order.id)
                    .bind(&order.tenant_id)
                    .bind(&order.account_id)
                    .bind(TextListRef(&order.domains))
                    .bind(&order.challenge)
                    .bind(order.dns_provider_id.as_deref())
                    .bind(&order.key_type)
                    .bind(&order.status)
                    .bind(order.order_url.as_deref())
                    .bind(checkpoint.map(|b| b.key_id.as_str()))
                    .bind(checkpoint.map(|b| b.ciphertext.as_slice()))
                    .bind(order.certificate_id.as_deref())
                    .bind(order.problem.as_deref())
                    .bind(i64::from(order.attempts))
                    .bind(micros(order.next_attempt_at))
                    .bind(order.renewal_of.as_deref())
                    .bind(order.claimed_by.as_deref())
                    .bind(order.claim_expires_at.map(micros))
                    .bind(micros(order.created_at))
                    .bind(micros(order.updated_at))
                    .bind(&order.secret_path)
                    .bind(&order.requested_by)
                    .execute(&mut *tx)
                    .await
                    .map_err(order_insert_error)?;
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_acme_order(
                &self,
                tenant_id: &str,
                id: &str,
            ) -> Result<Option<AcmeOrderRecord>> {
                let row: Option<OrderRow> = sqlx::query_as(GET_ORDER)
                    .bind(tenant_id)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_acme_orders(
                &self,
                tenant_id: &str,
                status: Option<&str>,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Page<AcmeOrderRecord>> {
                let rows: Vec<OrderRow> = sqlx::query_as(LIST_ORDERS)
                    .bind(tenant_id)
                    .bind(after.unwrap_or(""))
                    .bind(status)
                    .bind(i64::from(limit) + 1)
                    .fetch_all(self.reader())
                    .await?;
                Ok(page_of(records(rows)?, limit, None))
            }

            async fn claim_due_order(
                &self,
                node: &str,
                now: OffsetDateTime,
                claim_until: OffsetDateTime,
            ) -> Result<Option<AcmeOrderRecord>> {
                let mut tx = self.writer().begin().await?;
                let row: Option<OrderRow> = sqlx::query_as(CLAIM_DUE_ORDER)
                    .bind(node)
                    .bind(micros(now))
                    .bind(micros(claim_until))
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn update_order(
                &self,
                tenant_id: &str,
                id: &str,
                node: &str,
                update: &OrderUpdate,
                audit: Option<&AuditEvent>,
            ) -> Result<AcmeOrderRecord> {
                let claim_until = if $crate::acme::order_status_is_final(&update.status) {
                    None
                } else {
                    update.claim_until
                };
                let checkpoint = update.sealed_checkpoint.as_ref();
                let mut tx = self.writer().begin().await?;
                let row: Option<OrderRow> = sqlx::query_as(UPDATE_ORDER)
                    .bind(tenant_id)
                    .bind(id)
                    .bind(node)
                    .bind(&update.status)
                    .bind(update.order_url.as_deref())
                    .bind(checkpoint.map(|b| b.key_id.as_str()))
                    .bind(checkpoint.map(|b| b.ciphertext.as_slice()))
                    .bind(update.certificate_id.as_deref())
                    .bind(update.problem.as_deref())
                    .bind(i64::from(update.attempts))
                    .bind(micros(update.next_attempt_at))
                    .bind(claim_until.map(|_| node))
                    .bind(claim_until.map(micros))
                    .bind(micros(update.updated_at))
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    let orders: i64 = sqlx::query_scalar(ORDER_EXISTS)
                        .bind(tenant_id)
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                    return Err(if orders == 0 {
                        StoreError::NotFound(Entity::AcmeOrder)
                    } else {
                        StoreError::Conflict("the order's claim is not held by this node")
                    });
                };
                self.audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                row.try_into()
            }

            async fn renewal_order_of(
                &self,
                tenant_id: &str,
                certificate_id: &str,
            ) -> Result<Option<AcmeOrderRecord>> {
                let row: Option<OrderRow> = sqlx::query_as(RENEWAL_ORDER_OF)
                    .bind(tenant_id)
                    .bind(certificate_id)
                    .fetch_optional(self.reader())
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn put_http01_token(&self, token: &Http01Token) -> Result<()> {
                sqlx::query(PUT_HTTP01_TOKEN)
                    .bind(&token.token)
                    .bind(&token.tenant_id)
                    .bind(&token.order_id)
                    .bind(&token.key_authorization)
                    .bind(micros(token.expires_at))
                    .bind(micros(token.created_at))
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn http01_key_authorization(
                &self,
                token: &str,
                now: OffsetDateTime,
            ) -> Result<Option<String>> {
                Ok(sqlx::query_scalar(GET_HTTP01_TOKEN)
                    .bind(token)
                    .bind(micros(now))
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn delete_http01_token(&self, token: &str, now: OffsetDateTime) -> Result<()> {
                sqlx::query(DELETE_HTTP01_TOKEN)
                    .bind(token)
                    .bind(micros(now))
                    .execute(self.writer())
                    .await?;
                Ok(())
            }
        }
    };
}
pub(crate) use acme_store;
