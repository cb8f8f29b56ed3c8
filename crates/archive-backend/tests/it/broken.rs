//! Backends that break one rule each, to prove the kit's checks can fail:
//! a check every backend passes whatever it does would prove nothing.

use std::sync::Arc;

use archive_backend::{
    Backend, Capabilities, DynBackend, FetchEvent, FetchOptions, FetchOutcome, Link, LinkKind,
    PublishOptions, PublishOutcome, PublishRequest, RemoteIndex, ResolveOptions, Result,
    conformance::{self, Harness, MemoryHarness},
};
use archive_index::{Archive, ArchiveId, CommunityId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A correct backend whose `fetch` never looks at its cancellation token.
#[derive(Debug)]
struct IgnoresCancellation(DynBackend);

#[async_trait::async_trait]
impl Backend for IgnoresCancellation {
    fn name(&self) -> &'static str {
        "ignores-cancellation"
    }

    fn link_kind(&self) -> LinkKind {
        self.0.link_kind()
    }

    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }

    async fn publish(
        &self,
        request: PublishRequest<'_>,
        options: &PublishOptions,
    ) -> Result<PublishOutcome> {
        self.0.publish(request, options).await
    }

    async fn resolve(
        &self,
        community: &CommunityId,
        link: &Link,
        options: &ResolveOptions,
    ) -> Result<RemoteIndex> {
        self.0.resolve(community, link, options).await
    }

    async fn fetch(
        &self,
        community: &CommunityId,
        link: &Link,
        archives: &[ArchiveId],
        options: &FetchOptions,
        events: mpsc::Sender<FetchEvent>,
        _cancel: CancellationToken,
    ) -> Result<FetchOutcome> {
        let never = CancellationToken::new();
        self.0
            .fetch(community, link, archives, options, events, never)
            .await
    }

    async fn read_archive(
        &self,
        community: &CommunityId,
        link: &Link,
        id: &ArchiveId,
        options: &archive_backend::FetchOptions,
    ) -> Result<Archive> {
        self.0.read_archive(community, link, id, options).await
    }

    async fn seed(&self, community: &CommunityId, link: &Link) -> Result<()> {
        self.0.seed(community, link).await
    }

    async fn unseed(&self, community: &CommunityId, link: &Link) -> Result<()> {
        self.0.unseed(community, link).await
    }
}

/// Memory nodes wrapped in [`IgnoresCancellation`].
#[derive(Default)]
struct IgnoringHarness(MemoryHarness);

#[async_trait::async_trait]
impl Harness for IgnoringHarness {
    async fn node(&self) -> DynBackend {
        Arc::new(IgnoresCancellation(self.0.node().await))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_ignores_cancellation_midway_fails_the_kit() {
    let failure = conformance::fetch_stops_when_cancelled_midway(&IgnoringHarness::default())
        .await
        .expect_err("a fetch that ignores its token must fail the check");
    assert_eq!(failure.check, "fetch_stops_when_cancelled_midway");
    assert_eq!(failure.backend, "ignores-cancellation");
    let said = failure.to_string();
    assert!(
        said.contains("ignores-cancellation") && said.contains("went on"),
        "the failure says what broke: {said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_backend_minding_its_token_passes_that_check() {
    conformance::fetch_stops_when_cancelled_midway(&MemoryHarness::default())
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
}
