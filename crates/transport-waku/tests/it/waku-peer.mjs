// A js-waku relay peer driven line by line by the Rust interop test
// (tests/it/interop.rs): `node --import ./polyfill.mjs waku-peer.mjs listen`
// or `... waku-peer.mjs dial <multiaddr>`, content topic in CONTENT_TOPIC.
//
// It prints `ADDR <multiaddr>` once listening, `READY` once it has a relay
// peer and is subscribed, `GOT <hash hex> <text>` per message received, and
// answers the first one with `pong: <text>`, printing `SENT` when a peer took
// it. It stops when stdin closes or it is killed.
import { createRelayNode } from "@waku/sdk/relay";
import {
  createDecoder,
  createEncoder,
  waitForRemotePeer,
  Protocols,
  utf8ToBytes,
  bytesToUtf8,
} from "@waku/sdk";
import { messageHash } from "@waku/message-hash";

const [mode, peer] = process.argv.slice(2);
const contentTopic = process.env.CONTENT_TOPIC;
const pubsubTopic = "/waku/2/rs/16/32";
const say = (line) => process.stdout.write(`${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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
if (mode === "dial") {
  await node.dial(peer);
}
await waitForRemotePeer(node, [Protocols.Relay], 15000);

const encoder = createEncoder({ contentTopic, pubsubTopic });
let answered = false;
await node.relay.subscribe([createDecoder(contentTopic, pubsubTopic)], async (message) => {
  const text = bytesToUtf8(message.payload);
  // The raw proto keeps the nanosecond timestamp the hash covers; the
  // decoded message's Date would round it to milliseconds.
  const hash = Buffer.from(messageHash(pubsubTopic, message.proto ?? message)).toString("hex");
  say(`GOT ${hash} ${text}`);
  if (answered) return;
  answered = true;
  for (let attempt = 0; attempt < 40; attempt++) {
    const result = await node.relay.send(encoder, { payload: utf8ToBytes(`pong: ${text}`) });
    if (result.successes.length > 0) {
      say("SENT");
      return;
    }
    await sleep(250);
  }
  say("SEND-FAILED");
});
say("READY");

process.stdin.on("end", async () => {
  await node.stop();
  process.exit(0);
});
process.stdin.resume();
