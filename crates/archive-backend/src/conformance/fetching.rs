//! Checks of fetching: cancellation before and during a fetch, the order
//! archives are handed over in, what `bytes_fetched` counts, unknown IDs and
//! corrupt stored bytes.

use std::collections::HashSet;

use archive_index::ArchiveId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    CheckResult, Harness,
    fixture::{Check, STEP, community, drain, fetch, messages, publish_link, resolve},
};
use crate::{
    backend::{FetchEvent, FetchOptions, FetchOrder},
    error::ErrorKind,
    message_list::MessageList,
};

/// A fetch cancelled before it starts hands over only archives that are
/// complete and readable, fails as `Cancelled` if it did not finish, and a
/// later fetch completes the rest.
pub async fn cancelled_fetch_marks_nothing_partial(harness: &dyn Harness) -> CheckResult {
    let (owner, member) = (harness.node().await, harness.node().await);
    let check = Check::new("cancelled_fetch_marks_nothing_partial", &owner);
    let community = community("cancel");
    let source = MessageList::new(messages(0, 4, 2));
    let (link, _) = publish_link(&check, &owner, community, &source, 0..4).await?;
    let missing = resolve(&check, &member, &community, &link)
        .await?
        .missing(&HashSet::new());

    let (tx, rx) = mpsc::channel(1);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let options = FetchOptions::default();
    let fetching = member.fetch(&community, &link, &missing, &options, tx, cancel);
    let (result, handed) = check
        .within(
            "a cancelled fetch",
            futures::future::join(fetching, drain(rx)),
        )
        .await?;
    match result {
        Err(e) => check.ensure(e.kind() == ErrorKind::Cancelled, || {
            format!("a cancelled fetch must fail as Cancelled: {e}")
        })?,
        Ok(outcome) => check.ensure(outcome.fetched == handed.ids, || {
            "a cancelled fetch that finished must report what it handed over".into()
        })?,
    }
    for id in &handed.ids {
        check.ok(
            "reading an archive handed over",
            member
                .read_archive(&community, &link, id, &crate::FetchOptions::default())
                .await,
        )?;
    }
    for id in missing.iter().filter(|id| !handed.ids.contains(id)) {
        check.ensure(
            member
                .read_archive(&community, &link, id, &crate::FetchOptions::default())
                .await
                .is_err(),
            || format!("archive {id} was not handed over, yet it is readable"),
        )?;
    }
    fetch(&check, &member, &community, &link, &missing, &options).await?;
    Ok(())
}

/// Cancelling while a fetch waits for the caller to take an archive stops
/// it: it fails as `Cancelled` having handed over at most what was in flight,
/// and a later fetch completes everything.
pub async fn fetch_stops_when_cancelled_midway(harness: &dyn Harness) -> CheckResult {
    let (owner, member) = (harness.node().await, harness.node().await);
    let check = Check::new("fetch_stops_when_cancelled_midway", &owner);
    let community = community("cancel-midway");
    let source = MessageList::new(messages(0, 4, 1));
    let (link, _) = publish_link(&check, &owner, community, &source, 0..4).await?;
    let missing = resolve(&check, &member, &community, &link)
        .await?
        .missing(&HashSet::new());

    // One archive fits in the channel; the fetch must wait for the caller to
    // take it before handing over the next.
    let (tx, mut rx) = mpsc::channel(1);
    let cancel = CancellationToken::new();
    let task = {
        let (member, link, missing, cancel) = (
            member.clone(),
            link.clone(),
            missing.clone(),
            cancel.clone(),
        );
        tokio::spawn(async move {
            member
                .fetch(
                    &community,
                    &link,
                    &missing,
                    &FetchOptions::default(),
                    tx,
                    cancel,
                )
                .await
        })
    };
    let first = check.within("the first archive", rx.recv()).await?;
    cancel.cancel();
    let rest = check
        .within("the fetch after cancelling", drain(rx))
        .await?;
    let result = check
        .within("the fetch after cancelling", task)
        .await?
        .map_err(|e| check.fail(format!("the fetch task failed: {e}")))?;
    let Some(FetchEvent::ArchiveFetched { .. }) = first else {
        let outcome = result.err().map(|e| e.to_string()).unwrap_or_default();
        return Err(check.fail(format!(
            "the fetch ended without handing over an archive: {outcome}"
        )));
    };
    let handed = 1 + rest.ids.len();
    match result {
        Ok(_) => {
            return Err(check.fail(format!(
                "cancelled after the first archive, the fetch went on and handed over \
                 {handed} of {}",
                missing.len()
            )));
        }
        Err(e) => check.ensure(e.kind() == ErrorKind::Cancelled, || {
            format!("a fetch cancelled midway must fail as Cancelled: {e}")
        })?,
    }
    check.ensure(handed <= 2, || {
        format!(
            "after cancelling, at most the archive in the channel may arrive; \
             {handed} of {} were handed over",
            missing.len()
        )
    })?;
    let options = FetchOptions::default();
    fetch(&check, &member, &community, &link, &missing, &options).await?;
    Ok(())
}

