//! The mutator: a valid sample, then a few stacked edits chosen by the PRNG. The edits are
//! those that find bugs in parsers of binary and text formats without coverage feedback: bit
//! flips, random and interesting bytes, insertions, deletions, truncation, splices of other
//! samples, interesting integers at fixed widths, varint length fields rewritten (also in
//! overlong forms) or nudged, u32 length fields, decimal numbers replaced by edge values, the
//! separators of text formats inserted, and growth just past the decoder's declared limit.

use crate::rng::Rng;

/// Integers at the edges of the widths and limits the decoders use.
const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    3,
    4,
    16,
    19,
    32,
    33,
    64,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x3fff,
    0x4000,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    100_000,
    100_001,
    131_072,
    131_073,
    131_328,
    131_329,
    262_144,
    262_145,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    i64::MAX as u64,
    (i64::MAX as u64) + 1,
    u64::MAX - 1,
    u64::MAX,
];

/// Decimal texts at the edges of what numbers in text formats hold.
const NUMBERS: &[&str] = &[
    "",
    "0",
    "00",
    "01",
    "1",
    "-1",
    "+1",
    " 1",
    "1 ",
    "99999",
    "100000",
    "100001",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "1e3",
    "0x10",
];

/// Tokens of the text formats: separators, signature markers, base64 and multi-byte UTF-8.
const TOKENS: &[&str] = &[
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "\0",
    "—",
    "— ",
    "+",
    "-",
    ".",
    "*",
    ">",
    ":",
    ": ",
    "=",
    "==",
    "/",
    "\\",
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    "é",
    "я",
    "\u{feff}",
    "\u{10ffff}",
    "vidkryto/",
    "vidkryto.ev.",
    "vidkryto.ckpt.",
    "UA",
    "events-",
    ".bin",
    "PRIVATE+KEY+",
    "Vidkryto-Seq",
    "Vidkryto-Tree-Size",
    "AAAA",
    "////",
    "null",
    "true",
    "1e999",
    "-0",
];

/// Makes one mutated input from `seeds` into `out`, at most `cap` bytes long; `limit` is the
/// decoder's declared maximum (`usize::MAX` for none), which some edits step just past.
pub fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], limit: usize, cap: usize, out: &mut Vec<u8>) {
    out.clear();
    let seed: &Vec<u8> = rng.pick(seeds);
    out.extend_from_slice(seed);
    let edits = if rng.one_in(8) {
        1 + rng.below(16)
    } else {
        1 + rng.below(4)
    };
    for _ in 0..edits {
        edit(rng, seeds, limit, out);
        if out.len() > cap {
            out.truncate(cap);
        }
    }
}

fn position(rng: &mut Rng, data: &[u8]) -> usize {
    rng.below(data.len() + 1)
}

