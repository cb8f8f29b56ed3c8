//! Restarts: a member killed mid-download resumes from where it was; an
//! owner that restarts seeds and announces its last link again without
//! making members fetch anything twice; a Codex owner's stop unpublishes
//! nothing.

use std::{sync::Arc, time::Duration};

use archivist::{Node, NodeEvent, scheduler::ManualClock};

use crate::fixture::{Networks, Owner, T0, WEEK, World, assert_same_history};

/// The member's runtime is torn down (every task dropped mid-await, as in a
/// crash) after its first archive arrived; a new node on the same files
/// fetches only the rest, imports everything, and matches the owner.
#[test]
fn a_member_killed_mid_download_resumes_after_restart() {
    let owner_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Every member-side Codex request waits, so the download is long.
    let (world, owner) = owner_runtime.block_on(async {
        let world =
            World::with_member_codex_delay(Networks::Codex, Duration::from_millis(250)).await;
        let mut owner = world.owner().await;
        owner.write_weeks(6).await;
        (world, owner)
    });
    let config = world.member_config("member", None);

    let member_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let before = member_runtime.block_on(async {
        let mut member = world.member(config.clone(), owner.community(), None).await;
        owner_runtime.spawn({
            let node = owner.node.clone();
            let key = owner.key.clone();
            async move {
                node.add_owned(key, crate::fixture::TOPICS.to_vec(), true)
                    .await
                    .unwrap();
            }
        });
        let mut seen = Vec::new();
        member
            .wait_for(&mut seen, |e| {
                matches!(e, NodeEvent::HistoryArchiveDownloaded { .. }).then_some(())
            })
            .await;
        member
            .node
            .store()
            .downloaded_archive_ids(owner.community())
            .await
            .unwrap()
            .len()
    });
    member_runtime.shutdown_timeout(Duration::from_secs(5));
    assert!(
        (1..6).contains(&before),
        "killed after {before} of 6 archives"
    );

    let member_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    member_runtime.block_on(async {
        let node = Node::builder(config)
            .transport(Arc::new(world.hub.attach()))
            .start()
            .await
            .unwrap();
        let mut member = crate::fixture::Member {
            events: node.events(),
            node,
        };
        member.node.join(owner.community(), None).await.unwrap();
        let (fetched, _, _, _) = member.finished().await;
        assert_eq!(
            fetched,
            6 - before,
            "only the missing archives are fetched again"
        );
        let status = member.node.status(&owner.community()).await.unwrap();
        assert_eq!(status.imported.len(), 6);
        member.node.stop().await;
    });
    owner_runtime.block_on(async {
        let ours = archivist::history_digest(
            owner.node.store(),
            &crate::fixture::TOPICS,
            owner.archived_range(),
        )
        .await
        .unwrap();
        assert_eq!(ours.messages, 6 * crate::fixture::PER_WEEK as u64);
        owner.node.clone().stop().await;
    });
    drop(world);
}

/// An owner restarted on the same files seeds its last link at once and
/// announces it again (spec d.1); to a member that has it, the repeat is
/// already known (not a rejection), and nothing is fetched twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_owner_reseeds_and_reannounces_and_members_fetch_nothing_twice() {
    let world = World::new(Networks::Torrent).await;
    let mut owner = world.owner().await;
    owner.write_weeks(2).await;
    let owner_config = owner.node.config().clone();
    let config = world.member_config("member", owner.node.torrent_listen_addr());
    let mut member = world.member(config, owner.community(), None).await;
    owner.start_archiving().await;
    member.finished().await;
    let listen = owner.node.torrent_listen_addr().unwrap();
    // The node goes, and with it the store's writer lock.
    let Owner {
        node, key, weeks, ..
    } = owner;
    node.stop().await;

    // Same files, same listening port (members know it), a day later.
    let mut restarted_config = owner_config;
    restarted_config.torrent.listen = listen;
    let clock = Arc::new(ManualClock::new(T0 + 2 * WEEK + 86_400));
    let restarted = Node::builder(restarted_config)
        .transport(Arc::new(world.hub.attach()))
        .clock(Arc::clone(&clock) as _)
        .start()
        .await
        .unwrap();
    let mut owner_events = restarted.events();
    restarted
        .add_owned(key.clone(), crate::fixture::TOPICS.to_vec(), true)
        .await
        .unwrap();
    let owner = Owner {
        node: restarted,
        key,
        clock,
        weeks,
    };
    let mut seen = Vec::new();
    crate::fixture::wait_for(&mut owner_events, &mut seen, &mut |e| match e {
        NodeEvent::Announced { .. } => Some(()),
        _ => None,
    })
    .await;
    let mut seen = Vec::new();
    member
        .wait_for(&mut seen, |e| match e {
            NodeEvent::AnnouncementRepeated { .. } => Some(()),
            _ => None,
        })
        .await;
    assert!(
        !seen.iter().any(|e| matches!(
            e,
            NodeEvent::AnnouncementRejected { .. }
                | NodeEvent::DownloadingHistoryArchivesStarted { .. }
        )),
        "{seen:#?}"
    );
    assert_same_history(&owner, &member.node).await;
    member.node.stop().await;
    owner.node.stop().await;
}