/// Archives are handed over oldest first by default and newest first when
/// asked, whatever order the IDs were given in.
pub async fn fetch_hands_over_in_the_order_asked(harness: &dyn Harness) -> CheckResult {
    let owner = harness.node().await;
    let check = Check::new("fetch_hands_over_in_the_order_asked", &owner);
    let community = community("order");
    let source = MessageList::new(messages(0, 3, 2));
    let (link, _) = publish_link(&check, &owner, community, &source, 0..3).await?;
    for order in [FetchOrder::OldestFirst, FetchOrder::NewestFirst] {
        let member = harness.node().await;
        let index = resolve(&check, &member, &community, &link).await?;
        let mut ids = index.missing(&HashSet::new());
        // Asked in neither order: a middle one first.
        ids.rotate_left(1);
        let options = FetchOptions {
            order,
            ..FetchOptions::default()
        };
        let (_, handed) = fetch(&check, &member, &community, &link, &ids, &options).await?;
        let mut expected = handed.ranges.clone();
        expected.sort();
        if order == FetchOrder::NewestFirst {
            expected.reverse();
        }
        check.ensure(handed.ranges == expected, || {
            format!("{order:?} handed archives over in another order")
        })?;
    }
    Ok(())
}

/// `bytes_fetched` counts network bytes: a fresh member moves at least the
/// archives' bytes, a second fetch of the same archives moves none (and
/// still hands them over), and a backend claiming `partial_fetch` moves less
/// for one archive than for all.
pub async fn bytes_fetched_counts_the_network(harness: &dyn Harness) -> CheckResult {
    let (owner, member) = (harness.node().await, harness.node().await);
    let check = Check::new("bytes_fetched_counts_the_network", &owner);
    let community = community("bytes-fetched");
    let source = MessageList::new(messages(0, 4, 3));
    let (link, _) = publish_link(&check, &owner, community, &source, 0..4).await?;
    let missing = resolve(&check, &member, &community, &link)
        .await?
        .missing(&HashSet::new());
    let options = FetchOptions::default();
    let (all, handed) = fetch(&check, &member, &community, &link, &missing, &options).await?;
    let archive_bytes: u64 = handed
        .archives
        .iter()
        .map(|a| a.encode().len() as u64)
        .sum();
    check.ensure(all.bytes_fetched >= archive_bytes, || {
        format!(
            "a fresh member fetched {archive_bytes} bytes of archives but counts {}",
            all.bytes_fetched
        )
    })?;
    let (again, _) = fetch(&check, &member, &community, &link, &missing, &options).await?;
    check.ensure(again.bytes_fetched == 0, || {
        format!(
            "fetching archives already here counts {} network bytes",
            again.bytes_fetched
        )
    })?;
    if member.capabilities().partial_fetch {
        let other = harness.node().await;
        resolve(&check, &other, &community, &link).await?;
        let (one, _) = fetch(&check, &other, &community, &link, &missing[..1], &options).await?;
        check.ensure(
            one.bytes_fetched > 0 && one.bytes_fetched < all.bytes_fetched,
            || {
                format!(
                    "with partial_fetch, one archive must move some but fewer bytes than all \
                 ({} of {})",
                    one.bytes_fetched, all.bytes_fetched
                )
            },
        )?;
    }
    Ok(())
}

