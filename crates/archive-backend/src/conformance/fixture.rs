//! What the checks share: their messages and communities, publishing and
//! fetching with every step's failure turned into a [`Failure`].

use std::{collections::HashSet, fmt::Display, time::Duration};

use archive_index::{Archive, ArchiveId, CommunityId, Message, TimeRange, Topic, keccak256};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Failure;
use crate::{
    backend::{
        DynBackend, FetchEvent, FetchOptions, FetchOutcome, MessageSource, PublishOptions,
        PublishOutcome, PublishRequest, RemoteIndex, ResolveOptions,
    },
    error::{Error, ErrorKind, Result},
    link::Link,
    message_list::MessageList,
};

pub(super) const DAY: u64 = 86_400;
pub(super) const WEEK: u64 = 7 * DAY;
/// 2020-01-01, status-go's `D(1)`.
pub(super) const D1: u64 = 1_577_836_800;
pub(super) const TOPIC: Topic = Topic([0xc0, 0xff, 0xee, 0x00]);
/// How long any single step of a check may take before it counts as hung.
pub(super) const STEP: Duration = Duration::from_secs(60);

/// The check running and the backend it runs on, to name in a [`Failure`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Check {
    pub(super) name: &'static str,
    pub(super) backend: &'static str,
}

impl Check {
    pub(super) fn new(name: &'static str, node: &DynBackend) -> Check {
        Check {
            name,
            backend: node.name(),
        }
    }

    pub(super) fn fail(&self, reason: impl Display) -> Failure {
        Failure {
            check: self.name,
            backend: self.backend,
            reason: reason.to_string(),
        }
    }

    /// `Err` with `reason` unless `holds`.
    pub(super) fn ensure(
        &self,
        holds: bool,
        reason: impl FnOnce() -> String,
    ) -> super::CheckResult {
        if holds {
            Ok(())
        } else {
            Err(self.fail(reason()))
        }
    }

    /// `result`'s value, or a failure saying that `what` failed.
    pub(super) fn ok<T>(&self, what: &str, result: Result<T>) -> Result<T, Failure> {
        result.map_err(|e| self.fail(format!("{what} failed: {e}")))
    }

    /// `step` within [`STEP`].
    pub(super) async fn within<T>(
        &self,
        what: &str,
        step: impl Future<Output = T>,
    ) -> Result<T, Failure> {
        tokio::time::timeout(STEP, step)
            .await
            .map_err(|_| self.fail(format!("{what} did not finish within {STEP:?}")))
    }
}

/// A community ID unique to `name`.
pub(super) fn community(name: &str) -> CommunityId {
    let digest = keccak256(name.as_bytes());
    let mut id = [2u8; 33];
    id[1..].copy_from_slice(&digest);
    CommunityId(id)
}

/// `per_week` messages in each of `weeks` weeks from `D1 + first_week`.
pub(super) fn messages(first_week: u64, weeks: u64, per_week: u64) -> Vec<Message> {
    (first_week..first_week + weeks)
        .flat_map(|w| (0..per_week).map(move |i| (w, i)))
        .map(|(w, i)| Message {
            sig: vec![7; 65],
            timestamp: D1 + w * WEEK + 3_600 * (i + 1),
            topic: TOPIC,
            payload: format!("week {w} message {i}").into_bytes(),
            padding: Vec::new(),
            hash: keccak256(format!("{w}/{i}").as_bytes()).to_vec(),
            third_party_id: String::new(),
        })
        .collect()
}

/// Weeks `weeks` from `D1`.
pub(super) fn range(weeks: std::ops::Range<u64>) -> TimeRange {
    TimeRange {
        from: D1 + weeks.start * WEEK,
        to: D1 + weeks.end * WEEK,
    }
}

pub(super) async fn publish(
    check: &Check,
    node: &DynBackend,
    community: CommunityId,
    source: &MessageList,
    weeks: std::ops::Range<u64>,
    previous: Option<Link>,
) -> Result<PublishOutcome, Failure> {
    publish_with(
        check,
        node,
        community,
        source,
        weeks,
        previous,
        &PublishOptions::default(),
    )
    .await
}

/// [`publish`] with `options`.
pub(super) async fn publish_with(
    check: &Check,
    node: &DynBackend,
    community: CommunityId,
    source: &MessageList,
    weeks: std::ops::Range<u64>,
    previous: Option<Link>,
    options: &PublishOptions,
) -> Result<PublishOutcome, Failure> {
    let request = PublishRequest {
        community,
        topics: vec![TOPIC],
        range: range(weeks),
        interval: WEEK,
        previous,
        messages: source,
    };
    let published = check
        .within("publish", node.publish(request, options))
        .await?;
    check.ok("publish", published)
}

