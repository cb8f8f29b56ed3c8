//! Stalls: the only peer of a member dies the moment the index has arrived.
//! librqbit alone then waits 10-20 s, 1-2 min, 6-12 min between redials, or
//! forgets the peer for good (9.1's "peer was in a wrong state Dead"), and
//! a fetch hung with `data` at 0 bytes. The stall detector restarts the
//! torrent, and gives up with a typed error when that does not help.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use archive_backend::{Backend, ErrorKind, FetchOptions, ResolveOptions};
use backend_torrent::StallPolicy;
use tokio_util::sync::CancellationToken;

use super::{
    Nodes,
    faults::{assert_member_has_everything, community, copy_files, free_port, loopback, publish},
    process::Seeder,
};

/// Quick to declare a stall, patient enough to survive a loaded machine.
fn policy(restarts: u32) -> StallPolicy {
    StallPolicy {
        timeout: Duration::from_secs(2),
        restarts,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_whose_only_peer_died_after_the_index_fails_as_stalled() {
    let nodes = Nodes::default();
    let owner = nodes.node().await;
    let community = community(7);
    let link = publish(&owner, community, 2, 10).await;
    let copy = tempfile::tempdir().unwrap();
    copy_files(&owner, &community, copy.path());
    let seeder = Seeder::start(&owner.torrent_path(&community), copy.path(), &[]);
    let member = nodes
        .node_with(vec![loopback(seeder.port)], |c| c.stall = policy(2))
        .await;

    let index = member
        .resolve(&community, &link, &ResolveOptions::default())
        .await
        .unwrap();
    drop(seeder);

    let started = Instant::now();
    let (tx, _rx) = tokio::sync::mpsc::channel(16);
    let result = tokio::time::timeout(
        Duration::from_secs(90),
        member.fetch(
            &community,
            &link,
            &index.missing(&HashSet::new()),
            &FetchOptions::default(),
            tx,
            CancellationToken::new(),
        ),
    )
    .await
    .expect("a fetch with no peer left ends instead of hanging");
    let err = result.expect_err("nothing can be fetched without a peer");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.is_temporary());
    let message = err.to_string();
    assert!(
        message.contains("stalled") && message.contains("2 restarts"),
        "the error names the stall: {message}"
    );
    // Three silences of 2 s (the first, then one after each restart).
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "gave up after {:?}, before its restarts",
        started.elapsed()
    );
    nodes.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_only_peer_killed_when_the_index_arrives_and_back_later_completes_the_fetch() {
    let nodes = Nodes::default();
    let owner = nodes.node().await;
    let community = community(8);
    let link = publish(&owner, community, 2, 10).await;
    let torrent = owner.torrent_path(&community);
    let copy = tempfile::tempdir().unwrap();
    copy_files(&owner, &community, copy.path());
    let port = free_port();
    let port_arg = port.to_string();
    let seeder = Seeder::start(&torrent, copy.path(), &["--port", &port_arg]);
    let member = nodes
        .node_with(vec![loopback(port)], |c| c.stall = policy(30))
        .await;

    let index = member
        .resolve(&community, &link, &ResolveOptions::default())
        .await
        .unwrap();
    drop(seeder);
    let fetch = tokio::spawn({
        let (member, link) = (Arc::clone(&member), link.clone());
        let missing = index.missing(&HashSet::new());
        async move {
            let (tx, _rx) = tokio::sync::mpsc::channel(16);
            let outcome = member
                .fetch(
                    &community,
                    &link,
                    &missing,
                    &FetchOptions::default(),
                    tx,
                    CancellationToken::new(),
                )
                .await;
            (missing, outcome)
        }
    });

    // Away past librqbit's first redial (10 to 20 s, jittered): its next
    // would come one to two minutes later.
    tokio::time::sleep(Duration::from_secs(21)).await;
    assert!(!fetch.is_finished(), "the fetch ended without its peer");
    let seeder = Seeder::start(&torrent, copy.path(), &["--port", &port_arg]);
    let (missing, outcome) = tokio::time::timeout(Duration::from_secs(45), fetch)
        .await
        .expect("a restart of the torrent reaches the peer again")
        .unwrap();
    let outcome = outcome.expect("the fetch completes");
    assert_eq!(missing.len(), 2);
    assert_eq!(
        outcome.fetched.iter().collect::<HashSet<_>>(),
        missing.iter().collect()
    );
    assert_member_has_everything(&member, &owner, &community, &link).await;
    assert!(seeder.stop() > 0, "the restarted seeder sent nothing");
    nodes.stop().await;
}
