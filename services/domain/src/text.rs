//! The checks on free text and lists that every event field passes, used both when a command is
//! decided and when stored bytes are decoded, so the same invariant holds on write and on read.

use crate::error::{DomainError, Violation};

/// Checks a one-line field: not blank, no control characters, at most `chars_max` characters.
pub(crate) fn check_line(
    field: &'static str,
    value: &str,
    chars_max: u32,
) -> Result<(), DomainError> {
    check_text(field, value, chars_max, |c| c.is_control())
}

/// Checks a multi-line field: like [`check_line`], but line breaks and tabs are allowed.
pub(crate) fn check_paragraphs(
    field: &'static str,
    value: &str,
    chars_max: u32,
) -> Result<(), DomainError> {
    check_text(field, value, chars_max, |c| {
        c.is_control() && !matches!(c, '\n' | '\r' | '\t')
    })
}

/// Checks an optional one-line field: absent, or a valid line.
pub(crate) fn check_optional_line(
    field: &'static str,
    value: Option<&str>,
    chars_max: u32,
) -> Result<(), DomainError> {
    match value {
        Some(text) => check_line(field, text, chars_max),
        None => Ok(()),
    }
}

/// Checks a link: a valid line that is an absolute `http` or `https` URL with a host part.
///
/// The host is what lies between `//` and the first `/`, `?` or `#`, less any `user@` before
/// it and any `:port` after it; it must not be empty (`https:///x` and `http://?` are not
/// links). This is a sanity check of what people paste, not a full RFC 3986 parser.
pub(crate) fn check_http_url(
    field: &'static str,
    value: &str,
    chars_max: u32,
) -> Result<(), DomainError> {
    check_line(field, value, chars_max)?;
    let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        value.get(8..)
    } else if lower.starts_with("http://") {
        value.get(7..)
    } else {
        None
    };
    match rest {
        Some(rest) if !rest.contains(char::is_whitespace) && has_host(rest) => Ok(()),
        _ => Err(DomainError::invalid(field, Violation::NotHttpUrl)),
    }
}

/// Whether a URL after its `scheme://` starts with a non-empty host.
fn has_host(after_scheme: &str) -> bool {
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_and_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if host_and_port.starts_with('[') {
        // An IPv6 literal, `[::1]:8080`: its colons are not a port separator.
        host_and_port
    } else {
        host_and_port.split(':').next().unwrap_or_default()
    };
    !host.is_empty()
}

/// Checks a list's length against its bound.
pub(crate) fn check_len(
    field: &'static str,
    len: usize,
    items_max: u32,
) -> Result<(), DomainError> {
    if u64::try_from(len).unwrap_or(u64::MAX) > u64::from(items_max) {
        return Err(DomainError::invalid(
            field,
            Violation::TooMany { items_max },
        ));
    }
    Ok(())
}

/// Deserialises a list bounded by `items_max` (a payload field, through
/// `#[serde(deserialize_with)]`) holding at most `items_max + 1` items: every item the bytes
/// hold is read (so the fields after the list are where they were), but past the first
/// `items_max + 1` they are dropped at once, and room is reserved for no more than that, whatever
/// length the bytes claim. The list then fails [`check_len`] with `TooMany` exactly as the whole
/// list would, while decoding never holds more than the declared bound: without this, serde
/// reserves up to 1 MiB for a claimed length (43,690 `String`s for a list of at most 200 names)
/// and keeps every item of a 128 KiB payload of one-byte items (3 MiB of empty `String`s).
pub(crate) fn bounded_list<'de, D, T>(deserializer: D, items_max: u32) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    struct Bounded<T> {
        keep: usize,
        item: std::marker::PhantomData<T>,
    }

    impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Bounded<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a list of at most {} items", self.keep.saturating_sub(1))
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.keep));
            while let Some(item) = seq.next_element::<T>()? {
                if items.len() < self.keep {
                    items.push(item);
                }
            }
            Ok(items)
        }
    }

    let keep = usize::try_from(items_max)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    deserializer.deserialize_seq(Bounded {
        keep,
        item: std::marker::PhantomData,
    })
}

