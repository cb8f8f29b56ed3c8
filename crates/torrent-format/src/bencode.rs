//! Bencode (BEP 3), only as much as `.torrent` files need: an encoder whose
//! dictionaries are always sorted byte-wise (the infohash depends on it) and a
//! borrowing decoder that remembers where each dictionary value lies in the
//! input, so the infohash is taken over the `info` bytes exactly as found.
//!
//! The decoder never allocates more than a constant factor of its input: byte
//! strings borrow from it, and every vector it grows is charged against a
//! heap budget (by default [`HEAP_PER_INPUT_BYTE`] × the input plus
//! [`HEAP_ALLOWANCE`]) before it grows, so a list of empty strings, two bytes
//! each but 48 in memory, is refused instead of costing 24 times its size.
//! Nesting is capped so hostile input cannot exhaust the stack.

use std::{collections::BTreeMap, ops::Range};

use crate::error::{Error, Result};

/// Deeper nesting than this is hostile: a `.torrent` needs four levels.
const MAX_DEPTH: usize = 64;

/// Heap [`decode`] may use per input byte.
pub const HEAP_PER_INPUT_BYTE: usize = 8;

/// Heap any decode may use whatever its input's size.
pub const HEAP_ALLOWANCE: usize = 64 * 1024;

/// A value to encode.
#[derive(Debug)]
pub enum Enc<'a> {
    /// `i<n>e`.
    Int(i64),
    /// `i<n>e` for lengths and sizes, which are unsigned.
    UInt(u64),
    /// `<len>:<bytes>`.
    Bytes(&'a [u8]),
    /// `l…e`.
    List(Vec<Enc<'a>>),
    /// A `BTreeMap` over byte slices iterates in byte-wise key order, which is
    /// the order bencode requires.
    Dict(BTreeMap<&'a [u8], Enc<'a>>),
    /// Bytes that are already bencode, spliced in unchanged.
    Raw(&'a [u8]),
}

impl Enc<'_> {
    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Enc::Int(n) => out.extend_from_slice(format!("i{n}e").as_bytes()),
            Enc::UInt(n) => out.extend_from_slice(format!("i{n}e").as_bytes()),
            Enc::Bytes(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Enc::List(items) => {
                out.push(b'l');
                items.iter().for_each(|item| item.encode(out));
                out.push(b'e');
            }
            Enc::Dict(entries) => {
                out.push(b'd');
                for (key, value) in entries {
                    Enc::Bytes(key).encode(out);
                    value.encode(out);
                }
                out.push(b'e');
            }
            Enc::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }

    /// The encoding.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A decoded value borrowing from the input.
#[derive(Debug)]
pub enum Value<'a> {
    /// An integer in canonical form (no `-0`, no leading zeros).
    Int(i64),
    /// A byte string.
    Bytes(&'a [u8]),
    /// A list.
    List(Vec<Value<'a>>),
    /// A dictionary, its entries in input order.
    Dict(Dict<'a>),
}

/// A decoded dictionary: keys, values and the input span of each value.
#[derive(Debug)]
pub struct Dict<'a> {
    input: &'a [u8],
    entries: Vec<(&'a [u8], Value<'a>, Range<usize>)>,
}

impl<'a> Dict<'a> {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.entry(key).map(|(_, value, _)| value)
    }

    /// The encoded bytes of the value under `key`, exactly as in the input.
    pub fn raw(&self, key: &str) -> Option<&'a [u8]> {
        self.entry(key)
            .map(|(_, _, span)| &self.input[span.clone()])
    }

    /// The entries in input order (not necessarily sorted: the decoder accepts
    /// unsorted keys as other clients do, but never a repeated one).
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &Value<'a>)> {
        self.entries.iter().map(|(key, value, _)| (*key, value))
    }

    fn entry(&self, key: &str) -> Option<&(&'a [u8], Value<'a>, Range<usize>)> {
        self.entries.iter().find(|(k, _, _)| *k == key.as_bytes())
    }
}

/// Decodes exactly one value that spans the whole input, within
/// [`HEAP_PER_INPUT_BYTE`] × its length plus [`HEAP_ALLOWANCE`] of heap.
pub fn decode(input: &[u8]) -> Result<Value<'_>> {
    let budget = input
        .len()
        .saturating_mul(HEAP_PER_INPUT_BYTE)
        .saturating_add(HEAP_ALLOWANCE);
    decode_within(input, budget)
}