/// Stopping is not unpublishing: a Codex owner stopped (as Ctrl-C does) and
/// started again on its files publishes its next round, and a member fetches
/// it. The stop used to DELETE the current index from the node, and every
/// publish after the restart failed for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_owner_stopped_and_restarted_keeps_its_index_and_publishes_the_next_round() {
    let world = World::new(Networks::Codex).await;
    let mut owner = world.owner().await;
    owner.write_weeks(2).await;
    let config = world.member_config("member", None);
    let mut member = world.member(config, owner.community(), None).await;
    owner.start_archiving().await;
    let (fetched, _, _, _) = member.finished().await;
    assert_eq!(fetched, 2);
    let link = owner
        .node
        .status(&owner.community())
        .await
        .unwrap()
        .networks[0]
        .announced_link
        .clone()
        .unwrap();
    let owner_config = owner.node.config().clone();
    let Owner {
        node,
        key,
        clock,
        weeks,
    } = owner;
    node.stop().await;

    let (owner_codex, _) = world.codex.as_ref().unwrap();
    let client =
        archivist::codex::CodexClient::new(archivist::codex::ClientConfig::new(owner_codex.url()))
            .unwrap();
    assert!(
        client.exists(&link).await.unwrap(),
        "the stop deleted the current index {link} from the owner's node"
    );

    let restarted = Node::builder(owner_config)
        .transport(Arc::new(world.hub.attach()))
        .clock(Arc::clone(&clock) as _)
        .start()
        .await
        .unwrap();
    restarted
        .add_owned(key.clone(), crate::fixture::TOPICS.to_vec(), true)
        .await
        .unwrap();
    let mut owner = Owner {
        node: restarted,
        key,
        clock,
        weeks,
    };
    assert_eq!(owner.archive_next_week().await, vec![1]);
    let (fetched, _, used, _) = member.finished().await;
    assert_eq!((fetched, used), (1, "codex"), "the next round arrives");
    assert_same_history(&owner, &member.node).await;
    member.node.stop().await;
    owner.node.stop().await;
}

/// Stopping stops: a member node stopped mid-download starts no import
/// after the stop (the one in progress may finish), and what was fetched
/// but not imported is imported by the next start. Before, every archive
/// already read went on being imported after the stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_stopped_mid_download_imports_nothing_after_the_stop_and_resumes() {
    let world = World::new(Networks::Torrent).await;
    let mut owner = world.owner().await;
    owner.write_weeks(12).await;
    let config = world.member_config("member", owner.node.torrent_listen_addr());
    let mut member = world.member(config.clone(), owner.community(), None).await;
    owner.start_archiving().await;
    member
        .wait_for(&mut Vec::new(), |e| match e {
            NodeEvent::HistoryArchiveImported { .. } => Some(()),
            _ => None,
        })
        .await;
    let community = owner.community();
    let imported = |store: archivist::store::Store| async move {
        let downloaded = store.downloaded_archive_ids(community).await.unwrap().len();
        let waiting = store.archives_to_import(community).await.unwrap().len();
        downloaded - waiting
    };
    let before = imported(member.node.store().clone()).await;
    member.node.stop().await;
    // A fresh handle on the file: the stopped node's is gone.
    let store = archivist::store::Store::open_read_only(config.store_path())
        .await
        .unwrap();
    let after = imported(store.clone()).await;
    assert!(
        after <= before + 2,
        "{before} archives imported at the stop, {after} after it"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        imported(store).await,
        after,
        "imports went on after the stop"
    );
    if after < 12 {
        // The stop says what it interrupted.
        let mut stopped = None;
        while let Ok(event) = member.events.try_recv() {
            if let NodeEvent::DownloadStopped {
                left_to_import,
                not_fetched,
                ..
            } = event
            {
                stopped = Some(left_to_import + not_fetched);
            }
        }
        let left = stopped.expect("an archivist.downloadStopped event");
        assert!(
            left > 0,
            "a stopped download left nothing for the next start"
        );
    }

    // The next start finishes the job.
    let mut member = world.member(config, community, None).await;
    if after < 12 {
        member.finished().await;
    }
    assert_same_history(&owner, &member.node).await;
    member.node.stop().await;
    owner.node.stop().await;
}