/// Whether a collection of `len` items has no room for one more under `items_max`.
pub(crate) fn is_full(len: usize, items_max: u32) -> bool {
    u64::try_from(len).map_or(true, |len| len >= u64::from(items_max))
}

/// Checks that a list is strictly ascending: sorted, no duplicates (the canonical form of sets).
pub(crate) fn check_strictly_ascending<T: Ord>(
    field: &'static str,
    items: &[T],
) -> Result<(), DomainError> {
    if items.windows(2).all(|pair| pair[0] < pair[1]) {
        Ok(())
    } else {
        Err(DomainError::invalid(field, Violation::NotStrictlyAscending))
    }
}

/// Checks a number against an inclusive range.
pub(crate) fn check_range(
    field: &'static str,
    value: i64,
    min: i64,
    max: i64,
) -> Result<(), DomainError> {
    if value < min || value > max {
        return Err(DomainError::invalid(
            field,
            Violation::OutOfRange { min, max },
        ));
    }
    Ok(())
}

fn check_text(
    field: &'static str,
    value: &str,
    chars_max: u32,
    forbidden: impl Fn(char) -> bool,
) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::invalid(field, Violation::Blank));
    }
    let chars = u64::try_from(value.chars().count()).unwrap_or(u64::MAX);
    if chars > u64::from(chars_max) {
        return Err(DomainError::invalid(
            field,
            Violation::TooLong { chars_max },
        ));
    }
    if value.chars().any(forbidden) {
        return Err(DomainError::invalid(field, Violation::ControlCharacter));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_refuse_blank_long_and_control_text() {
        assert!(check_line("title", "Сквер на Подолі", 200).is_ok());
        assert_eq!(
            check_line("title", "  ", 200),
            Err(DomainError::invalid("title", Violation::Blank))
        );
        // Cyrillic counts in characters, not bytes.
        assert!(check_line("title", &"ї".repeat(200), 200).is_ok());
        assert_eq!(
            check_line("title", &"ї".repeat(201), 200),
            Err(DomainError::invalid(
                "title",
                Violation::TooLong { chars_max: 200 }
            ))
        );
        assert_eq!(
            check_line("title", "a\nb", 200),
            Err(DomainError::invalid("title", Violation::ControlCharacter))
        );
        assert!(check_paragraphs("text", "a\r\nb\tc", 200).is_ok());
        assert!(check_paragraphs("text", "a\u{0}b", 200).is_err());
    }

    #[test]
    fn links_must_be_http_urls() {
        assert!(check_http_url("evidence_link", "https://kyivcity.gov.ua/x", 100).is_ok());
        assert!(check_http_url("evidence_link", "HTTP://rada.gov.ua", 100).is_ok());
        assert!(check_http_url("evidence_link", "https://kyivcity.gov.ua?x=1", 100).is_ok());
        assert!(check_http_url("evidence_link", "https://[::1]:8080/x", 100).is_ok());
        assert!(check_http_url("evidence_link", "https://user@rada.gov.ua:443#a", 100).is_ok());
        for bad in ["ftp://x", "https://", "kyivcity.gov.ua", "https://a b", "ї"] {
            assert_eq!(
                check_http_url("evidence_link", bad, 100),
                Err(DomainError::invalid("evidence_link", Violation::NotHttpUrl)),
                "{bad}"
            );
        }
    }

    #[test]
    fn links_need_a_host_before_the_path_query_or_fragment() {
        for bad in [
            "https:///x",
            "http://?",
            "http://?q=1",
            "https://#top",
            "https:///",
            "https://:443/x",
            "https://user@/x",
        ] {
            assert_eq!(
                check_http_url("evidence_link", bad, 100),
                Err(DomainError::invalid("evidence_link", Violation::NotHttpUrl)),
                "{bad}"
            );
        }
    }
}
