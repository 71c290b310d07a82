//! Full-text search terms for Ukrainian: words folded to a light stem, so that a query for
//! «школа» finds «школи», «школі», «школою», «школами».
//!
//! PostgreSQL ships no Ukrainian dictionary (its Snowball stemmers stop at Russian), and a
//! Hunspell dictionary would have to be installed into the server's own directory. Instead
//! the association stems in Rust, here, both what it indexes and what a reader asks, and hands
//! PostgreSQL the stems as `simple` words: the index is a GIN over `to_tsvector('simple',
//! stems)` and a query is every stem as a prefix (`stem:*`), all required. The prefix match
//! also covers longer derived forms of a stem («ремонт» finds «ремонтувати»).
//!
//! The stemmer removes one inflectional ending (the longest that fits, from noun, adjective
//! and verb paradigms), and the reflexive «-ся»/«-сь» before it, keeping a stem of at least
//! [`STEM_CHARS_MIN`] characters. It is deliberately light: vowel alternation in a root
//! («школа» / «шкіл») is not undone. Apostrophes of every kind are dropped, «ґ» is kept, and
//! words of other scripts are lower-cased and kept whole. Pure and bounded: at most
//! [`TERMS_MAX`] terms from a text, each at most [`TERM_CHARS_MAX`] characters.

/// The fewest characters a stem keeps.
pub const STEM_CHARS_MIN: usize = 3;

/// Terms taken from one text at most (the rest is not indexed).
pub const TERMS_MAX: usize = 4_096;

/// Characters of a term at most (longer words are cut).
pub const TERM_CHARS_MAX: usize = 40;

/// Terms a query may have at most.
pub const QUERY_TERMS_MAX: usize = 8;

/// Inflectional endings; the longest that fits is removed.
const ENDINGS: &[&str] = &[
    // Four and three letters: adjectives, nouns, verbs.
    "ього", "ьому", "ими", "іми", "ями", "ами", "ого", "ому", "ему", "ові", "еві", "єві", "ати",
    "яти", "ити", "іти", "уть", "ють", "ать", "ять", "ить", "їть", // Two letters.
    "ах", "ях", "ам", "ям", "ою", "ею", "єю", "ом", "ем", "ів", "їв", "ей", "ий", "ій", "ої", "их",
    "іх", "им", "ім", // One letter.
    "а", "я", "у", "ю", "о", "е", "є", "і", "ї", "и", "ь", "й",
];

/// Words too common to search by: a prefix query on them would match nearly everything.
const STOP_WORDS: &[&str] = &[
    "і", "й", "та", "в", "у", "на", "з", "із", "зі", "до", "для", "за", "про", "по", "від", "що",
    "як", "не", "чи", "а", "але", "або", "це", "ця", "цей", "ці", "при", "над", "під", "the",
    "and", "of", "for", "to", "in", "on", "a", "an",
];

/// The stem of one lower-cased word.
pub fn stem(word: &str) -> String {
    stem_of(word).to_owned()
}

/// [`stem`] as a prefix of `word`, found without allocating: the catalogue stems every word of
/// every text it indexes. (A UTF-8 string ends with an ending's characters exactly when it ends
/// with its bytes.)
fn stem_of(word: &str) -> &str {
    let word = match word.char_indices().nth(TERM_CHARS_MAX) {
        Some((cut, _)) => &word[..cut],
        None => word,
    };
    if !word.chars().any(is_cyrillic) {
        return word;
    }
    let mut chars = word.chars().count();
    let mut rest = word;
    // The reflexive particle, then one ending.
    for reflexive in ["ся", "сь"] {
        if let Some(before) = rest.strip_suffix(reflexive)
            && chars - 2 >= STEM_CHARS_MIN
        {
            rest = before;
            chars -= 2;
            break;
        }
    }
    let mut best = (0, rest);
    for ending in ENDINGS {
        let len = ending.chars().count();
        if len > best.0
            && chars >= len + STEM_CHARS_MIN
            && let Some(before) = rest.strip_suffix(ending)
        {
            best = (len, before);
        }
    }
    best.1
}

fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{04FF}').contains(&c)
}

/// The words of a text, lower-cased, apostrophes dropped, split at anything that is not a
/// letter or a digit.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(is_word_char(c) || is_apostrophe(c)))
        .map(|w| {
            w.chars()
                .filter(|c| !is_apostrophe(*c))
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
}

/// A letter or digit; the Cyrillic letters of U+0400 to U+045F (every Ukrainian one but «ґ»)
/// without the Unicode tables.
fn is_word_char(c: char) -> bool {
    ('\u{0400}'..='\u{045F}').contains(&c) || c.is_alphanumeric()
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | 'ʼ' | '`' | '‘')
}

/// The stems of a text, space-separated, stop words left out: what the index stores.
pub fn index_terms(text: &str) -> String {
    let mut out = String::new();
    for word in words(text)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .take(TERMS_MAX)
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(stem_of(&word));
    }
    out
}

/// The fewest characters a query word needs: a shorter prefix («ко:*») would match much of the
/// index and make one search cost what thousands do.
pub const QUERY_WORD_CHARS_MIN: usize = 3;

