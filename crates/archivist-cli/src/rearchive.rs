//! `archivist rearchive`: an owner archives a time range again on purpose,
//! after messages arrived for time already archived (`messages import`
//! reports them as `late`). Archiving only appends after the last archive
//! end, so without this those messages would never reach a member.
//!
//! The BitTorrent archives from the first one that ends after `--from` are
//! taken back and built again from the store, the `.torrent` is rebuilt and
//! its magnet link recorded as the community's current link with a newer
//! clock. The owner's next `archivist run` seeds and announces it; members
//! fetch the archives they do not have (the rebuilt ones have new IDs) and
//! import each over its range, which replaces that range's messages.

use std::path::PathBuf;

use anyhow::Context;
use archive_backend::LinkKind;
use archive_dispatch::CommunityKey;
use archive_index::{CommunityId, TimeRange, partitions};
use archive_store::Database;
use backend_torrent::{ArchiveDir, Metainfo, TorrentOptions};
use serde_json::{Value, json};

use crate::{config_check, create::append_partitions, human_time};

/// Arguments of `archivist rearchive`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Run it while the owner's node is stopped: it takes the store's and the \
    archive folder's writer locks. Then start the owner again; it seeds and announces the new \
    link, and members replace the rebuilt range. Only the BitTorrent archives are rebuilt; a \
    Codex link stays as it was.\n\nExample (the `from` of `messages import`'s `late` report):\n  \
    archivist rearchive --config examples/owner.toml --from 1577900000"
)]
pub(crate) struct RearchiveArgs {
    /// The owner's TOML configuration; embedded defaults when absent.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Archive again every archive that ends after this Unix second.
    #[arg(long, value_name = "SECONDS")]
    from: u64,
    /// Only this owned community (otherwise each owned one).
    #[arg(long)]
    community: Option<CommunityId>,
}

pub(crate) fn run(args: &RearchiveArgs) -> anyhow::Result<Value> {
    let config = config_check::load(args.config.as_deref())?;
    anyhow::ensure!(
        config.torrent.enabled,
        "config key `torrent.enabled` is false: rearchive rebuilds the BitTorrent archives"
    );
    let store_path = config.store_path();
    anyhow::ensure!(
        store_path.is_file(),
        "no store at {}: nothing was archived yet",
        store_path.display()
    );
    let mut reports = Vec::new();
    for (i, owned) in config.owned.iter().enumerate() {
        let key = CommunityKey::read_file(&owned.key_file).with_context(|| {
            format!(
                "config key `owned[{i}].key_file`: the key file {}",
                owned.key_file.display()
            )
        })?;
        let community = key.community_id();
        if args.community.is_some_and(|only| only != community) {
            continue;
        }
        // The writer lock first: a running owner makes this fail before
        // any file is touched.
        let mut db = Database::open(&store_path).with_context(|| {
            format!("the store {} (stop the owner first)", store_path.display())
        })?;
        let dir = ArchiveDir::new(&config.torrent_dir().join("archivedata"), &community);
        let taken = dir.rewind(args.from)?;
        let (Some(first), Some(last)) = (taken.first(), taken.last()) else {
            reports.push(json!({
                "community": community.to_string(),
                "rebuilt": 0,
                "note": "no archive ends after --from: nothing to rebuild",
            }));
            continue;
        };
        // From the end of the archives kept, so a late message in a period
        // that had no archive gets one, on the owner's partition grid.
        let kept_end = dir
            .load_index()?
            .by_offset()
            .map(|(_, e)| e.metadata.range.to)
            .max();
        let from = kept_end.unwrap_or_else(|| first.metadata.range.from.min(args.from));
        let to = last.metadata.range.to;
        let parts: Vec<TimeRange> =
            partitions(TimeRange { from, to }, config.archive_interval.as_secs())?.collect();
        let outcome = append_partitions(&db, &owned.topics, parts, &dir)?;

        let torrent_dir = config.torrent_dir().join("torrents");
        let options = TorrentOptions {
            announce_list: config
                .torrent
                .trackers
                .iter()
                .map(|t| vec![t.clone()])
                .collect(),
            ..TorrentOptions::new(
                "archivist",
                i64::try_from(human_time::now_secs()).unwrap_or(i64::MAX),
            )
        };
        // Pieces changed in the middle: no piece hash of the old torrent
        // can be reused.
        let metainfo = Metainfo::build(&dir, &options, None)?;
        metainfo.write(&torrent_dir)?;
        let magnet = metainfo.magnet().to_string();
        let previous = db.announcement(&community, &LinkKind::TORRENT)?;
        let clock = (human_time::now_secs() * 1000).max(previous.map_or(0, |a| a.clock) + 1);
        db.record_announcement(&community, &LinkKind::TORRENT, clock, &magnet)?;
        reports.push(json!({
            "community": community.to_string(),
            "rebuilt": outcome.report.archives.len(),
            "from": from,
            "to": to,
            "from_utc": human_time::utc(from),
            "to_utc": human_time::utc(to),
            "replaced": taken.iter().map(|e| e.id().to_string()).collect::<Vec<_>>(),
            "archives": outcome.report.archives.iter().map(|a| json!({
                "id": a.id.to_string(),
                "from": a.entry.metadata.range.from,
                "to": a.entry.metadata.range.to,
                "messages": a.message_count,
            })).collect::<Vec<_>>(),
            "magnet": magnet,
            "note": "start the owner again: it seeds and announces this link, and members \
                     replace the rebuilt range",
        }));
    }
    Ok(json!(reports))
}
