//! Checks of publishing and resolving: round trips, incremental links, set
//! differences, unseeding, determinism, empty ranges and failing sources.

use std::collections::HashSet;

use archive_index::{ArchiveId, TimeRange};

use super::{
    CheckResult, Harness,
    fixture::{
        Check, D1, FailingSource, TOPIC, WEEK, community, fetch, messages, publish, publish_link,
        resolve,
    },
};
use crate::{
    backend::{FetchOptions, PublishOptions, PublishRequest, ResolveOptions},
    error::ErrorKind,
    message_list::MessageList,
};

/// Publish one archive → resolve → fetch → the member receives, and reads
/// back, the messages the owner wrote.
pub async fn publish_resolve_fetch_round_trip(harness: &dyn Harness) -> CheckResult {
    let (owner, member) = (harness.node().await, harness.node().await);
    let check = Check::new("publish_resolve_fetch_round_trip", &owner);
    let community = community("round-trip");
    let source = MessageList::new(messages(0, 1, 5));
    let (link, published) = publish_link(&check, &owner, community, &source, 0..1).await?;
    check.ensure(published.archives.len() == 1, || {
        format!(
            "one week made {} archives, not one",
            published.archives.len()
        )
    })?;
    let index = resolve(&check, &member, &community, &link).await?;
    let missing = index.missing(&HashSet::new());
    check.ensure(missing == vec![published.archives[0].id], || {
        format!("the member misses {missing:?}, not the published archive")
    })?;
    let (_, handed) = fetch(
        &check,
        &member,
        &community,
        &link,
        &missing,
        &FetchOptions::default(),
    )
    .await?;
    let ours = check.ok(
        "reading the published archive",
        owner
            .read_archive(
                &community,
                &link,
                &missing[0],
                &crate::FetchOptions::default(),
            )
            .await,
    )?;
    check.ensure(handed.archives[0] == ours, || {
        "the member was handed another archive than the owner wrote".into()
    })?;
    check.ensure(ours.messages.len() == 5, || {
        format!("5 messages published, {} read back", ours.messages.len())
    })?;
    let theirs = check.ok(
        "reading the fetched archive back",
        member
            .read_archive(
                &community,
                &link,
                &missing[0],
                &crate::FetchOptions::default(),
            )
            .await,
    )?;
    check.ensure(theirs == ours, || {
        "the member reads back another archive than the owner wrote".into()
    })
}

/// After two more weeks are published, only the two new archives are
/// missing for a member that fetched the first.
pub async fn only_new_archives_are_missing(harness: &dyn Harness) -> CheckResult {
    let (owner, member) = (harness.node().await, harness.node().await);
    let check = Check::new("only_new_archives_are_missing", &owner);
    let community = community("incremental");
    let mut source = MessageList::new(messages(0, 1, 3));
    let (link, _) = publish_link(&check, &owner, community, &source, 0..1).await?;
    let index = resolve(&check, &member, &community, &link).await?;
    let have = index.missing(&HashSet::new());
    let options = FetchOptions::default();
    fetch(&check, &member, &community, &link, &have, &options).await?;

    source.extend(messages(1, 2, 3));
    let second = publish(&check, &owner, community, &source, 1..3, Some(link)).await?;
    check.ensure(second.archives.len() == 2, || {
        format!("two new weeks made {} archives", second.archives.len())
    })?;
    let new_link = second
        .link
        .ok_or_else(|| check.fail("a publish that created archives returned no link"))?;
    let index = resolve(&check, &member, &community, &new_link).await?;
    check.ensure(index.archives.len() == 3, || {
        format!(
            "the new link must cover old and new archives (3), it covers {}",
            index.archives.len()
        )
    })?;
    let missing = index.missing(&have.iter().copied().collect());
    let new_ids: Vec<_> = second.archives.iter().map(|a| a.id).collect();
    check.ensure(missing == new_ids, || {
        "exactly the new archives must be missing, oldest first".into()
    })?;
    fetch(&check, &member, &community, &new_link, &missing, &options).await?;
    Ok(())
}

/// Missing is a set difference: as many known IDs as the index has, but
/// different ones, still leaves the unknown archives missing (spec h.6).
pub async fn missing_is_a_set_difference(harness: &dyn Harness) -> CheckResult {
    let (owner, member) = (harness.node().await, harness.node().await);
    let check = Check::new("missing_is_a_set_difference", &owner);
    let community = community("set-difference");
    let source = MessageList::new(messages(0, 2, 2));
    let (link, _) = publish_link(&check, &owner, community, &source, 0..2).await?;
    let index = resolve(&check, &member, &community, &link).await?;
    let strangers: HashSet<_> = [ArchiveId([1; 32]), ArchiveId([2; 32])].into();
    check.ensure(strangers.len() == index.archives.len(), || {
        format!("two weeks resolved to {} archives", index.archives.len())
    })?;
    let missing = index.missing(&strangers);
    check.ensure(missing.len() == 2, || {
        "unknown IDs must not count as downloaded".into()
    })?;
    let options = FetchOptions::default();
    fetch(&check, &member, &community, &link, &missing, &options).await?;
    Ok(())
}