fn edit(rng: &mut Rng, seeds: &[Vec<u8>], limit: usize, data: &mut Vec<u8>) {
    match rng.below(18) {
        // Flip one bit.
        0 | 1 => {
            if !data.is_empty() {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
        }
        // A random byte, or an interesting one.
        2 => {
            if !data.is_empty() {
                let i = rng.below(data.len());
                data[i] = rng.byte();
            }
        }
        3 => {
            if !data.is_empty() {
                let i = rng.below(data.len());
                data[i] = *rng.pick(&[0u8, 1, 0x7f, 0x80, 0xff, b'\n', b'-', b'0', b'9', b' ']);
            }
        }
        // Insert random bytes.
        4 => {
            let at = position(rng, data);
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            data.splice(at..at, bytes);
        }
        // Delete a range.
        5 => {
            if !data.is_empty() {
                let at = rng.below(data.len());
                let n = (1 + rng.below(16)).min(data.len() - at);
                data.drain(at..at + n);
            }
        }
        // Truncate.
        6 => {
            let at = position(rng, data);
            data.truncate(at);
        }
        // Splice a range of another sample in, replacing or inserting.
        7 => {
            let other: &Vec<u8> = rng.pick(seeds);
            if !other.is_empty() {
                let from = rng.below(other.len());
                let n = (1 + rng.below(64)).min(other.len() - from);
                let chunk = other[from..from + n].to_vec();
                let at = position(rng, data);
                if rng.one_in(2) {
                    let end = (at + n).min(data.len());
                    data.splice(at..end, chunk);
                } else {
                    data.splice(at..at, chunk);
                }
            }
        }
        // An interesting integer at a fixed width, little- or big-endian.
        8 => {
            let value = *rng.pick(INTERESTING);
            let width = *rng.pick(&[1usize, 2, 4, 8]);
            let bytes = if rng.one_in(2) {
                value.to_le_bytes()[..width].to_vec()
            } else {
                value.to_be_bytes()[8 - width..].to_vec()
            };
            overwrite(rng, data, &bytes);
        }
        // A varint (postcard's length and integer fields), canonical or overlong, replacing
        // the varint at a position.
        9 | 10 => {
            let value = if rng.one_in(4) {
                rng.next_u64() >> rng.below(64)
            } else {
                *rng.pick(INTERESTING)
            };
            let mut bytes = varint(value);
            if rng.one_in(4) {
                // Overlong: a continuation on the last group, then a zero group.
                if let Some(last) = bytes.last_mut() {
                    *last |= 0x80;
                }
                bytes.push(0);
            }
            let at = position(rng, data);
            let old = varint_len(&data[at..]);
            let end = (at + old).min(data.len());
            data.splice(at..end, bytes);
        }
        // Nudge a varint up or down a little: lengths off by one, a few bytes past the end.
        11 => {
            let at = position(rng, data);
            let old = varint_len(&data[at..]);
            if old > 0 {
                let value = read_varint(&data[at..at + old]);
                let delta = 1 + rng.below(16) as u64;
                let value = if rng.one_in(2) {
                    value.wrapping_add(delta)
                } else {
                    value.wrapping_sub(delta)
                };
                data.splice(at..at + old, varint(value));
            }
        }
        // A u32 little-endian length field (the archive's records, the chunks).
        12 => {
            let len = data.len() as u64;
            let value = *rng.pick(&[
                0,
                1,
                len.saturating_sub(36),
                len,
                len + 1,
                131_328,
                131_329,
                262_144,
                262_145,
                0xffff_ffff,
            ]);
            overwrite(rng, data, &(value as u32).to_le_bytes());
        }
        // Replace a run of digits with an edge value.
        13 => {
            let starts: Vec<usize> = (0..data.len())
                .filter(|&i| data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit()))
                .collect();
            if !starts.is_empty() {
                let at = *rng.pick(&starts);
                let end = (at..data.len())
                    .find(|&i| !data[i].is_ascii_digit())
                    .unwrap_or(data.len());
                data.splice(at..end, rng.pick(NUMBERS).bytes());
            } else {
                let at = position(rng, data);
                data.splice(at..at, rng.pick(NUMBERS).bytes());
            }
        }
        // Insert a token of the text formats.
        14 | 15 => {
            let at = position(rng, data);
            data.splice(at..at, rng.pick(TOKENS).bytes());
        }
        // Duplicate a range.
        16 => {
            if !data.is_empty() {
                let from = rng.below(data.len());
                let n = (1 + rng.below(256)).min(data.len() - from);
                let chunk = data[from..from + n].to_vec();
                let at = position(rng, data);
                data.splice(at..at, chunk);
            }
        }
        // Grow to just past the declared limit, or a long run of one byte.
        _ => {
            if limit != usize::MAX && rng.one_in(4) {
                let target = limit + 1 + rng.below(16);
                let fill = rng.byte();
                if data.len() < target {
                    data.resize(target, fill);
                }
            } else {
                let at = position(rng, data);
                let n = 1 + rng.below(512);
                let fill = *rng.pick(&[0u8, 0x80, 0xff, b'A', b'\n', b'9']);
                data.splice(at..at, std::iter::repeat_n(fill, n));
            }
        }
    }
}

fn overwrite(rng: &mut Rng, data: &mut Vec<u8>, bytes: &[u8]) {
    let at = position(rng, data);
    let end = (at + bytes.len()).min(data.len());
    data.splice(at..end, bytes.iter().copied());
}

/// LEB128, as postcard writes unsigned integers.
pub fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// The length of the varint at the start of `data` (at most 10 bytes; 0 for none).
fn varint_len(data: &[u8]) -> usize {
    for (i, b) in data.iter().take(10).enumerate() {
        if b & 0x80 == 0 {
            return i + 1;
        }
    }
    data.len().min(10)
}

fn read_varint(data: &[u8]) -> u64 {
    data.iter()
        .take(10)
        .enumerate()
        .fold(0u64, |acc, (i, b)| acc | (u64::from(b & 0x7f) << (7 * i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_is_deterministic_and_bounded() {
        let seeds = vec![
            b"vidkryto/UA05020030000031457\n12\n".to_vec(),
            vec![1, 2, 3],
        ];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let mut out = Vec::new();
            (0..2_000)
                .map(|_| {
                    mutate(&mut rng, &seeds, 64, 96, &mut out);
                    assert!(out.len() <= 96);
                    out.clone()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn varints_are_postcards() {
        assert_eq!(varint(0), [0]);
        assert_eq!(varint(0x80), [0x80, 0x01]);
        assert_eq!(read_varint(&varint(u64::MAX)), u64::MAX);
        assert_eq!(varint(u64::MAX).len(), 10);
    }
}