/// A reader's query as stems, every one required, at most [`QUERY_TERMS_MAX`] (the rest is
/// ignored); stop words and words under [`QUERY_WORD_CHARS_MIN`] characters are left out. Every term is letters and
/// digits only, so it can be written into a `tsquery` as `term:*` without escaping.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in words(query) {
        if word.chars().count() < QUERY_WORD_CHARS_MIN || STOP_WORDS.contains(&word.as_str()) {
            continue;
        }
        let term = stem(&word);
        if !terms.contains(&term) {
            terms.push(term);
        }
        if terms.len() == QUERY_TERMS_MAX {
            break;
        }
    }
    terms
}

/// The `tsquery` text of [`query_terms`]: `a:* & b:*`; empty for no terms.
pub fn tsquery(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("{t}:*"))
        .collect::<Vec<_>>()
        .join(" & ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stemmer as first written, on characters: [`stem`] must stem every word alike.
    fn stem_by_chars(word: &str) -> String {
        let ends_with = |chars: &[char], ending: &str| {
            let ending: Vec<char> = ending.chars().collect();
            chars.len() >= ending.len() && chars[chars.len() - ending.len()..] == ending[..]
        };
        let chars: Vec<char> = word.chars().take(TERM_CHARS_MAX).collect();
        if !chars.iter().any(|c| is_cyrillic(*c)) {
            return chars.into_iter().collect();
        }
        let mut end = chars.len();
        for reflexive in ["ся", "сь"] {
            if ends_with(&chars[..end], reflexive) && end - 2 >= STEM_CHARS_MIN {
                end -= 2;
                break;
            }
        }
        let mut best = 0;
        for ending in ENDINGS {
            let len = ending.chars().count();
            if len > best && end >= len + STEM_CHARS_MIN && ends_with(&chars[..end], ending) {
                best = len;
            }
        }
        chars[..end - best].iter().collect()
    }

    #[test]
    fn the_cyrillic_fast_path_holds_only_letters() {
        for c in '\u{0400}'..='\u{045F}' {
            assert!(c.is_alphanumeric(), "{c:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn stems_as_the_stemmer_on_characters(
            word in "[а-яіїєґa-z0-9ʼ]{0,48}(ся|сь|ього|ими|ами|ів|ою|а|ь|й)?",
        ) {
            proptest::prop_assert_eq!(stem(&word), stem_by_chars(&word));
        }
    }

    #[test]
    fn inflected_forms_of_a_noun_share_a_stem() {
        let forms = [
            "школа",
            "школи",
            "школі",
            "школу",
            "школою",
            "школам",
            "школами",
            "школах",
        ];
        for form in forms {
            assert_eq!(stem(form), "школ", "{form}");
        }
        for form in ["дорога", "дороги", "дорогою", "дорогами", "дорозі"]
        {
            assert!(stem(form).starts_with("дор"), "{form} → {}", stem(form));
        }
        for form in ["освітлення", "освітленням", "освітленню"] {
            assert_eq!(stem(form), "освітленн", "{form}");
        }
    }

    #[test]
    fn adjectives_and_verbs_lose_their_endings() {
        for form in [
            "зелений",
            "зеленого",
            "зеленому",
            "зеленим",
            "зеленими",
            "зелених",
        ] {
            assert_eq!(stem(form), "зелен", "{form}");
        }
        assert_eq!(stem("ремонтувати"), "ремонтув");
        assert!(stem("збудувати").starts_with("збуд"));
        assert_eq!(stem("зупинитися"), "зупин");
    }

    #[test]
    fn short_words_keep_three_characters_and_other_scripts_stay_whole() {
        assert_eq!(stem("парк"), "парк");
        assert_eq!(stem("парку"), "парк");
        assert_eq!(stem("сад"), "сад");
        assert_eq!(stem("ogp"), "ogp");
        assert_eq!(stem("wi-fi"), "wi-fi");
    }

    #[test]
    fn texts_become_stems_without_stop_words_or_apostrophes() {
        assert_eq!(
            index_terms("Ремонт ШКОЛИ №3 та п’ятого під’їзду"),
            "ремонт школ 3 пят підїзд"
        );
        assert_eq!(query_terms("у школою; на та"), vec!["школ".to_owned()]);
        assert_eq!(tsquery(&query_terms("Зелена школа")), "зелен:* & школ:*");
        assert!(query_terms("").is_empty());
        // Two-letter prefixes would match much of the index: not searched.
        assert!(query_terms("ко пр ре во").is_empty());
        assert!(query_terms("і & | ! ( ) : * '").is_empty());
    }

    #[test]
    fn query_terms_are_letters_and_digits_only_and_bounded() {
        let hostile = "a:* | b & !c (d) <-> e 'f' \\ g ".repeat(100);
        let terms = query_terms(&hostile);
        assert!(terms.len() <= QUERY_TERMS_MAX);
        for term in &terms {
            assert!(term.chars().all(char::is_alphanumeric), "{term}");
        }
        let long = "ш".repeat(10_000);
        assert_eq!(query_terms(&long)[0].chars().count(), TERM_CHARS_MAX);
    }
}
