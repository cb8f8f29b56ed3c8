// A js-waku relay peer that speaks status-go's announcement wire format with
// @waku/message-encryption's symmetric encoder and decoder, driven line by
// line by the Rust interop test (tests/it/interop.rs):
// `node --import ./polyfill.mjs waku-peer.mjs listen` or
// `... waku-peer.mjs dial <multiaddr>`.
//
// Environment: CONTENT_TOPIC (the community's `-memberUpdate` content topic),
// CHAT_ID (that chat's ID; its key is derived here with PBKDF2 as status-go
// does), AMM_HEX (a signed ApplicationMetadataMessage type 43 to announce).
//
// It prints `ADDR <multiaddr>` once listening, `SIGNER <hex>` (its frame key,
// 65 bytes uncompressed), `READY` once it has a relay peer and is subscribed,
// and for every announcement it decrypts `GOT <hash> <frame signer> <version>
// <timestamp> <frame data hex>`. It answers the first one with its own
// announcement: AMM_HEX in a ProtocolMessage, framed, signed and encrypted by
// the symmetric encoder, printing `SENT` when a peer took it; with
// ANNOUNCE_AT_ONCE=1 it sends that announcement as soon as it is READY
// instead. It stops when stdin closes or it is killed.
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { createRelayNode } from "@waku/sdk/relay";
import { waitForRemotePeer, Protocols } from "@waku/sdk";
import { messageHash } from "@waku/message-hash";
import { createDecoder, createEncoder } from "@waku/message-encryption/symmetric";
import { getPublicKey } from "@noble/secp256k1";

const [mode, peer] = process.argv.slice(2);
const contentTopic = process.env.CONTENT_TOPIC;
const chatId = process.env.CHAT_ID;
const amm = Buffer.from(process.env.AMM_HEX, "hex");
const pubsubTopic = "/waku/2/rs/16/32";
// What @waku/utils' createRoutingInfo({ clusterId: 16 }, { shardId: 32 })
// yields under static sharding; the codecs only read `pubsubTopic`.
const routingInfo = { clusterId: 16, shardId: 32, pubsubTopic };
const say = (line) => process.stdout.write(`${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const hex = (bytes) => Buffer.from(bytes).toString("hex");

// status-go's chat key: PBKDF2-HMAC-SHA256(chat ID, empty salt, 65356, 32).
const symKey = new Uint8Array(pbkdf2Sync(chatId, Buffer.alloc(0), 65356, 32, "sha256"));
const sigPrivKey = new Uint8Array(randomBytes(32));

const varint = (n) => {
  const out = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
};
// ProtocolMessage{installation_id = 2, public_message = 102}, as status-go
// builds it for a public message (no bundles).
const installationId = Buffer.from("js-waku-interop");
const protocolMessage = Buffer.concat([
  Buffer.from([0x12]),
  varint(installationId.length),
  installationId,
  Buffer.from([0xb2, 0x06]),
  varint(amm.length),
  amm,
]);

const node = await createRelayNode({
  networkConfig: { clusterId: 16, shards: [32] },
  libp2p: {
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0/ws"] },
    // Without this the websocket filter dials only wss, never ws://127.0.0.1.
    filterMultiaddrs: false,
    hideWebSocketInfo: true,
  },
});
await node.start();
say(`ADDR ${node.libp2p.getMultiaddrs()[0].toString()}`);
say(`SIGNER ${hex(getPublicKey(sigPrivKey, false))}`);
if (mode === "dial") {
  await node.dial(peer);
}
await waitForRemotePeer(node, [Protocols.Relay], 15000);

const encoder = createEncoder({ contentTopic, routingInfo, symKey, sigPrivKey });
const decoder = createDecoder(contentTopic, routingInfo, symKey);
let answered = false;
const announce = async () => {
  for (let attempt = 0; attempt < 40; attempt++) {
    const result = await node.relay.send(encoder, { payload: protocolMessage });
    if (result.successes.length > 0) {
      say("SENT");
      return;
    }
    await sleep(250);
  }
  say("SEND-FAILED");
};
await node.relay.subscribe([decoder], async (message) => {
  const proto = message.proto;
  // The raw proto keeps the nanosecond timestamp the hash covers.
  const hash = hex(messageHash(pubsubTopic, proto));
  const signer = message.signaturePublicKey ? hex(message.signaturePublicKey) : "unsigned";
  say(`GOT ${hash} ${signer} ${proto.version} ${proto.timestamp} ${hex(message.payload)}`);
  if (answered) return;
  answered = true;
  await announce();
});
say("READY");
if (process.env.ANNOUNCE_AT_ONCE === "1") {
  answered = true;
  await announce();
}

process.stdin.on("end", async () => {
  await node.stop();
  process.exit(0);
});
process.stdin.resume();
