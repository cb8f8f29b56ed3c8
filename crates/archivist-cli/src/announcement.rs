//! `archivist announcement encode|decode`: build the Waku message an owner
//! publishes, and peel a received payload layer by layer with the verdict a
//! member would reach (wire spec Part A).

use std::{
    io::Read,
    path::PathBuf,
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use archive_dispatch::{
    CommunityId, CommunityKey, DEFAULT_PUBSUB_TOPIC, Error, MAX_WIRE_SIZE, NodeIdentity, link_kind,
    wire::{self, OsEntropy, Peeled},
};
use serde_json::{Value, json};

/// What to do with an announcement.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AnnouncementCommand {
    /// Print the Waku message an owner would publish for a link.
    #[command(
        after_help = "The link is signed with the community key, wrapped in a \
        ProtocolMessage, framed (26/WAKU2-PAYLOAD) and signed by the node identity, and \
        sealed with AES-256-GCM for the community's `-memberUpdate` chat, as status-go sends \
        it. Padding and nonce are random, so the payload differs on every run.\n\n\
        Without --node-key a fresh ephemeral node identity signs the frame (the output says so).\n\n\
        Example:\n  archivist announcement encode --key owner.key \\\n    \
        --link 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567' --json"
    )]
    Encode(EncodeArgs),
    /// Peel every layer of a Waku payload and show whether a member accepts it.
    #[command(
        after_help = "HEX is the WakuMessage payload (0x optional), or `-` to read it \
        from stdin. Without --content-topic every announcement channel key of the community \
        is tried. Exits non-zero when a member would reject the payload, naming the layer \
        that failed, after printing what could be read.\n\n\
        Example:\n  archivist announcement encode --key owner.key --link zDvZRwzmTestCID123 --json \\\n    \
        | jq -r .payload | archivist announcement decode --community 0x02… -"
    )]
    Decode(DecodeArgs),
}

/// Arguments of `archivist announcement encode`.
#[derive(Debug, clap::Args)]
pub(crate) struct EncodeArgs {
    /// The community key file (as `archivist keygen` writes it).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The magnet link or index CID to announce.
    #[arg(long, value_name = "LINK")]
    link: String,
    /// The announcement clock, Unix milliseconds [default: now].
    #[arg(long, value_name = "MS")]
    clock: Option<u64>,
    /// The node identity file that signs the frame [default: a fresh ephemeral identity].
    #[arg(long, value_name = "FILE")]
    node_key: Option<PathBuf>,
    /// The pubsub topic to publish on.
    #[arg(long, value_name = "T", default_value = DEFAULT_PUBSUB_TOPIC)]
    pubsub_topic: String,
    /// Print one JSON object instead.
    #[arg(long)]
    json: bool,
}

/// Arguments of `archivist announcement decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct DecodeArgs {
    /// The community the payload must be signed by, 0x + 66 hex.
    #[arg(long, value_name = "0x…")]
    community: CommunityId,
    /// The content topic it arrived on [default: try each channel of the community].
    #[arg(long, value_name = "T")]
    content_topic: Option<String>,
    /// The payload as hex, or `-` for stdin.
    #[arg(value_name = "HEX|-")]
    payload: String,
    /// Print one JSON object instead.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: AnnouncementCommand) -> anyhow::Result<()> {
    match command {
        AnnouncementCommand::Encode(args) => encode(&args),
        AnnouncementCommand::Decode(args) => decode(&args),
    }
}

