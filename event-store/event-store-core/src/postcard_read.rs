//! Reading postcard's encoding by hand, for the frozen layouts read millions of times a second
//! (the envelope, the most frequent payloads): serde's field-by-field visitors cost as much as
//! the rest of an event's checks. The rules are postcard's, and each layout read with this is
//! held by its tests to what postcard itself reads: little-endian base-128 varints of at most
//! `ceil(bits / 7)` bytes whose last byte holds no bits beyond the type's, zigzag for signed
//! integers, a varint length before strings (UTF-8) and byte strings, fixed arrays as their
//! bytes.
//!
//! Postcard also reads a varint with more bytes than its value needs (a last byte of zero after
//! the first): the one way two byte strings can hold the same value. The reader notes any it
//! reads ([`Reader::canonical`]), so a caller can refuse them without encoding the value again.

/// Why bytes do not read as the field asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {what}")]
pub struct ReadError {
    pub field: &'static str,
    pub what: &'static str,
}

/// Out of the way of the reading itself.
#[cold]
fn error(field: &'static str, what: &'static str) -> ReadError {
    ReadError { field, what }
}

/// Reads fields from the front of some bytes, in order.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
    canonical: bool,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            rest: bytes,
            canonical: true,
        }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Whether every varint read so far had no more bytes than its value needs.
    pub fn canonical(&self) -> bool {
        self.canonical
    }

    #[inline]
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ReadError> {
        let Some((taken, rest)) = self.rest.split_at_checked(n) else {
            return Err(error(field, "the bytes end early"));
        };
        self.rest = rest;
        Ok(taken)
    }

    /// A varint of a type of `bits` bits.
    #[inline]
    fn varint(&mut self, bits: u32, field: &'static str) -> Result<u64, ReadError> {
        let max_len = bits.div_ceil(7) as usize;
        let max_last = (1u8 << (bits % 7)) - 1;
        let mut value = 0u64;
        for (i, &byte) in self.rest.iter().take(max_len).enumerate() {
            value |= u64::from(byte & 0x7F) << (7 * i);
            if byte & 0x80 == 0 {
                if i == max_len - 1 && byte > max_last {
                    break;
                }
                if i > 0 && byte == 0 {
                    self.canonical = false;
                }
                self.rest = &self.rest[i + 1..];
                return Ok(value);
            }
        }
        if self.rest.len() < max_len {
            return Err(error(field, "the bytes end early"));
        }
        Err(error(field, "a bad varint"))
    }

    /// A `u16`.
    #[inline]
    pub fn u16(&mut self, field: &'static str) -> Result<u16, ReadError> {
        // At most 3 bytes, the last at most 3: 16 bits.
        self.varint(16, field).map(|v| v as u16)
    }

    /// A `u64`.
    #[inline]
    pub fn u64(&mut self, field: &'static str) -> Result<u64, ReadError> {
        self.varint(64, field)
    }

    /// An `i64`.
    #[inline]
    pub fn i64(&mut self, field: &'static str) -> Result<i64, ReadError> {
        let zigzag = self.varint(64, field)?;
        Ok((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64))
    }

    /// A byte string (`&[u8]`, a UUID as serde writes it to a compact format).
    #[inline]
    pub fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], ReadError> {
        let len = self.varint(usize::BITS, field)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.take(len, field)
    }

    /// A string.
    #[inline]
    pub fn str(&mut self, field: &'static str) -> Result<&'a str, ReadError> {
        let bytes = self.bytes(field)?;
        std::str::from_utf8(bytes).map_err(|_| error(field, "not UTF-8"))
    }

    /// A fixed array of bytes (`[u8; N]`).
    #[inline]
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ReadError> {
        let bytes = self.take(N, field)?;
        Ok(bytes.try_into().unwrap_or([0; N]))
    }
}
