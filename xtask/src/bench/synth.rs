//! Deterministic synthetic community messages, written as the JSONL that
//! `archivist messages import` and `archivist create --messages` read.
//!
//! Everything comes from a seeded xorshift generator, so a seed names a data
//! set exactly: two runs of the bench or the crash test see the same bytes.
//! Payloads and signatures are random, hence incompressible, as real
//! encrypted chat payloads are.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use anyhow::Context;

/// A community ID (compressed secp256k1 key shape) used by every scenario.
pub(crate) const COMMUNITY: &str =
    "0x02b5e6f0a1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d";
/// The community's two chat topics.
pub(crate) const TOPICS: [&str; 2] = ["0xdeadbeef", "0x0badf00d"];
/// 2020-01-01 00:00:00 UTC, the start of every synthetic history.
pub(crate) const EPOCH: u64 = 1_577_836_800;
/// One archive partition, status-go's default.
pub(crate) const WEEK: u64 = 7 * 86_400;

/// xorshift64*: tiny, fast and good enough to make bytes look random.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        // Zero is xorshift's fixed point; splitmix the seed so nearby seeds
        // give unrelated streams.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[lo, hi]` (the slight modulo bias does not matter here).
    pub(crate) fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub(crate) struct Messages {
    pub(crate) seed: u64,
    pub(crate) count: u64,
    /// First timestamp, seconds.
    pub(crate) from: u64,
    /// Seconds the messages spread over, evenly: message `i` is at
    /// `from + i * span / count`.
    pub(crate) span: u64,
    /// Payload length range, bytes, inclusive.
    pub(crate) payload: (u64, u64),
}

/// What was generated.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Written {
    pub(crate) messages: u64,
    /// Payload and signature bytes: what an archive carries per message
    /// beyond a few bytes of framing.
    pub(crate) content_bytes: u64,
}

/// Writes `spec` as JSONL to `path` and returns its size in messages and
/// content bytes.
pub(crate) fn write_jsonl(path: &Path, spec: &Messages) -> anyhow::Result<Written> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut rng = Rng::new(spec.seed);
    let mut payload = vec![0u8; spec.payload.1 as usize];
    let mut sig = [0u8; 65];
    let mut hash = [0u8; 32];
    let mut line = String::with_capacity(2 * payload.len() + 512);
    let mut written = Written::default();
    for i in 0..spec.count {
        let timestamp = spec.from
            + (u128::from(i) * u128::from(spec.span) / u128::from(spec.count.max(1))) as u64;
        let len = rng.between(spec.payload.0, spec.payload.1) as usize;
        rng.fill(&mut payload[..len]);
        rng.fill(&mut sig);
        rng.fill(&mut hash);
        line.clear();
        line.push_str("{\"timestamp\":");
        line.push_str(&timestamp.to_string());
        line.push_str(",\"topic\":\"");
        line.push_str(TOPICS[(i % TOPICS.len() as u64) as usize]);
        line.push_str("\",\"hash\":\"0x");
        for b in hash {
            line.push(char::from(HEX[usize::from(b >> 4)]));
            line.push(char::from(HEX[usize::from(b & 15)]));
        }
        line.push_str("\",\"payload\":\"");
        base64(&payload[..len], &mut line);
        line.push_str("\",\"sig\":\"");
        base64(&sig, &mut line);
        line.push_str("\"}\n");
        out.write_all(line.as_bytes())?;
        written.messages += 1;
        written.content_bytes += (len + sig.len()) as u64;
    }
    out.flush()?;
    Ok(written)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Standard base64 with padding, appended to `out`.
pub(crate) fn base64(bytes: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        let encode = |bytes: &[u8]| {
            let mut s = String::new();
            base64(bytes, &mut s);
            s
        };
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg==");
        assert_eq!(encode(b"fo"), "Zm8=");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn the_same_seed_gives_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Messages {
            seed: 7,
            count: 50,
            from: EPOCH,
            span: WEEK,
            payload: (1, 300),
        };
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let written = write_jsonl(&a, &spec).unwrap();
        write_jsonl(&b, &spec).unwrap();
        assert_eq!(written.messages, 50);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let other = dir.path().join("c");
        write_jsonl(&other, &Messages { seed: 8, ..spec }).unwrap();
        assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&other).unwrap());
    }
}
