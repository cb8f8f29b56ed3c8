//! A minimal protobuf wire reader and writer, so that the decoders can walk
//! hostile input one field at a time and build the domain types directly,
//! never a whole tree of prost structs first (which cost up to 76 times the
//! input for an archive of empty messages), and so that archive IDs can be
//! computed without building one either.
//!
//! Semantics follow prost where the formats differ from "last wins": a
//! repeated embedded message merges, and a known field with the wrong wire
//! type is an error.

use crate::error::{Error, Result};

/// One field as it appears on the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// Fixed-width or group fields, which none of our messages use.
    Other,
}

/// Iterates over the fields of one encoded message.
pub(crate) struct Fields<'a> {
    what: &'static str,
    bytes: &'a [u8],
}

impl<'a> Fields<'a> {
    pub(crate) fn new(what: &'static str, bytes: &'a [u8]) -> Fields<'a> {
        Fields { what, bytes }
    }

    fn malformed(&self, reason: &str) -> Error {
        Error::Malformed {
            what: self.what,
            reason: reason.to_owned(),
        }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for (i, &b) in self.bytes.iter().enumerate().take(10) {
            if i == 9 && b > 1 {
                return Err(self.malformed("varint overflows 64 bits"));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.bytes = &self.bytes[i + 1..];
                return Ok(value);
            }
        }
        Err(self.malformed("truncated varint"))
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8]> {
        let len = usize::try_from(len)
            .ok()
            .filter(|len| *len <= self.bytes.len())
            .ok_or_else(|| self.malformed("a field runs past the end of its message"))?;
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    /// Skips a group up to its matching end tag; groups nest only as deep
    /// as the input is long, so the loop keeps its own depth counter.
    fn skip_group(&mut self, number: u64) -> Result<()> {
        let mut open = vec![number];
        while let Some(&innermost) = open.last() {
            if self.bytes.is_empty() {
                return Err(self.malformed("unterminated group"));
            }
            let key = self.varint()?;
            let (n, wire) = (key >> 3, key & 7);
            match wire {
                0 => drop(self.varint()?),
                1 => drop(self.take(8)?),
                2 => {
                    let len = self.varint()?;
                    self.take(len)?;
                }
                3 => {
                    if open.len() >= 100 {
                        return Err(self.malformed("groups nested too deeply"));
                    }
                    open.push(n);
                }
                4 if n == innermost => drop(open.pop()),
                5 => drop(self.take(4)?),
                _ => return Err(self.malformed("invalid wire type")),
            }
        }
        Ok(())
    }

    /// The next field: its number and value.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Field<'a>)>> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(self.malformed("invalid field number"));
        }
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Field::Other
            }
            2 => {
                let len = self.varint()?;
                Field::Bytes(self.take(len)?)
            }
            3 => {
                self.skip_group(number)?;
                Field::Other
            }
            5 => {
                self.take(4)?;
                Field::Other
            }
            _ => return Err(self.malformed("invalid wire type")),
        };
        Ok(Some((number as u32, field)))
    }

    /// The error for a known field with the wrong wire type.
    pub(crate) fn wrong_type(&self, field: &str) -> Error {
        self.malformed(&format!("field {field} has the wrong wire type"))
    }
}

/// Appends `value` as a varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Bytes `value` takes as a varint.
pub(crate) fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends field `number` as a varint unless it is 0, as proto3 does.
pub(crate) fn put_uint(out: &mut Vec<u8>, number: u8, value: u64) {
    if value != 0 {
        out.push(number << 3);
        put_varint(out, value);
    }
}

/// Bytes [`put_uint`] appends.
pub(crate) fn uint_len(value: u64) -> usize {
    if value == 0 { 0 } else { 1 + varint_len(value) }
}

/// Appends field `number` as length-delimited bytes.
pub(crate) fn put_bytes(out: &mut Vec<u8>, number: u8, bytes: &[u8]) {
    out.push((number << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Bytes [`put_bytes`] appends for `len` bytes.
pub(crate) fn bytes_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths_match_the_encoding() {
        for value in [0, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out.len(), varint_len(value), "{value}");
            let mut fields = Fields::new("test", &out);
            assert_eq!(fields.varint().unwrap(), value);
        }
    }

    #[test]
    fn groups_are_skipped_and_bad_ones_rejected() {
        // Field 9 as a group holding a varint, then field 1 = 5.
        let bytes = [0x4b, 0x08, 0x01, 0x4c, 0x08, 0x05];
        let mut fields = Fields::new("test", &bytes);
        assert!(matches!(
            fields.next_field().unwrap(),
            Some((9, Field::Other))
        ));
        assert!(matches!(
            fields.next_field().unwrap(),
            Some((1, Field::Varint(5)))
        ));
        let mut unterminated = Fields::new("test", &bytes[..3]);
        assert!(unterminated.next_field().is_err());
    }
}
