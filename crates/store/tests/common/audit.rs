//! The audit trail and its archive.

use scaivault_store::*;
use time::Duration;

use super::*;

pub async fn audit_trail(store: &dyn Store) {
    store.set_audit_mac(test_mac());
    let t = "tnt_audit";
    // A write's entry commits with it and records the version it created.
    let mut w = put("aud/db", T0);
    w.audit = Some(event(t, "write", "aud/db", T0));
    write(store, t, w, "v").await.unwrap();
    // A failed write leaves no success entry behind.
    let mut conflict = put("aud/db", T0);
    conflict.expected_version = Some(7);
    conflict.audit = Some(event(t, "write", "aud/db", T0 + Duration::seconds(1)));
    assert!(write(store, t, conflict, "v").await.is_err());
    // Reads and denials are appended on their own.
    let mut denied = event(t, "read", "aud/other", T0 + Duration::seconds(2));
    denied.outcome = "denied".into();
    denied.error_code = Some("access_denied".into());
    store
        .append_audit(vec![
            event(t, "read", "aud/db", T0 + Duration::seconds(2)),
            denied,
            event(
                "tnt_audit_other",
                "read",
                "aud/db",
                T0 + Duration::seconds(3),
            ),
        ])
        .await
        .unwrap();
    store
        .soft_delete(
            t,
            "aud/db",
            T0 + Duration::seconds(4),
            Some(&event(t, "delete", "aud/db", T0 + Duration::seconds(4))),
        )
        .await
        .unwrap();

    let all = AuditQuery {
        tenants: vec![t.into()],
        limit: 50,
        ..Default::default()
    };
    let page = store.query_audit(&all).await.unwrap();
    let actions: Vec<_> = page.items.iter().map(|e| e.event.action.as_str()).collect();
    assert_eq!(
        actions,
        ["delete", "read", "read", "write"],
        "newest first, one tenant only"
    );
    assert_eq!(page.items[3].event.version, Some(1));
    assert_eq!(page.items[3].chain_seq, 1);
    assert_eq!(page.items[0].chain_seq, 4);

    // Filters and the cursor.
    let denied_only = store
        .query_audit(&AuditQuery {
            outcome: Some("denied".into()),
            ..all.clone()
        })
        .await
        .unwrap();
    assert_eq!(denied_only.items.len(), 1);
    assert_eq!(
        denied_only.items[0].event.resource_path.as_deref(),
        Some("aud/other")
    );
    let trail = store
        .query_audit(&AuditQuery {
            path: Some("aud/db".into()),
            ..all.clone()
        })
        .await
        .unwrap();
    assert_eq!(trail.items.len(), 3);
    let window = store
        .query_audit(&AuditQuery {
            start: Some(T0 + Duration::seconds(2)),
            end: Some(T0 + Duration::seconds(4)),
            ..all.clone()
        })
        .await
        .unwrap();
    assert_eq!(window.items.len(), 2);
    let first = store
        .query_audit(&AuditQuery {
            limit: 3,
            ..all.clone()
        })
        .await
        .unwrap();
    assert!(first.has_more);
    let rest = store
        .query_audit(&AuditQuery {
            before_seq: Some(first.items[2].seq),
            ..all.clone()
        })
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(!rest.has_more);
    let nothing = store
        .query_audit(&AuditQuery {
            tenants: vec![],
            ..all.clone()
        })
        .await
        .unwrap();
    assert!(nothing.items.is_empty(), "an empty reach sees nothing");

    let summary = store.audit_summary(&all, 10).await.unwrap();
    assert_eq!(summary.total, 4);
    assert_eq!(summary.by_action[0], ("read".to_owned(), 2));
    assert_eq!(summary.top_paths[0], ("aud/db".to_owned(), 3));

    // Chains verify; checkpoints and pruning keep them verifiable.
    for report in verify_all(store).await {
        assert_eq!(report.broken, None, "chain {}", report.chain);
    }
    assert!(
        store
            .checkpoint_audit(T0 + Duration::seconds(5))
            .await
            .unwrap()
            >= 2
    );
    assert_eq!(
        store
            .checkpoint_audit(T0 + Duration::seconds(6))
            .await
            .unwrap(),
        0,
        "nothing moved"
    );
    store
        .append_audit(vec![event(t, "read", "aud/late", T0 + Duration::days(40))])
        .await
        .unwrap();
    let pruned = store.prune_audit(T0 + Duration::days(30)).await.unwrap();
    assert!(pruned >= 4);
    let after = store.query_audit(&all).await.unwrap();
    assert_eq!(after.items.len(), 1);
    assert_eq!(
        after.items[0].chain_seq, 5,
        "numbering continues after pruning"
    );
    for report in verify_all(store).await {
        assert_eq!(report.broken, None, "chain {} after pruning", report.chain);
    }
    // Appending after everything was pruned continues from the anchor.
    store
        .append_audit(vec![event(
            "tnt_audit_other",
            "read",
            "aud/db",
            T0 + Duration::days(41),
        )])
        .await
        .unwrap();
    for report in verify_all(store).await {
        assert_eq!(
            report.broken, None,
            "chain {} after re-anchoring",
            report.chain
        );
    }
}

