//! The check of envelopes (an encrypted community's archives and index):
//! sealed blobs published, resolved and fetched through the options, an
//! archive whose key is missing handed over as locked and kept, and read
//! back once the key is there.
//!
//! The kit's envelope is a toy (a key byte XORed over the bytes behind a
//! header naming the key), not a cipher: what it checks is that a backend
//! seals and opens every blob through the options, pads and hashes the
//! sealed bytes, and keeps what it cannot open. The real cipher is
//! `archive-crypto`'s, tested there.

use std::{
    collections::{BTreeSet, HashSet},
    sync::{Arc, Mutex, PoisonError},
};

use archive_index::{BlobKind, Envelope, EnvelopeError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    CheckResult, Harness,
    fixture::{Check, community, drain, messages, publish_with},
};
use crate::{
    backend::{FetchOptions, PublishOptions, ResolveOptions},
    message_list::MessageList,
};

const MAGIC: &[u8; 4] = b"KIT\x01";

/// Seals with the newest key it holds; opens what a held key sealed.
#[derive(Debug, Default)]
struct KitEnvelope {
    keys: Mutex<BTreeSet<u8>>,
}

impl KitEnvelope {
    fn with(keys: &[u8]) -> Arc<KitEnvelope> {
        let envelope = KitEnvelope::default();
        envelope.add(keys);
        Arc::new(envelope)
    }

    fn add(&self, keys: &[u8]) {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(keys);
    }
}

impl Envelope for KitEnvelope {
    fn seal(&self, _kind: BlobKind, plain: Vec<u8>) -> Result<Vec<u8>, EnvelopeError> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let key = *keys
            .last()
            .ok_or_else(|| EnvelopeError::Invalid("no key".into()))?;
        let mut sealed = MAGIC.to_vec();
        sealed.push(key);
        sealed.extend(plain.iter().map(|b| b ^ key));
        Ok(sealed)
    }

    fn open(&self, _kind: BlobKind, blob: Vec<u8>) -> Result<Vec<u8>, EnvelopeError> {
        if blob.len() < 5 || &blob[..4] != MAGIC {
            return Err(EnvelopeError::Invalid("not sealed by the kit".into()));
        }
        let key = blob[4];
        if !self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key)
        {
            return Err(EnvelopeError::KeyMissing {
                key_id: key.to_string(),
            });
        }
        Ok(blob[5..].iter().map(|b| b ^ key).collect())
    }
}

/// Week 0 sealed with key 1, then (a rekey) week 1 and the index with key
/// 2: a member holding only key 2 resolves both, is handed week 1 and week
/// 0 as locked (kept), and reads week 0 back once it holds key 1; a member
/// without envelope cannot read the sealed index as plain.
pub async fn sealed_archives_open_and_wait_for_their_key(harness: &dyn Harness) -> CheckResult {
    let (owner, member) = (harness.node().await, harness.node().await);
    let check = Check::new("sealed_archives_open_and_wait_for_their_key", &owner);
    let community = community("sealed");
    let source = MessageList::new(messages(0, 2, 4));
    let sealing = KitEnvelope::with(&[1]);
    let options = PublishOptions::with_envelope(Some(sealing.clone()));
    let first = publish_with(&check, &owner, community, &source, 0..1, None, &options).await?;
    sealing.add(&[2]);
    let second = publish_with(
        &check,
        &owner,
        community,
        &source,
        1..2,
        first.link,
        &options,
    )
    .await?;
    let link = second
        .link
        .ok_or_else(|| check.fail("a publish that created archives returned no link"))?;
    let (week0, week1) = match (first.archives.first(), second.archives.first()) {
        (Some(a), Some(b)) => (a.id, b.id),
        _ => return Err(check.fail("each week must make an archive")),
    };

    let plain = check
        .within(
            "resolving without an envelope",
            member.resolve(&community, &link, &ResolveOptions::default()),
        )
        .await?;
    check.ensure(plain.is_err(), || {
        "a sealed index resolved as plain without an envelope".into()
    })?;

    let opening = KitEnvelope::with(&[2]);
    let resolve = ResolveOptions::default().with_envelope(Some(opening.clone()));
    let index = check
        .within("resolve", member.resolve(&community, &link, &resolve))
        .await?;
    let index = check.ok("resolving the sealed index", index)?;
    let listed: HashSet<_> = index.archives.iter().map(|(id, _)| *id).collect();
    check.ensure(listed == HashSet::from([week0, week1]), || {
        format!("the sealed index lists {listed:?}, not the two published archives")
    })?;

    let fetch_options = FetchOptions {
        envelope: Some(opening.clone()),
        ..FetchOptions::default()
    };
    let (tx, rx) = mpsc::channel(1);
    let both = [week0, week1];
    let fetching = member.fetch(
        &community,
        &link,
        &both,
        &fetch_options,
        tx,
        CancellationToken::new(),
    );
    let (outcome, handed) = check
        .within("fetch", futures::future::join(fetching, drain(rx)))
        .await?;
    let outcome = check.ok("fetching sealed archives", outcome)?;
    check.ensure(outcome.fetched.len() == 2, || {
        format!(
            "a locked archive still counts as fetched: {} of 2",
            outcome.fetched.len()
        )
    })?;
    check.ensure(handed.ids == [week1], || {
        format!("handed over {:?}, not the archive under key 2", handed.ids)
    })?;
    check.ensure(handed.locked == [(week0, "1".to_owned())], || {
        format!(
            "locked {:?}, not the archive under key 1 naming it",
            handed.locked
        )
    })?;
    check.ensure(handed.archives[0].messages.len() == 4, || {
        "the opened archive lost messages".into()
    })?;

    let still_locked = member
        .read_archive(&community, &link, &week0, &fetch_options)
        .await;
    check.ensure(
        still_locked
            .as_ref()
            .is_err_and(|e| e.kind() == crate::ErrorKind::KeyMissing),
        || format!("reading a locked archive back must fail with KeyMissing: {still_locked:?}"),
    )?;
    opening.add(&[1]);
    let read = check.ok(
        "reading the kept archive back once its key arrived",
        member
            .read_archive(&community, &link, &week0, &fetch_options)
            .await,
    )?;
    check.ensure(read.messages.len() == 4, || {
        format!("4 messages sealed, {} read back", read.messages.len())
    })
}
