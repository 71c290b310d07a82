//! What the identity provider attests of a person besides who they are, as participatory
//! budget rounds read it: the date of birth (the standard `birthdate` claim) and the
//! registered residence (a KATOTTG code in the claim the operator names, `vidkryto_residence`
//! by default). The node keeps both in the person's principal and web session only to decide a
//! ballot or a project submission; neither is ever recorded in the log.
//!
//! A claim in any other form counts as not attested: a year alone (`"1990"`) is read as the
//! last day of that year, so an age is never overstated; a date without a year (`"0000-…"`)
//! is no date of birth.

use domain::CivilDate;
use event_store_core::MunicipalityCode;

/// The claim holding the KATOTTG code of a person's registered residence, unless the operator
/// names another.
pub const RESIDENCE_CLAIM_DEFAULT: &str = "vidkryto_residence";

/// A KATOTTG code of any level (a settlement, a city district, a hromada): `UA` and 17 digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Residence([u8; 19]);

impl Residence {
    /// The code, if `text` is `UA` and 17 digits.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 19 || &bytes[..2] != b"UA" || !bytes[2..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut code = [0u8; 19];
        code.copy_from_slice(bytes);
        Some(Self(code))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked in `parse`).
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// Whether the code lies in `hromada`: its oblast, raion and hromada digits (the first
    /// nine characters) are the hromada's. Kyiv's and Sevastopol's codes have zero raion and
    /// hromada digits, and every code within them too.
    pub fn in_hromada(&self, hromada: &MunicipalityCode) -> bool {
        self.0[..9] == hromada.as_str().as_bytes()[..9]
    }
}

impl std::fmt::Debug for Residence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A person's residence is personal data: not for log lines.
        f.write_str("Residence(..)")
    }
}

/// What the provider attested of a person.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Attested {
    pub birthdate: Option<CivilDate>,
    pub residence: Option<Residence>,
}

impl std::fmt::Debug for Attested {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attested")
            .field("birthdate", &self.birthdate.map(|_| ".."))
            .field("residence", &self.residence.map(|_| ".."))
            .finish()
    }
}

/// Bytes of [`Attested::encode`].
pub const ENCODED_LEN: usize = 4 + 1 + 19;
/// The epoch day that stands for no date of birth.
const NO_BIRTHDATE: i32 = i32::MIN;

impl Attested {
    /// From the claims' values: `birthdate` as OpenID Connect defines it (`YYYY-MM-DD`, or
    /// `YYYY`), `residence` a KATOTTG code.
    pub fn from_claims(birthdate: Option<&str>, residence: Option<&str>) -> Self {
        Self {
            birthdate: birthdate.and_then(parse_birthdate),
            residence: residence.and_then(Residence::parse),
        }
    }

    /// Fixed-length bytes for a session token: the date of birth as big-endian epoch days
    /// (`i32::MIN` for none), a flag, and the residence code (zeros for none).
    pub fn encode(&self) -> [u8; ENCODED_LEN] {
        let mut out = [0u8; ENCODED_LEN];
        let days = self
            .birthdate
            .and_then(|d| i32::try_from(d.epoch_days()).ok())
            .unwrap_or(NO_BIRTHDATE);
        out[..4].copy_from_slice(&days.to_be_bytes());
        if let Some(r) = &self.residence {
            out[4] = 1;
            out[5..].copy_from_slice(&r.0);
        }
        out
    }

    /// What [`encode`](Self::encode) wrote, if `bytes` are such.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; ENCODED_LEN] = bytes.try_into().ok()?;
        let days = i32::from_be_bytes(bytes[..4].try_into().ok()?);
        let birthdate = if days == NO_BIRTHDATE {
            None
        } else {
            Some(CivilDate::from_epoch_days(i64::from(days))?)
        };
        let residence = match bytes[4] {
            0 if bytes[5..].iter().all(|b| *b == 0) => None,
            1 => Some(Residence::parse(std::str::from_utf8(&bytes[5..]).ok()?)?),
            _ => return None,
        };
        Some(Self {
            birthdate,
            residence,
        })
    }
}

/// A date of birth from the `birthdate` claim: `YYYY-MM-DD`, or `YYYY` read as 31 December.
pub fn parse_birthdate(claim: &str) -> Option<CivilDate> {
    let year = |text: &str| -> Option<i32> {
        (text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
            .filter(|y| *y >= 1)
    };
    match claim.len() {
        4 => CivilDate::new(year(claim)?, 12, 31),
        10 => {
            let date: CivilDate = claim.parse().ok()?;
            year(&claim[..4])?;
            Some(date)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birthdates_are_read_as_the_standard_writes_them_and_nothing_else() {
        assert_eq!(parse_birthdate("2010-06-15"), CivilDate::new(2010, 6, 15));
        assert_eq!(parse_birthdate("1990"), CivilDate::new(1990, 12, 31));
        for bad in [
            "0000-06-15",
            "0000",
            "2010-02-30",
            "2010-6-15",
            "15.06.2010",
            "",
            "２０１０",
            "2010-06-15T00:00:00Z",
        ] {
            assert_eq!(parse_birthdate(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_residence_is_in_the_hromada_whose_digits_it_starts_with() {
        let bilshivtsi = MunicipalityCode::parse("UA26040010000021624").unwrap();
        let kyiv = MunicipalityCode::parse("UA80000000000093317").unwrap();
        let village = Residence::parse("UA26040010030022211").unwrap();
        assert!(village.in_hromada(&bilshivtsi));
        assert!(!village.in_hromada(&kyiv));
        let kyiv_district = Residence::parse("UA80000000000126643").unwrap();
        assert!(kyiv_district.in_hromada(&kyiv));
        assert!(!kyiv_district.in_hromada(&bilshivtsi));
        // The neighbouring hromada of the same raion.
        assert!(
            !Residence::parse("UA26040020000099999")
                .unwrap()
                .in_hromada(&bilshivtsi)
        );
        for bad in [
            "UA2604001000002162",
            "ua26040010000021624",
            "UA2604001000002162x",
        ] {
            assert!(Residence::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn attestations_round_trip_through_their_bytes_and_bad_bytes_are_refused() {
        for a in [
            Attested::default(),
            Attested::from_claims(Some("2008-02-29"), Some("UA26040010030022211")),
            Attested::from_claims(None, Some("UA26040010030022211")),
            Attested::from_claims(Some("1950"), None),
        ] {
            assert_eq!(Attested::decode(&a.encode()), Some(a));
        }
        let mut flag = Attested::default().encode();
        flag[4] = 2;
        assert_eq!(Attested::decode(&flag), None);
        let mut letters = Attested::from_claims(None, Some("UA26040010030022211")).encode();
        letters[10] = b'x';
        assert_eq!(Attested::decode(&letters), None);
        assert_eq!(Attested::decode(&[0; 3]), None);
        assert!(!format!("{:?}", Attested::from_claims(Some("2008-02-29"), None)).contains("2008"));
    }
}
