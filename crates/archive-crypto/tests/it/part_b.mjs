// An independent implementation of status-go's hash-ratchet blob format
// (docs/spec/status-go-wire.md Part B, B.2–B.5) in plain Node, sharing no code
// with archive-crypto: Keccak-256 written out here, AES-256-GCM from
// node:crypto, protobuf read and written by hand.
//
//   node part_b.mjs open KEYFILE BLOBFILE         -> plaintext as hex
//   node part_b.mjs seal KEYFILE SEQ HEX INSTALL  -> blob as hex (random nonce)
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const MASK = (1n << 64n) - 1n;
const RC = [
  0x0000000000000001n, 0x0000000000008082n, 0x800000000000808an, 0x8000000080008000n,
  0x000000000000808bn, 0x0000000080000001n, 0x8000000080008081n, 0x8000000000008009n,
  0x000000000000008an, 0x0000000000000088n, 0x0000000080008009n, 0x000000008000000an,
  0x000000008000808bn, 0x800000000000008bn, 0x8000000000008089n, 0x8000000000008003n,
  0x8000000000008002n, 0x8000000000000080n, 0x000000000000800an, 0x800000008000000an,
  0x8000000080008081n, 0x8000000000008080n, 0x0000000080000001n, 0x8000000080008008n,
];
// ROT[x][y]: rotation of lane (x, y).
const ROT = [
  [0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61],
  [28, 55, 25, 21, 56], [27, 20, 39, 8, 14],
];
const rotl = (v, n) => (n === 0 ? v : ((v << BigInt(n)) | (v >> BigInt(64 - n))) & MASK);

function keccakF(s) {
  for (let round = 0; round < 24; round++) {
    const c = [0, 1, 2, 3, 4].map((x) => s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20]);
    const d = [0, 1, 2, 3, 4].map((x) => c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1));
    for (let i = 0; i < 25; i++) s[i] ^= d[i % 5];
    const b = new Array(25);
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(s[x + 5 * y], ROT[x][y]);
    }
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) {
        s[x + 5 * y] = b[x + 5 * y] ^ (~b[((x + 1) % 5) + 5 * y] & MASK & b[((x + 2) % 5) + 5 * y]);
      }
    }
    s[0] ^= RC[round];
  }
}

// Keccak-256 as Ethereum uses it (padding 0x01, not SHA3's 0x06).
function keccak256(data) {
  const rate = 136;
  const padded = Buffer.alloc((Math.floor(data.length / rate) + 1) * rate);
  data.copy(padded);
  padded[data.length] ^= 0x01;
  padded[padded.length - 1] ^= 0x80;
  const s = new Array(25).fill(0n);
  for (let off = 0; off < padded.length; off += rate) {
    for (let i = 0; i < rate / 8; i++) s[i] ^= padded.readBigUInt64LE(off + 8 * i);
    keccakF(s);
  }
  const out = Buffer.alloc(32);
  for (let i = 0; i < 4; i++) out.writeBigUInt64LE(s[i], 8 * i);
  return out;
}

if (keccak256(Buffer.alloc(0)).toString('hex') !==
    'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470') {
  throw new Error('keccak256 self-check failed');
}

function* fields(buf) {
  let i = 0;
  const varint = () => {
    let v = 0n, shift = 0n;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw new Error('truncated varint');
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const number = Number(key >> 3n), wire = Number(key & 7n);
    if (wire === 0) yield [number, varint()];
    else if (wire === 2) {
      const len = Number(varint());
      if (i + len > buf.length) throw new Error('field past the end');
      yield [number, buf.subarray(i, i + len)];
      i += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
}

const unhex = (s) => Buffer.from(s.replace(/^0x/, ''), 'hex');
const keyId = (k) => {
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64LE(BigInt(k.timestamp_ms));
  return keccak256(Buffer.concat([unhex(k.group_id), ts, unhex(k.key)]));
};
const messageKey = (key, seq) => {
  let k = key;
  for (let n = 0; n < seq; n++) k = keccak256(k);
  return k;
};
const readKeys = (path) => JSON.parse(readFileSync(path, 'utf8')).keys;

function open(keyFile, blobFile) {
  const blob = readFileSync(blobFile);
  let entry;
  for (const [n, v] of fields(blob)) {
    if (n !== 101) continue;
    let name, value;
    for (const [m, w] of fields(v)) {
      if (m === 1) name = w.toString('utf8');
      if (m === 2) value = w;
    }
    if (name === 'none') entry = value;
  }
  let payload, header;
  for (const [n, v] of fields(entry)) {
    if (n === 3) payload = v;
    if (n === 102) header = v;
  }
  let seq = 0, keyIdWanted;
  for (const [n, v] of fields(header)) {
    if (n === 2) seq = Number(v);
    if (n === 4) keyIdWanted = v;
  }
  const key = readKeys(keyFile).find((k) => keyId(k).equals(keyIdWanted));
  if (!key) throw new Error(`no key ${keyIdWanted.toString('hex')}`);
  const nonce = payload.subarray(payload.length - 12);
  const tag = payload.subarray(payload.length - 28, payload.length - 12);
  const decipher = createDecipheriv('aes-256-gcm', messageKey(unhex(key.key), seq), nonce);
  decipher.setAuthTag(tag);
  const plain = Buffer.concat([decipher.update(payload.subarray(0, payload.length - 28)), decipher.final()]);
  return plain.toString('hex');
}

const varint = (v) => {
  const out = [];
  let n = BigInt(v);
  while (n >= 0x80n) { out.push(Number(n & 0x7fn) | 0x80); n >>= 7n; }
  out.push(Number(n));
  return Buffer.from(out);
};
const lenField = (number, bytes) => Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
const uintField = (number, v) => (BigInt(v) === 0n ? Buffer.alloc(0) : Buffer.concat([varint(number << 3), varint(v)]));

function seal(keyFile, seq, plainHex, installation) {
  const key = readKeys(keyFile)[0];
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', messageKey(unhex(key.key), seq), nonce);
  const ct = Buffer.concat([cipher.update(unhex(plainHex)), cipher.final()]);
  const payload = Buffer.concat([ct, cipher.getAuthTag(), nonce]);
  const header = Buffer.concat([
    uintField(1, BigInt(key.timestamp_ms) & 0xffffffffn),
    uintField(2, seq),
    lenField(3, unhex(key.group_id)),
    lenField(4, keyId(key)),
  ]);
  const emp = Buffer.concat([lenField(3, payload), lenField(102, header)]);
  const entry = Buffer.concat([lenField(1, Buffer.from('none')), lenField(2, emp)]);
  return Buffer.concat([lenField(2, Buffer.from(installation)), lenField(101, entry)]).toString('hex');
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'open') process.stdout.write(open(args[0], args[1]) + '\n');
else if (mode === 'seal') process.stdout.write(seal(args[0], Number(args[1]), args[2], args[3]) + '\n');
else throw new Error(`unknown mode ${mode}`);