/// An ID that is not behind the link fails the fetch before anything is
/// handed over, and reading it fails.
pub async fn unknown_archive_ids_are_refused(harness: &dyn Harness) -> CheckResult {
    let (owner, member) = (harness.node().await, harness.node().await);
    let check = Check::new("unknown_archive_ids_are_refused", &owner);
    let community = community("unknown-ids");
    let source = MessageList::new(messages(0, 2, 1));
    let (link, _) = publish_link(&check, &owner, community, &source, 0..2).await?;
    let mut ids = resolve(&check, &member, &community, &link)
        .await?
        .missing(&HashSet::new());
    let stranger = ArchiveId([0x5a; 32]);
    ids.push(stranger);
    let (tx, rx) = mpsc::channel(1);
    let options = FetchOptions::default();
    let fetching = member.fetch(
        &community,
        &link,
        &ids,
        &options,
        tx,
        CancellationToken::new(),
    );
    let (result, handed) = check
        .within(
            "fetching an unknown ID",
            futures::future::join(fetching, drain(rx)),
        )
        .await?;
    match result {
        Ok(_) => return Err(check.fail("a fetch of an unknown archive ID succeeded")),
        Err(e) => check.ensure(
            matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::NotFound),
            || format!("an unknown archive ID must fail as InvalidInput or NotFound: {e}"),
        )?,
    }
    check.ensure(handed.ids.is_empty(), || {
        format!(
            "a fetch refused for an unknown ID handed over {} archives",
            handed.ids.len()
        )
    })?;
    check.ensure(
        member
            .read_archive(
                &community,
                &link,
                &stranger,
                &crate::FetchOptions::default(),
            )
            .await
            .is_err(),
        || "an unknown archive ID reads".into(),
    )
}

/// Stored bytes that went corrupt are never an archive: the owner cannot
/// read them back, and a member fetching from it gets nothing handed over.
pub async fn corrupt_stored_bytes_are_never_handed_over(harness: &dyn Harness) -> CheckResult {
    let (owner, member) = (harness.node().await, harness.node().await);
    let check = Check::new("corrupt_stored_bytes_are_never_handed_over", &owner);
    let community = community("corrupt");
    let source = MessageList::new(messages(0, 1, 4));
    let (link, _) = publish_link(&check, &owner, community, &source, 0..1).await?;
    let ids = resolve(&check, &member, &community, &link)
        .await?
        .missing(&HashSet::new());
    if !harness.corrupt_stored_archives(&owner, &community).await {
        return Ok(());
    }
    check.ensure(
        owner
            .read_archive(&community, &link, &ids[0], &crate::FetchOptions::default())
            .await
            .is_err(),
        || "the owner reads its corrupt stored bytes as an archive".into(),
    )?;
    let (tx, rx) = mpsc::channel(1);
    let cancel = CancellationToken::new();
    let give_up = {
        let cancel = cancel.clone();
        let after = harness.unavailable_timeout();
        async move {
            tokio::select! {
                () = tokio::time::sleep(after) => cancel.cancel(),
                () = cancel.cancelled() => {}
            }
        }
    };
    let options = FetchOptions::default();
    let fetching = member.fetch(&community, &link, &ids, &options, tx, cancel.clone());
    let fetching = async {
        let result = fetching.await;
        // A fetch that ended on its own needs no giving up.
        cancel.cancel();
        result
    };
    let (result, handed, ()) =
        tokio::time::timeout(STEP, futures::future::join3(fetching, drain(rx), give_up))
            .await
            .map_err(|_| check.fail("a fetch from corrupt bytes did not stop when cancelled"))?;
    check.ensure(handed.ids.is_empty(), || {
        "an archive was handed over from corrupt stored bytes".into()
    })?;
    check.ensure(result.is_err(), || {
        "a fetch from corrupt stored bytes succeeded".into()
    })
}
