//! One download at a time: the networks with an accepted link tried in
//! preference order, each through [`fetch_into_store`], its steps turned
//! into the node's events.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use archive_backend::{DynBackend, ErrorKind, FetchOrder, FetchOutcome, Link};
use archive_index::{LinkKind, coalesce};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{MemberContext, Shared, lock};
use crate::{
    encryption::Encrypted,
    event::NodeEvent,
    fetch::{FetchIntoStore, Step, fetch_into_store},
};

/// A running download and how to stop it.
pub(super) struct Download {
    pub(super) kind: LinkKind,
    pub(super) cancel: CancellationToken,
    pub(super) task: JoinHandle<()>,
}

pub(super) fn start_download(
    context: &Arc<MemberContext>,
    shared: &Arc<Mutex<Shared>>,
    parent: &CancellationToken,
) -> Option<Download> {
    let first = {
        let state = lock(shared);
        context
            .order()
            .into_iter()
            .find(|k| state.links.contains_key(k))?
    };
    {
        let mut state = lock(shared);
        state.downloading = Some(first.clone());
        // Said again by this download if a key is still missing.
        state.awaiting_key = false;
    }
    let cancel = parent.child_token();
    let task = tokio::spawn(download(
        Arc::clone(context),
        Arc::clone(shared),
        cancel.clone(),
    ));
    Some(Download {
        kind: first,
        cancel,
        task,
    })
}

/// Tries each network with an accepted link in preference order until one
/// fetches and imports everything.
async fn download(
    context: Arc<MemberContext>,
    shared: Arc<Mutex<Shared>>,
    cancel: CancellationToken,
) {
    let mut tried = Vec::new();
    loop {
        let next = {
            let state = lock(&shared);
            context
                .order()
                .into_iter()
                .filter(|k| !tried.contains(k))
                .find_map(|k| state.links.get(&k).map(|l| (k, l.clone())))
        };
        let Some((kind, link)) = next else { return };
        tried.push(kind.clone());
        lock(&shared).downloading = Some(kind.clone());
        let Some(backend) = context.backend(&kind) else {
            continue;
        };
        match fetch_and_import(&context, &shared, backend, &link, &cancel).await {
            Ok(outcome) => {
                // A network whose members do not serve what they fetched
                // leaves this member a downloader only.
                let seeds = backend.capabilities().member_seeding;
                if seeds {
                    let mut state = lock(&shared);
                    if !state.seeding.contains(&kind) {
                        state.seeding.push(kind);
                    }
                }
                context.emit(NodeEvent::DownloadingHistoryArchivesFinished {
                    community: context.community,
                    backend: backend.name(),
                    link: link.clone(),
                    fetched: outcome.fetched.len(),
                    bytes_fetched: outcome.bytes_fetched,
                });
                if seeds {
                    context.emit(NodeEvent::MemberSeeding {
                        community: context.community,
                        link,
                    });
                }
                return;
            }
            Err(e) if e.kind() == ErrorKind::Cancelled || cancel.is_cancelled() => return,
            Err(e) if e.kind() == ErrorKind::KeyMissing => {
                // The index itself is sealed with a key this node lacks:
                // nothing to list or fetch until it arrives, which starts
                // the download again (no retry meanwhile).
                let key_id = e.missing_key().unwrap_or_default().to_owned();
                key_missing(&context, &shared, key_id, 0);
                return;
            }
            Err(e) => {
                let fallback = {
                    let state = lock(&shared);
                    context
                        .order()
                        .iter()
                        .filter(|k| !tried.contains(k) && state.links.contains_key(k))
                        .find_map(|k| context.backend(k).map(|b| b.name()))
                };
                tracing::warn!(community = %context.community, backend = backend.name(), error = %e, "download failed");
                context.emit(NodeEvent::DownloadFailed {
                    community: context.community,
                    backend: backend.name(),
                    error: e.to_string(),
                    fallback,
                });
            }
        }
    }
}

