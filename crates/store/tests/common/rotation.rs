//! Secret policies, rotation policies, schedules, runs and rotation steps.

use scaivault_store::*;
use time::{Duration, OffsetDateTime};

use super::events::event_data;
use super::*;

fn secret_policy(tenant: &str, id: &str, name: &str) -> SecretPolicyRecord {
    SecretPolicyRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        name: name.into(),
        description: Some(format!("{name} values")),
        secret_type: "password".into(),
        fields: r#"[{"name":"password","generator":"password","config":{"length":32}}]"#.into(),
        created_at: T0 + Duration::microseconds(11),
        updated_at: T0 + Duration::microseconds(11),
    }
}

fn rotation_policy(tenant: &str, id: &str, name: &str) -> RotationPolicyRecord {
    RotationPolicyRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        name: name.into(),
        description: None,
        interval_secs: 30 * 86_400,
        grace_secs: 3_600,
        warn_before_secs: vec![7 * 86_400, 86_400],
        auto_generate: true,
        window: Some("0 3 * * 1-5".into()),
        created_at: T0 + Duration::microseconds(22),
        updated_at: T0 + Duration::microseconds(22),
    }
}

fn schedule(
    tenant: &str,
    path: &str,
    policy: &str,
    state: ScheduleState,
    next: OffsetDateTime,
    warning: Option<OffsetDateTime>,
) -> ScheduleRecord {
    ScheduleRecord {
        tenant_id: tenant.into(),
        path: path.into(),
        policy_id: policy.into(),
        state,
        next_rotation_at: next,
        next_warning_at: warning,
        attempts: 0,
        last_rotated_at: None,
        last_error: None,
        updated_at: T0 + Duration::microseconds(33),
    }
}

fn run(tenant: &str, id: &str, path: &str, status: RunStatus, at: OffsetDateTime) -> RunRecord {
    RunRecord {
        seq: 0,
        id: id.into(),
        tenant_id: tenant.into(),
        policy_id: Some("rot_2".into()),
        path: path.into(),
        trigger: RunTrigger::Schedule,
        status,
        attempt: 1,
        old_version: Some(1),
        new_version: None,
        error: None,
        started_at: at,
        finished_at: None,
    }
}

/// The audit event of a rotation step or of a rotation change (`resource_type` "rotation").
fn rotation_event(
    tenant: &str,
    action: &str,
    path: &str,
    at: OffsetDateTime,
    version: Option<u64>,
) -> AuditEvent {
    AuditEvent {
        resource_type: "rotation".into(),
        version,
        ..event(tenant, action, path, at)
    }
}

/// An explicit `rotation.*` event of a step.
fn rotation_notice(
    tenant: &str,
    event_type: &str,
    path: &str,
    at: OffsetDateTime,
    data: serde_json::Value,
) -> NewEvent {
    NewEvent {
        id: format!("evt_{tenant}_{event_type}_{path}_{}", at.unix_timestamp()),
        tenant_id: tenant.into(),
        event_type: event_type.into(),
        path: Some(path.into()),
        occurred_at: at,
        data: data.to_string(),
    }
}

/// Only a step's schedule change, unaudited.
fn schedule_step(change: ScheduleChange) -> RotationStep {
    RotationStep {
        run: None,
        schedule: change,
        audit: None,
        events: vec![],
    }
}