/// After the only seeder unseeds, the link cannot be resolved from it; once
/// it seeds again, it can.
pub async fn unseed_makes_the_link_unavailable(harness: &dyn Harness) -> CheckResult {
    let (owner, member) = (harness.node().await, harness.node().await);
    let check = Check::new("unseed_makes_the_link_unavailable", &owner);
    let community = community("unseed");
    let source = MessageList::new(messages(0, 1, 1));
    let (link, _) = publish_link(&check, &owner, community, &source, 0..1).await?;
    check.ok("unseed", owner.unseed(&community, &link).await)?;
    let options = ResolveOptions::with_timeout(harness.unavailable_timeout());
    let resolved = check
        .within(
            "resolving an unseeded link",
            member.resolve(&community, &link, &options),
        )
        .await?;
    match resolved {
        Ok(_) => return Err(check.fail("an unseeded link still resolves")),
        Err(e) => check.ensure(
            matches!(
                e.kind(),
                ErrorKind::NotFound | ErrorKind::Timeout | ErrorKind::Unavailable
            ),
            || format!("an unseeded link must fail as NotFound, Timeout or Unavailable: {e}"),
        )?,
    }
    check.ok("seeding again", owner.seed(&community, &link).await)?;
    resolve(&check, &member, &community, &link).await?;
    Ok(())
}

/// The same messages published on two fresh nodes give the same archive IDs
/// and the same link.
pub async fn same_messages_same_ids(harness: &dyn Harness) -> CheckResult {
    let (a, b) = (harness.node().await, harness.node().await);
    let check = Check::new("same_messages_same_ids", &a);
    let community = community("determinism");
    let source = MessageList::new(messages(0, 3, 4));
    let first = publish(&check, &a, community, &source, 0..3, None).await?;
    let second = publish(&check, &b, community, &source, 0..3, None).await?;
    check.ensure(first.archives == second.archives, || {
        "the same messages gave different archives".into()
    })?;
    check.ensure(first.link == second.link, || {
        format!(
            "the same archives gave different links: {:?} and {:?}",
            first.link, second.link
        )
    })
}

/// A range without messages creates nothing and keeps the previous link.
pub async fn empty_range_publishes_nothing(harness: &dyn Harness) -> CheckResult {
    let owner = harness.node().await;
    let check = Check::new("empty_range_publishes_nothing", &owner);
    let community = community("empty");
    let source = MessageList::new(messages(0, 1, 1));
    let link = publish(&check, &owner, community, &source, 0..1, None)
        .await?
        .link;
    let later = publish(&check, &owner, community, &source, 5..6, link.clone()).await?;
    check.ensure(later.archives.is_empty(), || {
        format!("an empty range made {} archives", later.archives.len())
    })?;
    check.ensure(later.link == link, || {
        "an empty range must return the previous link".into()
    })
}

/// A message source that fails mid-publish leaves nothing behind: the publish
/// fails with the source's error, and the next one produces exactly what a
/// fresh node would.
pub async fn failed_source_leaves_nothing(harness: &dyn Harness) -> CheckResult {
    let (owner, fresh) = (harness.node().await, harness.node().await);
    let check = Check::new("failed_source_leaves_nothing", &owner);
    let community = community("failed-source");
    let source = MessageList::new(messages(0, 2, 6));
    let failing = FailingSource {
        inner: source.clone(),
        good: 3,
    };
    let request = PublishRequest {
        community,
        topics: vec![TOPIC],
        range: TimeRange {
            from: D1,
            to: D1 + 2 * WEEK,
        },
        interval: WEEK,
        previous: None,
        messages: &failing,
    };
    let failed = check
        .within(
            "publish",
            owner.publish(request, &PublishOptions::default()),
        )
        .await?;
    match failed {
        Ok(_) => return Err(check.fail("a failing source did not fail the publish")),
        Err(e) => check.ensure(e.kind() == ErrorKind::Io, || {
            format!("the source's error (Io) must come back, not: {e}")
        })?,
    }
    let retried = publish(&check, &owner, community, &source, 0..2, None).await?;
    let clean = publish(&check, &fresh, community, &source, 0..2, None).await?;
    check.ensure(retried.archives == clean.archives, || {
        "the failed publish left something behind".into()
    })
}
