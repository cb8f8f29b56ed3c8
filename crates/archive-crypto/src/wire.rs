//! A borrowing protobuf wire walker and the few writers the envelope needs,
//! so hostile bytes are read one field at a time into slices of the input,
//! never into a tree of prost structs (bundles and map entries would cost far
//! more heap than their bytes).

use prost::encoding::{encode_varint, encoded_len_varint};

/// One field as it appears on the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// Fixed-width fields and groups, which none of these messages use.
    Other,
}

/// Iterates over the fields of one encoded message.
pub(crate) struct Fields<'a> {
    bytes: &'a [u8],
}

/// Groups nested deeper than this are refused rather than walked.
const MAX_GROUP_DEPTH: usize = 64;

impl<'a> Fields<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Fields<'a> {
        Fields { bytes }
    }

    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut value = 0u64;
        for (i, &b) in self.bytes.iter().enumerate().take(10) {
            if i == 9 && b > 1 {
                return Err("a varint overflows 64 bits");
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.bytes = &self.bytes[i + 1..];
                return Ok(value);
            }
        }
        Err("a varint is truncated")
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], &'static str> {
        let len = usize::try_from(len)
            .ok()
            .filter(|len| *len <= self.bytes.len())
            .ok_or("a field runs past the end of its message")?;
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn skip_group(&mut self, number: u64) -> Result<(), &'static str> {
        let mut open = vec![number];
        while let Some(&innermost) = open.last() {
            if self.bytes.is_empty() {
                return Err("a group is unterminated");
            }
            let key = self.varint()?;
            match key & 7 {
                0 => drop(self.varint()?),
                1 => drop(self.take(8)?),
                2 => {
                    let len = self.varint()?;
                    self.take(len)?;
                }
                3 if open.len() < MAX_GROUP_DEPTH => open.push(key >> 3),
                3 => return Err("groups nest too deeply"),
                4 if key >> 3 == innermost => drop(open.pop()),
                5 => drop(self.take(4)?),
                _ => return Err("a wire type is invalid"),
            }
        }
        Ok(())
    }

    /// The next field: its number and value; `None` at the end.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Field<'a>)>, &'static str> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err("a field number is invalid");
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
            _ => return Err("a wire type is invalid"),
        };
        Ok(Some((number as u32, field)))
    }
}

/// Whether `bytes` walk as a protobuf message from start to end.
pub(crate) fn parses_as_message(bytes: &[u8]) -> bool {
    let mut fields = Fields::new(bytes);
    loop {
        match fields.next_field() {
            Ok(Some(_)) => {}
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

/// Appends the key of field `number` with wire type 2 and `len`.
pub(crate) fn put_len_prefix(out: &mut Vec<u8>, number: u32, len: usize) {
    encode_varint(u64::from(number << 3 | 2), out);
    encode_varint(len as u64, out);
}

/// Bytes of a length-delimited field `number` holding `len` bytes.
pub(crate) fn len_field_size(number: u32, len: usize) -> usize {
    encoded_len_varint(u64::from(number << 3 | 2)) + encoded_len_varint(len as u64) + len
}

/// Appends field `number` as a varint unless it is 0, as proto3 does.
pub(crate) fn put_uint(out: &mut Vec<u8>, number: u32, value: u64) {
    if value != 0 {
        encode_varint(u64::from(number << 3), out);
        encode_varint(value, out);
    }
}

/// Bytes [`put_uint`] appends.
pub(crate) fn uint_field_size(number: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        encoded_len_varint(u64::from(number << 3)) + encoded_len_varint(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_groups_and_refuses_truncation() {
        // Field 9 as a group holding a varint, then field 1 = 5.
        let bytes = [0x4b, 0x08, 0x01, 0x4c, 0x08, 0x05];
        assert!(parses_as_message(&bytes));
        assert!(!parses_as_message(&bytes[..3]));
        assert!(!parses_as_message(&[0x0a, 0x05, 0x00]));
        assert!(!parses_as_message(&[0x00]));
    }

    #[test]
    fn sizes_match_what_is_written() {
        for (number, len) in [(2, 0), (101, 200), (102, 1 << 20)] {
            let mut out = Vec::new();
            put_len_prefix(&mut out, number, len);
            assert_eq!(out.len() + len, len_field_size(number, len));
        }
        for value in [0, 1, 300, u64::from(u32::MAX)] {
            let mut out = Vec::new();
            put_uint(&mut out, 2, value);
            assert_eq!(out.len(), uint_field_size(2, value));
        }
    }
}