/// Secret and rotation policies, schedules and runs: CRUD and paging, attaching and detaching,
/// the scheduler's queries, rotation steps (atomic, with their events).
pub async fn rotation(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let (a, b) = ("tnt_rot_a", "tnt_rot_b");
    let at = |s: i64| T0 + Duration::seconds(s) + Duration::microseconds(7);
    let events_start = store.last_event_seq().await.unwrap();

    // --- secret policies: CRUD, names unique per tenant, paging by id.
    let sp1 = secret_policy(a, "sp_1", "db-password");
    let mut audit = event(a, "create", "sp_1", at(0));
    audit.resource_type = "secret_policy".into();
    store
        .insert_secret_policy(&sp1, Some(&audit))
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_secret_policy(&secret_policy(a, "sp_1", "other"), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    assert!(matches!(
        store
            .insert_secret_policy(&secret_policy(a, "sp_x", "db-password"), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    store
        .insert_secret_policy(&secret_policy(b, "sp_1", "db-password"), None)
        .await
        .unwrap();
    for (id, name) in [("sp_3", "api-key"), ("sp_2", "token")] {
        store
            .insert_secret_policy(&secret_policy(a, id, name), None)
            .await
            .unwrap();
    }
    assert_eq!(
        store.get_secret_policy(a, "sp_1").await.unwrap(),
        Some(sp1.clone())
    );
    assert_eq!(store.get_secret_policy(b, "sp_2").await.unwrap(), None);
    let updated = SecretPolicyRecord {
        name: "db-pass".into(),
        description: None,
        secret_type: "json".into(),
        fields: "[]".into(),
        updated_at: at(1),
        ..sp1.clone()
    };
    assert!(store.update_secret_policy(&updated, None).await.unwrap());
    assert_eq!(
        store.get_secret_policy(a, "sp_1").await.unwrap(),
        Some(updated.clone())
    );
    assert!(matches!(
        store
            .update_secret_policy(
                &SecretPolicyRecord {
                    name: "token".into(),
                    ..updated.clone()
                },
                None
            )
            .await,
        Err(StoreError::Duplicate)
    ));
    assert!(
        !store
            .update_secret_policy(&secret_policy(a, "sp_none", "x"), None)
            .await
            .unwrap()
    );
    let page = store.list_secret_policies(a, None, 2).await.unwrap();
    assert_eq!(
        page.items.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["sp_1", "sp_2"]
    );
    assert!(page.has_more);
    let page = store
        .list_secret_policies(a, Some("sp_2"), 2)
        .await
        .unwrap();
    assert_eq!(page.items, vec![secret_policy(a, "sp_3", "api-key")]);
    assert!(!page.has_more);
    assert!(!store.delete_secret_policy(b, "sp_3", None).await.unwrap());
    assert!(store.delete_secret_policy(a, "sp_3", None).await.unwrap());
    assert!(!store.delete_secret_policy(a, "sp_3", None).await.unwrap());
    assert_eq!(store.get_secret_policy(a, "sp_3").await.unwrap(), None);
    assert_eq!(
        store
            .get_secret_policy(b, "sp_1")
            .await
            .unwrap()
            .unwrap()
            .tenant_id,
        b,
        "the other tenant's policy of the same id stays"
    );

    // --- rotation policies: the same, with every field round-tripped.
    let rot1 = rotation_policy(a, "rot_1", "monthly");
    let mut audit = event(a, "create", "rot_1", at(2));
    audit.resource_type = "rotation_policy".into();
    store
        .insert_rotation_policy(&rot1, Some(&audit))
        .await
        .unwrap();
    let rot2 = RotationPolicyRecord {
        description: Some("weekly, by hand".into()),
        interval_secs: 7 * 86_400,
        grace_secs: 0,
        warn_before_secs: vec![],
        auto_generate: false,
        window: None,
        ..rotation_policy(a, "rot_2", "weekly")
    };
    store.insert_rotation_policy(&rot2, None).await.unwrap();
    assert!(matches!(
        store
            .insert_rotation_policy(&rotation_policy(a, "rot_3", "weekly"), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    assert!(matches!(
        store
            .insert_rotation_policy(&rotation_policy(a, "rot_1", "other"), None)
            .await,
        Err(StoreError::Duplicate)
    ));
    // The same id in another tenant is another policy.
    store
        .insert_rotation_policy(&rotation_policy(b, "rot_1", "monthly"), None)
        .await
        .unwrap();
    assert_eq!(
        store.get_rotation_policy(a, "rot_1").await.unwrap(),
        Some(rot1.clone())
    );
    assert_eq!(
        store.get_rotation_policy(a, "rot_2").await.unwrap(),
        Some(rot2.clone())
    );
    assert_eq!(store.get_rotation_policy(b, "rot_2").await.unwrap(), None);
    let rot2_updated = RotationPolicyRecord {
        name: "fortnightly".into(),
        interval_secs: 14 * 86_400,
        warn_before_secs: vec![3_600],
        auto_generate: true,
        window: Some("* * * * *".into()),
        updated_at: at(3),
        ..rot2.clone()
    };
    assert!(
        store
            .update_rotation_policy(&rot2_updated, None)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_rotation_policy(a, "rot_2").await.unwrap(),
        Some(rot2_updated.clone())
    );
    assert!(matches!(
        store
            .update_rotation_policy(
                &RotationPolicyRecord {
                    name: "monthly".into(),
                    ..rot2_updated.clone()
                },
                None
            )
            .await,
        Err(StoreError::Duplicate)
    ));
    assert!(
        !store
            .update_rotation_policy(&rotation_policy(a, "rot_none", "x"), None)
            .await
            .unwrap()
    );
    let page = store.list_rotation_policies(a, None, 1).await.unwrap();
    assert_eq!(page.items, vec![rot1.clone()]);
    assert!(page.has_more);
    let page = store
        .list_rotation_policies(a, Some("rot_1"), 5)
        .await
        .unwrap();
    assert_eq!(page.items, vec![rot2_updated.clone()]);
    assert!(!page.has_more);

    // --- attaching a policy to a secret (and its schedule), in one transaction.
    write(store, a, put("rot/db", T0), "v").await.unwrap();
    let before = store.get_secret(a, "rot/db").await.unwrap();
    // Read through (and, behind a cache, into the cache) before the change.
    let (cached, _) = store.read_secret(a, "rot/db", None, T0).await.unwrap();
    assert_eq!(cached.rotation_policy_id, None);
    let db_schedule = schedule(
        a,
        "rot/db",
        "rot_1",
        ScheduleState::Scheduled,
        at(100_000),
        None,
    );
    assert!(
        store
            .set_secret_rotation_policy(
                a,
                "rot/db",
                Some("rot_1"),
                &ScheduleChange::Upsert(db_schedule.clone()),
                Some(&rotation_event(a, "attach", "rot/db", at(4), None)),
            )
            .await
            .unwrap()
    );
    let after = store.get_secret(a, "rot/db").await.unwrap();
    assert_eq!(after.rotation_policy_id.as_deref(), Some("rot_1"));
    assert_eq!(after.updated_at, before.updated_at, "not a change of value");
    let (read, _) = store.read_secret(a, "rot/db", None, T0).await.unwrap();
    assert_eq!(read.rotation_policy_id.as_deref(), Some("rot_1"));
    assert_eq!(
        store.get_rotation_schedule(a, "rot/db").await.unwrap(),
        Some(db_schedule.clone())
    );
    assert_eq!(
        store.get_rotation_schedule(b, "rot/db").await.unwrap(),
        None
    );
    // No live secret: false, and the schedule is not written.
    write(store, a, put("rot/gone", T0), "v").await.unwrap();
    store.soft_delete(a, "rot/gone", T0, None).await.unwrap();
    for path in ["rot/none", "rot/gone"] {
        let change = ScheduleChange::Upsert(schedule(
            a,
            path,
            "rot_1",
            ScheduleState::Scheduled,
            at(5),
            None,
        ));
        assert!(
            !store
                .set_secret_rotation_policy(a, path, Some("rot_1"), &change, None)
                .await
                .unwrap(),
            "{path}"
        );
        assert_eq!(store.get_rotation_schedule(a, path).await.unwrap(), None);
    }
    assert!(
        !store
            .set_secret_rotation_policy(b, "rot/db", None, &ScheduleChange::Keep, None)
            .await
            .unwrap(),
        "another tenant's secret"
    );
    // A policy that does not exist (in this tenant) is refused, and so is another secret's
    // schedule; nothing changes.
    assert!(matches!(
        store
            .set_secret_rotation_policy(a, "rot/db", Some("rot_none"), &ScheduleChange::Keep, None)
            .await,
        Err(StoreError::Invalid(_))
    ));
    let elsewhere = ScheduleChange::Delete {
        tenant_id: b.into(),
        path: "rot/db".into(),
    };
    assert!(matches!(
        store
            .set_secret_rotation_policy(a, "rot/db", None, &elsewhere, None)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        store
            .get_secret(a, "rot/db")
            .await
            .unwrap()
            .rotation_policy_id
            .as_deref(),
        Some("rot_1")
    );
    // Detaching removes the schedule; attaching again restores it.
    let detach = ScheduleChange::Delete {
        tenant_id: a.into(),
        path: "rot/db".into(),
    };
    assert!(
        store
            .set_secret_rotation_policy(a, "rot/db", None, &detach, None)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_secret(a, "rot/db")
            .await
            .unwrap()
            .rotation_policy_id,
        None
    );
    assert_eq!(
        store.get_rotation_schedule(a, "rot/db").await.unwrap(),
        None
    );
    store
        .set_secret_rotation_policy(
            a,
            "rot/db",
            Some("rot_1"),
            &ScheduleChange::Upsert(db_schedule.clone()),
            None,
        )
        .await
        .unwrap();

    // --- secrets whose schedule a crash left behind.
    let mut w = put("rot/orphan", T0);
    w.patch.rotation_policy_id = Some("rot_1".into());
    write(store, a, w, "v").await.unwrap();
    // A schedule of another policy than the secret's counts as missing.
    write(store, a, put("rot/moved", T0), "v").await.unwrap();
    store
        .set_secret_rotation_policy(
            a,
            "rot/moved",
            Some("rot_2"),
            &ScheduleChange::Upsert(schedule(
                a,
                "rot/moved",
                "rot_2",
                ScheduleState::Scheduled,
                at(200_000),
                None,
            )),
            None,
        )
        .await
        .unwrap();
    store
        .patch_secret(
            a,
            "rot/moved",
            &SecretPatch {
                rotation_policy_id: Some("rot_1".into()),
                ..Default::default()
            },
            T0,
            None,
        )
        .await
        .unwrap();
    // Soft-deleted secrets are left out.
    let mut w = put("rot/deleted", T0);
    w.patch.rotation_policy_id = Some("rot_1".into());
    write(store, a, w, "v").await.unwrap();
    store.soft_delete(a, "rot/deleted", T0, None).await.unwrap();
    // Another tenant's policy of the same id.
    let mut w = put("rot/b-orphan", T0);
    w.patch.rotation_policy_id = Some("rot_1".into());
    write(store, b, w, "v").await.unwrap();
    let mut unscheduled = store.unscheduled_rotations(100).await.unwrap();
    unscheduled.sort();
    let triple = |t: &str, p: &str, r: &str| (t.to_owned(), p.to_owned(), r.to_owned());
    assert_eq!(
        unscheduled,
        vec![
            triple(a, "rot/moved", "rot_1"),
            triple(a, "rot/orphan", "rot_1"),
            triple(b, "rot/b-orphan", "rot_1"),
        ]
    );
    assert_eq!(store.unscheduled_rotations(2).await.unwrap().len(), 2);

    // --- deleting a policy: its schedules go, its secrets are detached (this tenant's only).
    assert!(
        !store
            .delete_rotation_policy(b, "rot_2", None)
            .await
            .unwrap(),
        "another tenant's policy"
    );
    let (cached, _) = store.read_secret(a, "rot/db", None, T0).await.unwrap();
    assert_eq!(cached.rotation_policy_id.as_deref(), Some("rot_1"));
    let mut audit = event(a, "delete", "rot_1", at(6));
    audit.resource_type = "rotation_policy".into();
    assert!(
        store
            .delete_rotation_policy(a, "rot_1", Some(&audit))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_rotation_policy(a, "rot_1", None)
            .await
            .unwrap()
    );
    assert_eq!(store.get_rotation_policy(a, "rot_1").await.unwrap(), None);
    assert!(
        store
            .get_rotation_policy(b, "rot_1")
            .await
            .unwrap()
            .is_some()
    );
    for path in ["rot/db", "rot/orphan", "rot/moved", "rot/deleted"] {
        assert_eq!(
            store.get_secret(a, path).await.unwrap().rotation_policy_id,
            None,
            "{path}"
        );
    }
    let (read, _) = store.read_secret(a, "rot/db", None, T0).await.unwrap();
    assert_eq!(read.rotation_policy_id, None, "no stale record is served");
    assert_eq!(
        store.get_rotation_schedule(a, "rot/db").await.unwrap(),
        None
    );
    assert!(
        store
            .get_rotation_schedule(a, "rot/moved")
            .await
            .unwrap()
            .is_some(),
        "another policy's schedule stays"
    );
    assert_eq!(
        store
            .get_secret(b, "rot/b-orphan")
            .await
            .unwrap()
            .rotation_policy_id
            .as_deref(),
        Some("rot_1")
    );
    assert_eq!(
        store.unscheduled_rotations(100).await.unwrap(),
        vec![triple(b, "rot/b-orphan", "rot_1")]
    );
    // Clean up what the scheduler queries below look at.
    store
        .commit_rotation_step(&schedule_step(ScheduleChange::Delete {
            tenant_id: a.into(),
            path: "rot/moved".into(),
        }))
        .await
        .unwrap();

    // --- the scheduler's queries, across tenants (c and d have schedules only).
    let (c, d) = ("tnt_rot_c", "tnt_rot_d");
    let due_schedules = [
        schedule(
            c,
            "s/1",
            "rot_c",
            ScheduleState::Scheduled,
            at(10),
            Some(at(5)),
        ),
        schedule(
            d,
            "s/2",
            "rot_d",
            ScheduleState::Retrying,
            at(10),
            Some(at(1)),
        ),
        schedule(
            c,
            "s/0",
            "rot_c",
            ScheduleState::AwaitingValue,
            at(20),
            None,
        ),
        schedule(
            c,
            "s/3",
            "rot_c",
            ScheduleState::AwaitingValue,
            at(5),
            Some(at(3)),
        ),
        schedule(
            d,
            "s/4",
            "rot_d",
            ScheduleState::Scheduled,
            at(100),
            Some(at(8)),
        ),
        schedule(c, "s/5", "rot_c2", ScheduleState::Scheduled, at(15), None),
    ];
    for s in &due_schedules {
        assert_eq!(
            store
                .commit_rotation_step(&schedule_step(ScheduleChange::Upsert(s.clone())))
                .await
                .unwrap(),
            0,
            "no run, no seq"
        );
    }
    // An upsert replaces the row of (tenant, path); the same path of another tenant is another.
    let mut s1 = due_schedules[0].clone();
    s1.attempts = 2;
    s1.last_error = Some("timeout".into());
    s1.last_rotated_at = Some(at(-100));
    s1.updated_at = at(9);
    store
        .commit_rotation_step(&schedule_step(ScheduleChange::Upsert(s1.clone())))
        .await
        .unwrap();
    store
        .commit_rotation_step(&schedule_step(ScheduleChange::Upsert(schedule(
            d,
            "s/1",
            "rot_d",
            ScheduleState::AwaitingValue,
            at(10),
            None,
        ))))
        .await
        .unwrap();
    assert_eq!(
        store.get_rotation_schedule(c, "s/1").await.unwrap(),
        Some(s1.clone())
    );
    let paths = |v: &[ScheduleRecord]| {
        v.iter()
            .map(|s| format!("{}:{}", s.tenant_id, s.path))
            .collect::<Vec<_>>()
    };
    let due = store.due_rotations(at(30), 10).await.unwrap();
    assert_eq!(
        paths(&due),
        [format!("{c}:s/1"), format!("{d}:s/2"), format!("{c}:s/5")],
        "soonest first, then by path; awaiting a value left out"
    );
    assert_eq!(due[0], s1);
    assert_eq!(
        paths(&store.due_rotations(at(30), 2).await.unwrap()).len(),
        2
    );
    assert!(
        store.due_rotations(at(9), 10).await.unwrap().is_empty(),
        "s/3 is due but awaits a value"
    );
    assert_eq!(
        paths(&store.due_rotations(at(10), 10).await.unwrap()),
        [format!("{c}:s/1"), format!("{d}:s/2")],
        "due at exactly now"
    );
    let warnings = store.due_rotation_warnings(at(8), 10).await.unwrap();
    assert_eq!(
        paths(&warnings),
        [
            format!("{d}:s/2"),
            format!("{c}:s/3"),
            format!("{c}:s/1"),
            format!("{d}:s/4"),
        ]
    );
    assert_eq!(
        paths(&store.due_rotation_warnings(at(4), 1).await.unwrap()),
        [format!("{d}:s/2")]
    );

    // --- a tenant's schedules, by (next_rotation_at, path), with filters and the cursor.
    let mut q = ScheduleQuery {
        limit: 2,
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.list_rotation_schedules(c, &q).await.unwrap();
        seen.extend(page.items.iter().map(|s| s.path.clone()));
        if !page.has_more {
            break;
        }
        let last = page.items.last().unwrap();
        q.after = Some((last.next_rotation_at, last.path.clone()));
    }
    assert_eq!(seen, ["s/3", "s/1", "s/5", "s/0"]);
    let page = store
        .list_rotation_schedules(
            c,
            &ScheduleQuery {
                policy_id: Some("rot_c".into()),
                due_before: Some(at(10)),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(paths(&page.items), [format!("{c}:s/3"), format!("{c}:s/1")]);
    assert!(!page.has_more);
    let page = store
        .list_rotation_schedules(
            c,
            &ScheduleQuery {
                policy_id: Some("rot_c2".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(paths(&page.items), [format!("{c}:s/5")]);
    let page = store
        .list_rotation_schedules(
            d,
            &ScheduleQuery {
                after: Some((at(10), "s/1".into())),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(paths(&page.items), [format!("{d}:s/2"), format!("{d}:s/4")]);
    // Removing a schedule.
    store
        .commit_rotation_step(&schedule_step(ScheduleChange::Delete {
            tenant_id: c.into(),
            path: "s/5".into(),
        }))
        .await
        .unwrap();
    assert_eq!(store.get_rotation_schedule(c, "s/5").await.unwrap(), None);
    assert!(
        store
            .get_rotation_schedule(c, "s/1")
            .await
            .unwrap()
            .is_some()
    );

    // --- rotation steps: a run inserted, then its outcome recorded, with schedule and audit.
    let run1 = run(a, "rrun_1", "rot/moved", RunStatus::Running, at(40));
    let seq1 = store
        .commit_rotation_step(&RotationStep {
            run: Some(run1.clone()),
            schedule: ScheduleChange::Keep,
            audit: None,
            events: vec![],
        })
        .await
        .unwrap();
    assert!(seq1 > 0);
    let stored = RunRecord {
        seq: seq1,
        ..run1.clone()
    };
    assert_eq!(
        store.get_rotation_run(a, "rrun_1").await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(store.get_rotation_run(b, "rrun_1").await.unwrap(), None);
    let open: Vec<_> = store
        .open_rotation_runs(RunStatus::Running, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.tenant_id.starts_with("tnt_rot_"))
        .collect();
    assert_eq!(open, vec![stored.clone()]);
    // The outcome: status, attempt, versions, error and finish change; the rest stays.
    let failed = RunRecord {
        trigger: RunTrigger::Manual,
        started_at: at(0),
        status: RunStatus::Failed,
        attempt: 2,
        old_version: Some(3),
        new_version: Some(4),
        error: Some("generator failed".into()),
        finished_at: Some(at(41)),
        ..run1.clone()
    };
    let mut retrying = schedule(
        a,
        "rot/moved",
        "rot_2",
        ScheduleState::Retrying,
        at(1_000),
        None,
    );
    retrying.attempts = 1;
    retrying.last_error = Some("generator failed".into());
    let mut failed_audit = rotation_event(a, "failed", "rot/moved", at(41), None);
    failed_audit.outcome = "error".into();
    failed_audit.error_code = Some("rotation_failed".into());
    let failed_event = rotation_notice(
        a,
        "rotation.failed",
        "rot/moved",
        at(41),
        serde_json::json!({ "run_id": "rrun_1", "attempt": 2, "error": "generator failed" }),
    );
    assert_eq!(
        store
            .commit_rotation_step(&RotationStep {
                run: Some(failed.clone()),
                schedule: ScheduleChange::Upsert(retrying.clone()),
                audit: Some(failed_audit.clone()),
                events: vec![failed_event.clone()],
            })
            .await
            .unwrap(),
        seq1,
        "the same run keeps its seq"
    );
    let run1_failed = RunRecord {
        seq: seq1,
        trigger: RunTrigger::Schedule,
        started_at: at(40),
        ..failed.clone()
    };
    assert_eq!(
        store.get_rotation_run(a, "rrun_1").await.unwrap(),
        Some(run1_failed.clone())
    );
    assert_eq!(
        store.get_rotation_schedule(a, "rot/moved").await.unwrap(),
        Some(retrying.clone())
    );
    assert!(
        store
            .open_rotation_runs(RunStatus::Running, 100)
            .await
            .unwrap()
            .iter()
            .all(|r| r.id != "rrun_1")
    );
    assert_eq!(
        store
            .open_rotation_runs(RunStatus::Failed, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.tenant_id == a)
            .collect::<Vec<_>>(),
        vec![run1_failed.clone()]
    );

    // More runs: a success, a warning without a run, one awaiting a value, another tenant's.
    let succeeded = RunRecord {
        trigger: RunTrigger::Manual,
        status: RunStatus::Succeeded,
        old_version: Some(1),
        new_version: Some(2),
        finished_at: Some(at(43)),
        ..run(a, "rrun_2", "rot/moved", RunStatus::Succeeded, at(42))
    };
    let mut rescheduled = schedule(
        a,
        "rot/moved",
        "rot_2",
        ScheduleState::Scheduled,
        at(2_000),
        Some(at(1_500)),
    );
    rescheduled.last_rotated_at = Some(at(43));
    let seq2 = store
        .commit_rotation_step(&RotationStep {
            run: Some(succeeded.clone()),
            schedule: ScheduleChange::Upsert(rescheduled.clone()),
            audit: Some(rotation_event(a, "succeeded", "rot/moved", at(43), Some(2))),
            events: vec![rotation_notice(
                a,
                "rotation.succeeded",
                "rot/moved",
                at(43),
                serde_json::json!({ "run_id": "rrun_2", "old_version": 1, "new_version": 2 }),
            )],
        })
        .await
        .unwrap();
    assert!(seq2 > seq1);
    assert_eq!(
        store
            .commit_rotation_step(&RotationStep {
                run: None,
                schedule: ScheduleChange::Keep,
                audit: Some(rotation_event(a, "due", "rot/moved", at(44), Some(2))),
                // Two warnings at once (several thresholds passed while a node was down).
                events: vec![
                    rotation_notice(
                        a,
                        "rotation.due",
                        "rot/moved",
                        at(44),
                        serde_json::json!({ "due_at": 2_000, "warn_before": 86_400 }),
                    ),
                    rotation_notice(
                        a,
                        "rotation.due",
                        "rot/moved",
                        at(45),
                        serde_json::json!({ "due_at": 2_000, "warn_before": 3_600 }),
                    ),
                ],
            })
            .await
            .unwrap(),
        0
    );
    let awaiting = RunRecord {
        policy_id: None,
        ..run(a, "rrun_3", "rot/db", RunStatus::AwaitingValue, at(45))
    };
    let seq3 = store
        .commit_rotation_step(&RotationStep {
            run: Some(awaiting.clone()),
            schedule: ScheduleChange::Keep,
            audit: None,
            events: vec![],
        })
        .await
        .unwrap();
    let other = run(b, "rrun_b", "rot/moved", RunStatus::Running, at(46));
    let seq_b = store
        .commit_rotation_step(&RotationStep {
            run: Some(other.clone()),
            schedule: ScheduleChange::Keep,
            audit: None,
            events: vec![],
        })
        .await
        .unwrap();
    let running_a = run(a, "rrun_4", "rot/orphan", RunStatus::Running, at(47));
    let seq4 = store
        .commit_rotation_step(&RotationStep {
            run: Some(running_a.clone()),
            schedule: ScheduleChange::Keep,
            audit: None,
            events: vec![],
        })
        .await
        .unwrap();
    assert!(seq1 < seq2 && seq2 < seq3 && seq3 < seq_b && seq_b < seq4);

    // Open runs across tenants, oldest first.
    let ids = |runs: &[RunRecord]| runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    let open = store
        .open_rotation_runs(RunStatus::Running, 100)
        .await
        .unwrap();
    assert_eq!(ids(&open), ["rrun_b", "rrun_4"]);
    assert_eq!(
        ids(&store
            .open_rotation_runs(RunStatus::Running, 1)
            .await
            .unwrap()),
        ["rrun_b"]
    );
    assert_eq!(
        store
            .open_rotation_runs(RunStatus::AwaitingValue, 100)
            .await
            .unwrap(),
        vec![RunRecord {
            seq: seq3,
            ..awaiting.clone()
        }]
    );

    // The history: newest first, filters, the cursor.
    let history = |q: RunQuery| async move { store.list_rotation_runs(a, &q).await.unwrap() };
    let all = history(RunQuery {
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&all.items), ["rrun_4", "rrun_3", "rrun_2", "rrun_1"]);
    assert!(!all.has_more);
    assert_eq!(all.items[3], run1_failed);
    assert_eq!(
        all.items[2],
        RunRecord {
            seq: seq2,
            ..succeeded.clone()
        }
    );
    let by_path = history(RunQuery {
        path: Some("rot/moved".into()),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&by_path.items), ["rrun_2", "rrun_1"]);
    let by_policy = history(RunQuery {
        policy_id: Some("rot_2".into()),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&by_policy.items), ["rrun_4", "rrun_2", "rrun_1"]);
    let by_status = history(RunQuery {
        status: Some(RunStatus::Failed),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&by_status.items), ["rrun_1"]);
    let combined = history(RunQuery {
        path: Some("rot/moved".into()),
        status: Some(RunStatus::Succeeded),
        policy_id: Some("rot_2".into()),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&combined.items), ["rrun_2"]);
    let mut q = RunQuery {
        limit: 3,
        ..Default::default()
    };
    let first = history(q.clone()).await;
    assert_eq!(ids(&first.items), ["rrun_4", "rrun_3", "rrun_2"]);
    assert!(first.has_more);
    q.before_seq = Some(first.items[2].seq);
    let rest = history(q.clone()).await;
    assert_eq!(ids(&rest.items), ["rrun_1"]);
    assert!(!rest.has_more);
    q.before_seq = Some(seq1);
    assert!(history(q).await.items.is_empty());
    let theirs = store
        .list_rotation_runs(
            b,
            &RunQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        theirs.items,
        vec![RunRecord {
            seq: seq_b,
            ..other.clone()
        }]
    );

    // A run id of another tenant is refused, and nothing of that step is committed.
    let stolen = run(b, "rrun_1", "rot/dup", RunStatus::Failed, at(48));
    assert!(matches!(
        store
            .commit_rotation_step(&RotationStep {
                run: Some(stolen),
                schedule: ScheduleChange::Upsert(schedule(
                    b,
                    "rot/dup",
                    "rot_1",
                    ScheduleState::Scheduled,
                    at(48),
                    None,
                )),
                audit: None,
                events: vec![],
            })
            .await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(
        store.get_rotation_schedule(b, "rot/dup").await.unwrap(),
        None
    );
    assert_eq!(
        store.get_rotation_run(a, "rrun_1").await.unwrap(),
        Some(run1_failed.clone())
    );

    // A step whose last part fails (here: its event's id is taken, so the outbox insert after
    // the audit entry fails) commits nothing: no run, no schedule change, no audit entry, no
    // event. (The audit append itself failing is `rotation_step_fails_closed`, run by each
    // runner without the audit key.)
    let events_before = store.last_event_seq().await.unwrap();
    let audit_before = store
        .query_audit(&AuditQuery {
            tenants: vec![a.into()],
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .len();
    assert!(
        store
            .commit_rotation_step(&RotationStep {
                run: Some(run(a, "rrun_5", "rot/moved", RunStatus::Failed, at(49))),
                schedule: ScheduleChange::Delete {
                    tenant_id: a.into(),
                    path: "rot/moved".into(),
                },
                audit: Some(rotation_event(a, "failed", "rot/moved", at(49), None)),
                events: vec![failed_event.clone()],
            })
            .await
            .is_err()
    );
    assert_eq!(store.get_rotation_run(a, "rrun_5").await.unwrap(), None);
    assert_eq!(
        store.get_rotation_schedule(a, "rot/moved").await.unwrap(),
        Some(rescheduled.clone())
    );
    assert_eq!(store.last_event_seq().await.unwrap(), events_before);
    assert_eq!(
        store
            .query_audit(&AuditQuery {
                tenants: vec![a.into()],
                limit: 1_000,
                ..Default::default()
            })
            .await
            .unwrap()
            .items
            .len(),
        audit_before
    );
    for report in verify_all(store).await {
        assert_eq!(report.broken, None, "chain {}", report.chain);
    }

    // --- events: only the steps' own events went out (policy changes, attaching, and the
    // steps' audit entries emit none), in commit order, as given.
    let emitted = store
        .events_after(&[a.to_owned(), b.to_owned()], events_start, 100)
        .await
        .unwrap();
    assert_eq!(
        emitted
            .iter()
            .map(|e| (e.event_type.as_str(), e.path.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("rotation.failed", Some("rot/moved")),
            ("rotation.succeeded", Some("rot/moved")),
            ("rotation.due", Some("rot/moved")),
            ("rotation.due", Some("rot/moved")),
        ]
    );
    assert!(emitted.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        NewEvent {
            id: emitted[0].id.clone(),
            tenant_id: emitted[0].tenant_id.clone(),
            event_type: emitted[0].event_type.clone(),
            path: emitted[0].path.clone(),
            occurred_at: emitted[0].occurred_at,
            data: emitted[0].data.clone(),
        },
        failed_event
    );
    assert_eq!(
        event_data(&emitted[1]),
        serde_json::json!({ "run_id": "rrun_2", "old_version": 1, "new_version": 2 })
    );
    assert_eq!(
        event_data(&emitted[3]),
        serde_json::json!({ "due_at": 2_000, "warn_before": 3_600 })
    );
    // The steps' audit entries are in the tenant's chain.
    let trail = store
        .query_audit(&AuditQuery {
            tenants: vec![a.into()],
            resource_type: Some("rotation".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        trail
            .items
            .iter()
            .map(|e| e.event.action.as_str())
            .collect::<Vec<_>>(),
        ["due", "succeeded", "failed", "attach"]
    );
}

/// Without the audit key an audited rotation step is refused whole (run for runners' fail-closed
/// tests: the suite's store has its key).
pub async fn rotation_step_fails_closed(store: &dyn Store, tenant: &str) {
    let step = RotationStep {
        run: Some(run(tenant, "rrun_closed", "a/b", RunStatus::Running, T0)),
        schedule: ScheduleChange::Upsert(schedule(
            tenant,
            "a/b",
            "rot_1",
            ScheduleState::Scheduled,
            T0,
            None,
        )),
        audit: Some(rotation_event(tenant, "due", "a/b", T0, None)),
        events: vec![rotation_notice(
            tenant,
            "rotation.due",
            "a/b",
            T0,
            serde_json::json!({}),
        )],
    };
    let events = store.last_event_seq().await.unwrap();
    assert!(matches!(
        store.commit_rotation_step(&step).await,
        Err(StoreError::Audit(_))
    ));
    assert_eq!(store.last_event_seq().await.unwrap(), events);
    assert_eq!(
        store.get_rotation_run(tenant, "rrun_closed").await.unwrap(),
        None
    );
    assert_eq!(
        store.get_rotation_schedule(tenant, "a/b").await.unwrap(),
        None
    );
    // Unaudited bookkeeping goes through.
    assert!(
        store
            .commit_rotation_step(&RotationStep {
                audit: None,
                ..step
            })
            .await
            .unwrap()
            > 0
    );
}