fn encode(args: &EncodeArgs) -> anyhow::Result<()> {
    let community = CommunityKey::read_file(&args.key)?;
    let (node, node_identity) = match &args.node_key {
        Some(path) => (NodeIdentity::read_file(path)?, path.display().to_string()),
        None => (NodeIdentity::generate(), "ephemeral".to_owned()),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    let clock = match args.clock {
        Some(clock) => clock,
        None => u64::try_from(now.as_millis()).context("the system clock is out of range")?,
    };
    let timestamp_ns = i64::try_from(now.as_nanos()).context("the system clock is out of range")?;
    let mut out = wire::encode_announcement(
        &community,
        &node,
        &args.link,
        clock,
        timestamp_ns,
        &mut OsEntropy,
    )
    .with_context(|| format!("announcing {:?}", args.link))?;
    out.pubsub_topic.clone_from(&args.pubsub_topic);
    let hash = archivist::waku::message_hash(&out.pubsub_topic, &out.relay_message());
    let kind = link_kind(&args.link)?;
    let report = json!({
        "community": community.community_id().to_string(),
        "link": args.link,
        "link_kind": kind.name(),
        "clock": clock,
        "frame_signer": node.public_key().to_string(),
        "installation_id": node.installation_id(),
        "node_identity": node_identity,
        "payload": hex::encode(&out.payload),
        "content_topic": out.content_topic,
        "pubsub_topic": out.pubsub_topic,
        "version": out.version,
        "timestamp": out.timestamp_ns,
        "message_hash": format!("0x{}", hex::encode(hash)),
        "waku_message": hex::encode(out.encode()),
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let ephemeral = if args.node_key.is_none() {
            " (ephemeral: no --node-key given)"
        } else {
            ""
        };
        println!(
            "community      {}",
            report["community"].as_str().unwrap_or("")
        );
        println!("link           {} ({})", args.link, kind.name());
        println!("clock          {clock}");
        println!("frame signer   {}{ephemeral}", node.public_key());
        println!("installation   {}", node.installation_id());
        println!("content topic  {}", out.content_topic);
        println!("pubsub topic   {}", out.pubsub_topic);
        println!("version        {}", out.version);
        println!("timestamp      {} ns", out.timestamp_ns);
        println!("message hash   0x{}", hex::encode(hash));
        println!("payload        {}", hex::encode(&out.payload));
    }
    Ok(())
}

fn decode(args: &DecodeArgs) -> anyhow::Result<()> {
    let text = if args.payload == "-" {
        // Twice the hex of the largest accepted payload, plus room for a
        // prefix and whitespace: anything longer is refused unread.
        let limit = 2 * MAX_WIRE_SIZE + 64;
        let mut text = String::new();
        std::io::stdin()
            .take(u64::try_from(limit + 1)?)
            .read_to_string(&mut text)
            .context("reading the payload from stdin")?;
        if text.len() > limit {
            bail!("payload on stdin is longer than {limit} characters of hex");
        }
        text
    } else {
        args.payload.clone()
    };
    let hex_text: String = text.split_whitespace().collect();
    let hex_text = hex_text.strip_prefix("0x").unwrap_or(&hex_text);
    let payload = hex::decode(hex_text).context("payload is not hex")?;
    let peeled = wire::peel(&args.community, args.content_topic.as_deref(), &payload);
    let report = peeled_json(args, &peeled);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_peeled(&report);
    }
    match &peeled.verdict {
        Ok(_) => Ok(()),
        Err(e) => bail!("rejected at the {} layer: {e}", layer(e)),
    }
}

fn peeled_json(args: &DecodeArgs, peeled: &Peeled) -> Value {
    let (accepted, layer_name, reason, message_id) = match &peeled.verdict {
        Ok(verified) => (
            true,
            None,
            None,
            Some(format!("0x{}", hex::encode(verified.message_id))),
        ),
        Err(e) => (false, Some(layer(e)), Some(e.to_string()), None),
    };
    json!({
        "community": args.community.to_string(),
        "content_topic": args.content_topic,
        "chat_id": peeled.chat_id,
        "frame_signer": peeled.frame_signer.map(|k| k.to_string()),
        "installation_id": peeled.installation_id,
        "message_type": peeled.message_type,
        "community_signer": peeled.community_signer.map(|c| c.to_string()),
        "clock": peeled.clock,
        "link": peeled.link,
        "link_kind": peeled
            .link
            .as_deref()
            .and_then(|link| link_kind(link).ok())
            .map(|kind| kind.name().to_owned()),
        "message_id": message_id,
        "accepted": accepted,
        "rejected_layer": layer_name,
        "reason": reason,
    })
}

fn print_peeled(report: &Value) {
    let field = |key: &str| match &report[key] {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for (label, key) in [
        ("chat", "chat_id"),
        ("frame signer", "frame_signer"),
        ("installation", "installation_id"),
        ("type", "message_type"),
        ("community signer", "community_signer"),
        ("clock", "clock"),
        ("link", "link"),
        ("link kind", "link_kind"),
        ("message ID", "message_id"),
    ] {
        println!("{label:<17}{}", field(key));
    }
    if report["accepted"] == true {
        println!("{:<17}accepted", "verdict");
    } else {
        println!(
            "{:<17}rejected at the {} layer: {}",
            "verdict",
            field("rejected_layer"),
            field("reason")
        );
    }
}

/// The wire layer an error belongs to, outermost first in spec order (A.1).
fn layer(error: &Error) -> &'static str {
    match error {
        Error::UnknownContentTopic { .. } => "content topic",
        Error::Oversized { .. } => "size",
        Error::Decrypt { .. } => "encryption (AES-256-GCM)",
        Error::Frame(_) => "payload frame (26/WAKU2-PAYLOAD)",
        Error::UnsignedFrame | Error::FrameSignature(_) => "frame signature",
        Error::Malformed {
            what: "CommunityMessageArchiveLink",
            ..
        } => "archive link payload (CommunityMessageArchiveLink)",
        Error::Malformed { .. } => "application message (ApplicationMetadataMessage)",
        Error::UnknownType(_) => "message type",
        Error::SignatureLength(_) | Error::RecoveryId(_) | Error::BadSignature(_) => {
            "community signature"
        }
        Error::EmptyLink | Error::UnrecognisedLink { .. } | Error::LinkKindMismatch { .. } => {
            "link"
        }
        Error::SignerMismatch { .. } => "community signer",
        _ => "announcement",
    }
}
