//! Newtype identifiers of the log, parsed once at the edge so the rest of the code never
//! handles a raw string or integer id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A municipality's KATOTTG code, e.g. `UA05020030000031457` (Vinnytsia city hromada).
///
/// A KATOTTG code is `UA` followed by 17 digits: oblast (2), raion (2), hromada (3),
/// settlement (3) and a 7-digit identifier. A *municipality* is a hromada (oblast, raion and
/// hromada parts set, settlement part `000`) or a city with special status (oblast 80 Kyiv or
/// 85 Sevastopol, everything below it zero).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MunicipalityCode([u8; MunicipalityCode::LEN]);

/// Hashed as the two integers it is ordered by: hash maps keyed by codes look one up for every
/// event of a catch-up or an audit, and hashing two integers beats hashing 19 bytes.
impl std::hash::Hash for MunicipalityCode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (high, low) = self.order_key();
        state.write_u128(high);
        state.write_u32(low);
    }
}

/// The order of the codes' text, byte by byte. Codes are the keys of the projections' maps,
/// compared millions of times a second in a catch-up or an audit: two integer compares
/// instead of a call to `memcmp`.
impl Ord for MunicipalityCode {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order_key().cmp(&other.order_key())
    }
}

impl PartialOrd for MunicipalityCode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Why a string is not a municipality code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MunicipalityCodeError {
    #[error("municipality code must be 19 characters (UA and 17 digits), got {0}")]
    Length(usize),
    #[error("municipality code must start with UA")]
    Prefix,
    #[error("municipality code must have 17 digits after UA")]
    NotDigits,
    #[error("municipality code has no oblast part")]
    NoOblast,
    #[error("municipality code names a settlement, not a hromada")]
    Settlement,
    #[error("municipality code names an oblast or raion, not a hromada")]
    NotHromada,
}

impl MunicipalityCode {
    /// Length of the textual code in bytes.
    pub const LEN: usize = 19;

    /// The code's 19 bytes as big-endian integers: they compare as the bytes do.
    fn order_key(&self) -> (u128, u32) {
        let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s] = self.0;
        (
            u128::from_be_bytes([a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p]),
            u32::from_be_bytes([q, r, s, 0]),
        )
    }

    /// Parses and validates a code.
    pub fn parse(text: &str) -> Result<Self, MunicipalityCodeError> {
        let bytes = text.as_bytes();
        if bytes.len() != Self::LEN {
            return Err(MunicipalityCodeError::Length(bytes.len()));
        }
        if &bytes[..2] != b"UA" {
            return Err(MunicipalityCodeError::Prefix);
        }
        let digits = &bytes[2..];
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(MunicipalityCodeError::NotDigits);
        }
        let oblast = &digits[0..2];
        let raion = &digits[2..4];
        let hromada = &digits[4..7];
        let settlement = &digits[7..10];
        if oblast == b"00" {
            return Err(MunicipalityCodeError::NoOblast);
        }
        if settlement != b"000" {
            return Err(MunicipalityCodeError::Settlement);
        }
        let special_city = oblast == b"80" || oblast == b"85";
        let is_hromada = raion != b"00" && hromada != b"000";
        let is_special = special_city && raion == b"00" && hromada == b"000";
        if !(is_hromada || is_special) {
            return Err(MunicipalityCodeError::NotHromada);
        }
        let mut code = [0u8; Self::LEN];
        code.copy_from_slice(bytes);
        Ok(Self(code))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored (checked in `parse`).
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The oblast-level KATOTTG code this municipality belongs to, e.g. `UA05000000000010236`
    /// has the prefix `UA05`; returns the two oblast digits.
    pub fn oblast_digits(&self) -> &str {
        &self.as_str()[2..4]
    }
}

impl FromStr for MunicipalityCode {
    type Err = MunicipalityCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MunicipalityCode({})", self.as_str())
    }
}

impl Serialize for MunicipalityCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MunicipalityCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <&str>::deserialize(d)?;
        Self::parse(text).map_err(serde::de::Error::custom)
    }
}