/// Fetches what the store lacks behind `link` and imports it (see
/// [`fetch_into_store`]), telling the node's listeners each step, and records
/// the link as fetched once everything is in.
async fn fetch_and_import(
    context: &Arc<MemberContext>,
    shared: &Arc<Mutex<Shared>>,
    backend: &DynBackend,
    link: &Link,
    cancel: &CancellationToken,
) -> archive_backend::Result<FetchOutcome> {
    let community = context.community;
    let order = if context.import.newest_first {
        FetchOrder::NewestFirst
    } else {
        FetchOrder::OldestFirst
    };
    let options = FetchIntoStore::default()
        .with_order(order)
        .with_import(context.import.enabled)
        .with_policy(context.policy)
        .with_envelope(context.encrypted.as_ref().map(Encrypted::shared));
    let name = backend.name();
    // Archives waiting for each missing key, said once the fetch is done.
    let locked: Mutex<BTreeMap<String, usize>> = Mutex::default();
    let on_step = |step: Step<'_>| match step {
        Step::Resolved {
            missing,
            ranges,
            unselected,
            ..
        } if missing > 0 => {
            context.emit(NodeEvent::DownloadingHistoryArchivesStarted {
                community,
                backend: name,
                missing,
                ranges: coalesce(ranges.iter().copied()),
                unselected,
            });
        }
        Step::Fetched { id, range, .. } => {
            context.emit(NodeEvent::HistoryArchiveDownloaded {
                community,
                id,
                range,
            });
        }
        Step::Importing { id } => {
            context.emit(NodeEvent::ImportingHistoryArchiveMessages { community, id });
        }
        Step::Imported { id, messages, .. } => {
            context.emit(NodeEvent::HistoryArchiveImported {
                community,
                id,
                messages,
            });
        }
        Step::Locked { id, key_id } => {
            tracing::info!(%community, archive = %id, key = key_id, "archive waits for its key");
            *lock_map(&locked).entry(key_id.to_owned()).or_default() += 1;
        }
        Step::Failed { id, error } => {
            tracing::warn!(%community, archive = %id, %error, "import failed");
            context.emit(NodeEvent::ImportFailed {
                community,
                id,
                error,
            });
        }
        _ => {}
    };
    let done = fetch_into_store(
        context.store(),
        backend.as_ref(),
        community,
        link,
        &options,
        cancel,
        &on_step,
    )
    .await?;
    if cancel.is_cancelled() {
        // Said once, at the boundary where the work stopped: what is
        // recorded as downloaded is imported on the next start.
        context.emit(NodeEvent::DownloadStopped {
            community,
            backend: name,
            fetched: done.recorded,
            imported: done.imported,
            left_to_import: done.deferred,
            not_fetched: done.missing.saturating_sub(done.recorded),
        });
        return Err(archive_backend::Error::new(
            ErrorKind::Cancelled,
            name,
            "download cancelled",
        ));
    }
    for (key_id, archives) in std::mem::take(&mut *lock_map(&locked)) {
        key_missing(context, shared, key_id, archives);
    }
    let outcome = done.outcome?;
    let failures = done.failed;
    if failures > 0 {
        return Err(archive_backend::Error::new(
            ErrorKind::Other,
            name,
            format!(
                "{failures} archive(s) could not be imported; they are retried on the next download"
            ),
        ));
    }
    // A link is fetched once everything behind it is in; while the policy
    // leaves archives out, each start (or a wider policy) looks again, and
    // archives waiting for a key are imported when it arrives.
    if done.unselected > 0 || done.locked > 0 {
        return Ok(outcome);
    }
    context
        .store()
        .set_fetched_link(community, &link.kind(), link.announced().to_owned())
        .await
        .map_err(|e| archive_backend::Error::new(ErrorKind::Other, name, format!("store: {e}")))?;
    Ok(outcome)
}

/// Notes that `key_id` is missing for `archives` archives (0: for the
/// index): the member waits for keys rather than retrying, and the event is
/// said once per key.
fn key_missing(context: &MemberContext, shared: &Mutex<Shared>, key_id: String, archives: usize) {
    let first = {
        let mut state = lock(shared);
        state.awaiting_key = true;
        state.reported_keys.insert(key_id.clone())
    };
    if first {
        tracing::warn!(community = %context.community, key = %key_id, archives, "archives wait for a key this node does not hold");
        context.emit(NodeEvent::ArchiveKeyMissing {
            community: context.community,
            key_id,
            archives,
        });
    }
}

fn lock_map<T>(map: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    map.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