/// Entries past the window move to archive segments and leave the database; archive +
/// database verify as one chain; a damaged, missing or reordered segment is named; a crash
/// between writing a segment and pruning its rows is finished without a gap or an overlap.
pub async fn audit_archive(store: &dyn Store) {
    use scaivault_store::archive::{self, Archive};
    store.set_audit_mac(test_mac());
    let chain = "tnt_archive";
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::new(dir.path());
    // Day 0: 5 entries, day 1: 3, day 40: 2 (inside the window).
    let mut all = Vec::new();
    for (day, n) in [(0, 5), (1, 3), (40, 2)] {
        for i in 0..n {
            let at = T0 + Duration::days(day) + Duration::seconds(i);
            all.push(event(chain, "read", &format!("arch/{day}/{i}"), at));
        }
    }
    store.append_audit(all).await.unwrap();
    store
        .checkpoint_audit(T0 + Duration::days(41))
        .await
        .unwrap();

    // A crash after the first segment was written, before its rows were pruned.
    let first_day = store.audit_chain_page(chain, 0, 5).await.unwrap();
    archive.write_segment(chain, &first_day).unwrap();
    let before = T0 + Duration::days(30);
    let done = archive::archive_chain(store, &archive, chain, before, 1_000)
        .await
        .unwrap();
    assert_eq!(done.entries, 8);
    assert_eq!((done.first_chain_seq, done.last_chain_seq), (1, 8));
    let segments = archive.segments(chain).unwrap();
    assert_eq!(
        segments.len(),
        2,
        "one per day, the crashed one finished: {segments:?}"
    );
    let left = store.audit_chain_page(chain, 0, 100).await.unwrap();
    assert_eq!(
        left.iter().map(|e| e.chain_seq).collect::<Vec<_>>(),
        vec![9, 10],
        "archived rows are gone from the database"
    );
    // Nothing more to do; a rerun writes nothing.
    let again = archive::archive_chain(store, &archive, chain, before, 1_000)
        .await
        .unwrap();
    assert_eq!(again.entries, 0);

    let verify = || archive::verify_chain(store, Some(&archive), chain, test_mac());
    let report = verify().await.unwrap();
    assert_eq!(report.broken, None, "{report:?}");
    assert_eq!(report.entries_checked, 10);
    // The database alone still verifies from its anchor.
    let db_only = verify_audit_chain(store, chain, test_mac()).await.unwrap();
    assert_eq!(db_only.broken, None);
    assert_eq!(db_only.entries_checked, 2);

    let first = segments[0].path.clone();
    let second = segments[1].path.clone();
    let original = std::fs::read(&first).unwrap();
    let lines = || -> Vec<String> {
        let raw = zstd::decode_all(original.as_slice()).unwrap();
        String::from_utf8(raw)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let rewrite = |lines: &[String]| {
        let text = lines.join("\n") + "\n";
        std::fs::write(&first, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
    };

    // Altered: an entry's actor edited.
    let mut edited = lines();
    edited[3] = edited[3].replace("user:alice@acme.example", "user:mallory@acme.example");
    rewrite(&edited);
    let report = verify().await.unwrap();
    assert!(
        matches!(
            report.broken,
            Some(ChainBreak::Altered { chain_seq: 3, .. })
        ),
        "{report:?}"
    );
    assert_eq!(report.segment.as_deref(), Some(segments[0].name().as_str()));

    // Reordered: two entries swapped.
    let mut swapped = lines();
    swapped.swap(2, 3);
    rewrite(&swapped);
    let report = verify().await.unwrap();
    assert!(
        matches!(report.broken, Some(ChainBreak::Unlinked { .. })),
        "{report:?}"
    );

    // Truncated: the last entry dropped (the header says 5).
    let mut short = lines();
    short.pop();
    rewrite(&short);
    let report = verify().await.unwrap();
    assert!(
        matches!(report.broken, Some(ChainBreak::Segment { .. })),
        "{report:?}"
    );
    // Cut mid-stream: not even decompressible.
    std::fs::write(&first, &original[..original.len() / 2]).unwrap();
    let report = verify().await.unwrap();
    assert!(report.broken.is_some(), "{report:?}");
    assert_eq!(report.segment.as_deref(), Some(segments[0].name().as_str()));

    // Missing: the first segment, then the last one.
    std::fs::remove_file(&first).unwrap();
    let report = verify().await.unwrap();
    assert!(
        matches!(
            report.broken,
            Some(ChainBreak::Unlinked {
                chain_seq: 6,
                expected_chain_seq: 1,
                ..
            })
        ),
        "{report:?}"
    );
    std::fs::write(&first, &original).unwrap();
    let last = std::fs::read(&second).unwrap();
    std::fs::remove_file(&second).unwrap();
    let report = verify().await.unwrap();
    assert!(
        matches!(
            report.broken,
            Some(ChainBreak::ArchiveGap {
                archived_through: 5,
                resumes_after: 8
            })
        ),
        "{report:?}"
    );
    // Reordered files: the second's content under the first's name and vice versa.
    std::fs::write(&second, &original).unwrap();
    std::fs::write(&first, &last).unwrap();
    let report = verify().await.unwrap();
    assert!(report.broken.is_some(), "{report:?}");
    std::fs::write(&first, &original).unwrap();
    std::fs::write(&second, &last).unwrap();
    assert_eq!(verify().await.unwrap().broken, None);

    // What uses the space: every table, with rows and bytes.
    let usage = store.storage_usage(T0 + Duration::days(40)).await.unwrap();
    assert_eq!(usage.tables.len(), scaivault_store::copy::TABLES.len());
    let log = usage.tables.iter().find(|t| t.name == "audit_log").unwrap();
    assert!(log.rows >= 2 && log.bytes > 0, "{log:?}");
    assert!(usage.database_bytes >= log.bytes);
    assert!(usage.audit_entries_since >= 2, "{usage:?}");
}