/// Decodes exactly one value that spans the whole input, refusing it once
/// its lists and dictionaries would need more than `max_heap` bytes. Every
/// allocation is counted, including those a vector's growth frees again, so
/// the peak heap of the decode stays below `max_heap`.
pub fn decode_within(input: &[u8], max_heap: usize) -> Result<Value<'_>> {
    let mut decoder = Decoder {
        input,
        pos: 0,
        charged: 0,
        budget: max_heap,
    };
    let value = decoder.value(0)?;
    if decoder.pos != input.len() {
        return Err(decoder.error("trailing bytes after the value"));
    }
    Ok(value)
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    /// Bytes allocated so far for vectors, never decreased.
    charged: usize,
    budget: usize,
}

impl<'a> Decoder<'a> {
    fn error(&self, reason: &'static str) -> Error {
        Error::Bencode {
            offset: self.pos,
            reason,
        }
    }

    /// Makes room for one more element, charging the new allocation first.
    fn grow<T>(&mut self, vec: &mut Vec<T>) -> Result<()> {
        if vec.len() == vec.capacity() {
            let extra = vec.capacity().max(4);
            self.charge((vec.capacity() + extra) * std::mem::size_of::<T>())?;
            vec.reserve_exact(extra);
        }
        Ok(())
    }

    fn charge(&mut self, bytes: usize) -> Result<()> {
        self.charged = self.charged.saturating_add(bytes);
        if self.charged > self.budget {
            return Err(self.error("holds more values than its size allows"));
        }
        Ok(())
    }

    fn peek(&self) -> Result<u8> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.error("unexpected end of input"))
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.integer(b'e')?;
                Ok(Value::Int(n))
            }
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    let item = self.value(depth + 1)?;
                    self.grow(&mut items)?;
                    items.push(item);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.pos += 1;
                self.dict(depth)
            }
            b'0'..=b'9' => self.bytes().map(Value::Bytes),
            _ => Err(self.error("expected i, l, d or a digit")),
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Value<'a>> {
        let mut entries: Vec<(&'a [u8], Value<'a>, Range<usize>)> = Vec::new();
        while self.peek()? != b'e' {
            if !self.peek()?.is_ascii_digit() {
                return Err(self.error("dictionary key is not a byte string"));
            }
            let key = self.bytes()?;
            let start = self.pos;
            let value = self.value(depth + 1)?;
            self.grow(&mut entries)?;
            entries.push((key, value, start..self.pos));
        }
        let end = self.pos;
        self.pos += 1;
        // Key order is not enforced (other clients do not either; the infohash
        // is taken over the raw bytes), but a repeated key is ambiguous.
        if !entries.windows(2).all(|w| w[0].0 < w[1].0) {
            self.charge(entries.len() * std::mem::size_of::<&[u8]>())?;
            let mut keys: Vec<&[u8]> = entries.iter().map(|(k, _, _)| *k).collect();
            keys.sort_unstable();
            if keys.windows(2).any(|w| w[0] == w[1]) {
                return Err(Error::Bencode {
                    offset: end,
                    reason: "dictionary has a repeated key",
                });
            }
        }
        Ok(Value::Dict(Dict {
            input: self.input,
            entries,
        }))
    }

    /// Reads digits up to `terminator`, rejecting the non-canonical forms
    /// (`-0`, leading zeros, empty) and anything outside `i64`.
    fn integer(&mut self, terminator: u8) -> Result<i64> {
        let start = self.pos;
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        let mut n: i64 = 0;
        loop {
            let c = self.peek()?;
            if c == terminator {
                break;
            }
            if !c.is_ascii_digit() {
                return Err(self.error("expected a digit"));
            }
            let digit = i64::from(c - b'0');
            n = n
                .checked_mul(10)
                .and_then(|n| {
                    if negative {
                        n.checked_sub(digit)
                    } else {
                        n.checked_add(digit)
                    }
                })
                .ok_or_else(|| self.error("integer out of range"))?;
            self.pos += 1;
        }
        let digits = &self.input[digits_start..self.pos];
        if digits.is_empty() {
            return Err(self.error("empty integer"));
        }
        if (digits[0] == b'0' && digits.len() > 1) || (negative && digits == b"0") {
            self.pos = start;
            return Err(self.error("integer is not in canonical form"));
        }
        self.pos += 1;
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let start = self.pos;
        let len = self.integer(b':')?;
        let len = usize::try_from(len).map_err(|_| self.error("negative string length"))?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.input.len())
            .ok_or(Error::Bencode {
                offset: start,
                reason: "string runs past the end of input",
            })?;
        let bytes = &self.input[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests;
