//! The JSONL message format shared by `create`, `inspect` and `messages`: one
//! message per line, binary fields in base64, identifiers in `0x` hex.

use std::io::{BufRead, Write};

use anyhow::{Context, bail};
use archive_index::{Message, Topic};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde::{Deserialize, Serialize};

/// One line. Absent optional fields are empty.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    timestamp: u64,
    topic: String,
    hash: String,
    #[serde(default)]
    payload: String,
    #[serde(default)]
    sig: String,
    #[serde(default)]
    padding: String,
    #[serde(default)]
    third_party_id: String,
}

/// Reads every message of `input`. The first bad line fails the whole read with
/// its line number, so callers write nothing from a half-valid file.
pub(crate) fn read_messages(input: impl BufRead, source: &str) -> anyhow::Result<Vec<Message>> {
    MessageReader::new(input, source).collect()
}

/// The messages of `input` one at a time, for inputs too large to hold:
/// blank lines are skipped, and a bad line is an error naming `source` and
/// its line number (after which the reader is done).
pub(crate) struct MessageReader<R> {
    input: R,
    source: String,
    /// The current line's text, reused so reading allocates once.
    text: String,
    number: usize,
    failed: bool,
}

impl<R: BufRead> MessageReader<R> {
    pub(crate) fn new(input: R, source: &str) -> MessageReader<R> {
        MessageReader {
            input,
            source: source.to_owned(),
            text: String::new(),
            number: 0,
            failed: false,
        }
    }

    /// The length of the line read last, in bytes.
    pub(crate) fn line_len(&self) -> usize {
        self.text.len()
    }
}

impl<R: BufRead> Iterator for MessageReader<R> {
    type Item = anyhow::Result<Message>;

    fn next(&mut self) -> Option<anyhow::Result<Message>> {
        while !self.failed {
            self.number += 1;
            self.text.clear();
            let (source, number) = (&self.source, self.number);
            match self.input.read_line(&mut self.text) {
                Ok(0) => return None,
                Ok(_) if self.text.trim().is_empty() => {}
                Ok(_) => {
                    let parsed = parse_line(self.text.trim_end_matches(['\n', '\r']))
                        .with_context(|| format!("{source}: line {number}"));
                    self.failed = parsed.is_err();
                    return Some(parsed);
                }
                Err(e) => {
                    self.failed = true;
                    return Some(
                        Err(e).with_context(|| format!("{source}: reading line {number}")),
                    );
                }
            }
        }
        None
    }
}

fn parse_line(text: &str) -> anyhow::Result<Message> {
    let line: Line = serde_json::from_str(text)?;
    let bytes = |field: &str, value: &str| {
        BASE64
            .decode(value)
            .with_context(|| format!("field {field:?} is not valid base64"))
    };
    let hash = parse_hash(&line.hash)?;
    Ok(Message {
        sig: bytes("sig", &line.sig)?,
        timestamp: line.timestamp,
        topic: line.topic.parse::<Topic>()?,
        payload: bytes("payload", &line.payload)?,
        padding: bytes("padding", &line.padding)?,
        hash,
        third_party_id: line.third_party_id,
    })
}

fn parse_hash(text: &str) -> anyhow::Result<Vec<u8>> {
    let Some(digits) = text.strip_prefix("0x") else {
        bail!("field \"hash\" must start with 0x");
    };
    if digits.is_empty() {
        bail!("field \"hash\" is empty");
    }
    hex::decode(digits).context("field \"hash\" is not hex")
}

/// The JSON object of one message, as written on one line.
pub(crate) fn to_json(message: &Message) -> serde_json::Value {
    serde_json::to_value(Line {
        timestamp: message.timestamp,
        topic: message.topic.to_string(),
        hash: format!("0x{}", hex::encode(&message.hash)),
        payload: BASE64.encode(&message.payload),
        sig: BASE64.encode(&message.sig),
        padding: BASE64.encode(&message.padding),
        third_party_id: message.third_party_id.clone(),
    })
    .expect("a message always serializes")
}

/// Writes messages one per line.
pub(crate) fn write_messages<'a>(
    mut out: impl Write,
    messages: impl IntoIterator<Item = &'a Message>,
) -> anyhow::Result<()> {
    for m in messages {
        serde_json::to_writer(&mut out, &to_json(m))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_errors_name_the_line() {
        let text = concat!(
            r#"{"timestamp":5,"topic":"0x01020304","hash":"0xab","payload":"aGk="}"#,
            "\n\n",
            r#"{"timestamp":6,"topic":"0x01020304","hash":"0xcd","sig":"AQ==","padding":"","third_party_id":"d"}"#,
            "\n"
        );
        let messages = read_messages(text.as_bytes(), "in").unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].payload, b"hi");
        let mut out = Vec::new();
        write_messages(&mut out, &messages).unwrap();
        assert_eq!(read_messages(&out[..], "out").unwrap(), messages);

        let bad = "{\"timestamp\":5,\"topic\":\"0x01020304\",\"hash\":\"0xab\"}\n{\"timestamp\":5,\"topic\":\"0x0102\",\"hash\":\"0xab\"}\n";
        let err = format!(
            "{:#}",
            read_messages(bad.as_bytes(), "in.jsonl").unwrap_err()
        );
        assert!(
            err.contains("in.jsonl: line 2") && err.contains("topic"),
            "{err}"
        );
        let unknown = r#"{"timestamp":5,"topic":"0x01020304","hash":"0xab","extra":1}"#;
        assert!(read_messages(unknown.as_bytes(), "in").is_err());
    }
}