/// Publishes `weeks` of `source` and returns the link, which must exist.
pub(super) async fn publish_link(
    check: &Check,
    node: &DynBackend,
    community: CommunityId,
    source: &MessageList,
    weeks: std::ops::Range<u64>,
) -> Result<(Link, PublishOutcome), Failure> {
    let published = publish(check, node, community, source, weeks, None).await?;
    let link = published
        .link
        .clone()
        .ok_or_else(|| check.fail("a publish that created archives returned no link"))?;
    Ok((link, published))
}

pub(super) async fn resolve(
    check: &Check,
    member: &DynBackend,
    community: &CommunityId,
    link: &Link,
) -> Result<RemoteIndex, Failure> {
    let resolved = check
        .within(
            "resolve",
            member.resolve(community, link, &ResolveOptions::default()),
        )
        .await?;
    check.ok("resolving the owner's link", resolved)
}

/// What a fetch handed over, in order.
pub(super) struct HandedOver {
    pub(super) ids: Vec<ArchiveId>,
    pub(super) ranges: Vec<TimeRange>,
    pub(super) archives: Vec<Archive>,
    /// Archives handed over as locked (their key missing), with the key.
    pub(super) locked: Vec<(ArchiveId, String)>,
}

/// Fetches `ids` with `options` while draining the events, checks it fetched
/// exactly them with one verified archive each, and returns the outcome and
/// what was handed over.
pub(super) async fn fetch(
    check: &Check,
    member: &DynBackend,
    community: &CommunityId,
    link: &Link,
    ids: &[ArchiveId],
    options: &FetchOptions,
) -> Result<(FetchOutcome, HandedOver), Failure> {
    // Capacity 1: a backend must hand archives over one at a time as the
    // caller takes them, never buffer them up itself.
    let (tx, rx) = mpsc::channel(1);
    let fetching = member.fetch(community, link, ids, options, tx, CancellationToken::new());
    let (outcome, handed) = check
        .within("fetch", futures::future::join(fetching, drain(rx)))
        .await?;
    let outcome = check.ok("fetch", outcome)?;
    let wanted: HashSet<_> = ids.iter().copied().collect();
    check.ensure(
        outcome.fetched.iter().copied().collect::<HashSet<_>>() == wanted,
        || {
            format!(
                "fetch must complete exactly the {} archives asked for, it completed {:?}",
                ids.len(),
                outcome.fetched
            )
        },
    )?;
    check.ensure(
        handed.ids.len() == wanted.len()
            && handed.ids.iter().copied().collect::<HashSet<_>>() == wanted,
        || {
            format!(
                "one event per archive asked for ({}), got {}",
                ids.len(),
                handed.ids.len()
            )
        },
    )?;
    for ((id, range), archive) in handed.ids.iter().zip(&handed.ranges).zip(&handed.archives) {
        check.ensure(archive.metadata.range == *range, || {
            format!("archive {id} was handed over with another archive's range")
        })?;
    }
    Ok((outcome, handed))
}

/// Every event until the sender is dropped.
pub(super) async fn drain(mut rx: mpsc::Receiver<FetchEvent>) -> HandedOver {
    let mut handed = HandedOver {
        ids: Vec::new(),
        ranges: Vec::new(),
        archives: Vec::new(),
        locked: Vec::new(),
    };
    while let Some(event) = rx.recv().await {
        match event {
            FetchEvent::ArchiveFetched { id, range, archive } => {
                handed.ids.push(id);
                handed.ranges.push(range);
                handed.archives.push(archive);
            }
            FetchEvent::ArchiveLocked { id, key_id, .. } => handed.locked.push((id, key_id)),
        }
    }
    handed
}

/// A source that fails after `good` messages.
pub(super) struct FailingSource {
    pub(super) inner: MessageList,
    pub(super) good: usize,
}

impl MessageSource for FailingSource {
    fn messages(
        &self,
        topics: &[Topic],
        range: TimeRange,
    ) -> futures::stream::BoxStream<'_, Result<Message>> {
        let good = self.good;
        self.inner
            .messages(topics, range)
            .enumerate()
            .map(move |(i, m)| {
                if i < good {
                    m
                } else {
                    Err(Error::new(
                        ErrorKind::Io,
                        "conformance",
                        "the message source failed",
                    ))
                }
            })
            .boxed()
    }
}