/// Declares a UUID newtype id with the traits every id of the system has. Exported so the
/// domain's ids are built the same way; the calling crate needs `serde` and `uuid`.
#[macro_export]
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize)]
        pub struct $name(pub ::uuid::Uuid);

        impl $name {
            /// The 16 bytes of the id, as stored.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// Rebuilds an id from its 16 stored bytes.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                ::uuid::Uuid::from_slice(bytes).ok().map(Self)
            }
        }

        impl From<::uuid::Uuid> for $name {
            fn from(uuid: ::uuid::Uuid) -> Self {
                Self(uuid)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                ::uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// An event's id: a UUIDv7 chosen by whoever creates the event. Appends are idempotent by it.
    EventId
);
uuid_id!(
    /// A stream's id: one petition, dialogue or action plan.
    StreamId
);

impl EventId {
    /// A fresh time-ordered id.
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }
}

/// A position in a node's log: 1, 2, 3… with no gap. Leaf index in the Merkle tree is `seq - 1`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct LogSeq(pub u64);

/// A stream's version: the number of events in it; its first event has version 1.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct StreamVersion(pub u64);

/// The frozen numeric code of an event type.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct EventTypeCode(pub u16);

/// The schema version of an event type's payload.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct SchemaVersion(pub u16);

/// A point in time: microseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time. Only I/O-bearing code calls this; pure code gets a
    /// timestamp passed in.
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
    }

    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded towards negative infinity).
    pub fn as_secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// The timestamp `secs` seconds after the epoch.
    pub fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1_000_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Codes order exactly as their text does (the projections' and the digest's order).
        #[test]
        fn codes_order_as_their_text(
            a in "UA[0-9]{17}",
            other in "UA[0-9]{17}",
            shared in 0..=19_usize,
        ) {
            // The two share their first `shared` bytes, so every position gets to decide.
            let b = format!("{}{}", &a[..shared], &other[shared..]);
            let (x, y) = (MunicipalityCode(a.as_bytes().try_into().unwrap()),
                          MunicipalityCode(b.as_bytes().try_into().unwrap()));
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            proptest::prop_assert_eq!(x.partial_cmp(&y), Some(a.cmp(&b)));
            proptest::prop_assert_eq!(x.cmp(&x), std::cmp::Ordering::Equal);
        }
    }

    #[test]
    fn accepts_every_hromada_in_the_reference_data_and_kyiv() {
        let csv = include_str!("../../../services/reference/data/hromadas.csv");
        let mut count = 0;
        for line in csv.lines().skip(1) {
            let code = line.split(',').next().unwrap_or_default();
            MunicipalityCode::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            count += 1;
        }
        assert_eq!(count, 1469);
        assert!(MunicipalityCode::parse("UA80000000000093317").is_ok());
    }

    #[test]
    fn refuses_malformed_codes_with_the_reason() {
        use MunicipalityCodeError as E;
        assert_eq!(MunicipalityCode::parse(""), Err(E::Length(0)));
        assert_eq!(
            MunicipalityCode::parse("XX05020030000031457"),
            Err(E::Prefix)
        );
        assert_eq!(
            MunicipalityCode::parse("UA0502003000003145x"),
            Err(E::NotDigits)
        );
        assert_eq!(
            MunicipalityCode::parse("UA00020030000031457"),
            Err(E::NoOblast)
        );
        // A village inside Vinnytsia hromada, not the hromada itself.
        assert_eq!(
            MunicipalityCode::parse("UA05020030010063857"),
            Err(E::Settlement)
        );
        // Vinnytsia oblast itself.
        assert_eq!(
            MunicipalityCode::parse("UA05000000000010236"),
            Err(E::NotHromada)
        );
        // Multi-byte text of the right byte length must not panic.
        assert!(MunicipalityCode::parse("UAїїїїїїїїї").is_err());
    }

    #[test]
    fn round_trips_through_text() {
        let code = MunicipalityCode::parse("UA05020030000031457").unwrap();
        assert_eq!(code.to_string(), "UA05020030000031457");
        assert_eq!(code.oblast_digits(), "05");
    }
}
