//! Reference data for every hromada and oblast (names, oblast, centre, population), compiled
//! into the binary from this crate's `data/` so nothing reads files at run time. Pure: the
//! association's national views, `vidkryto dev` and the benches all see the same table.

use std::collections::BTreeMap;

use event_store_core::MunicipalityCode;

const HROMADAS: &str = include_str!("../data/hromadas.csv");
const HROMADAS_EXTRA: &str = include_str!("../data/hromadas_extra.csv");
const OBLASTS: &str = include_str!("../data/oblasts.csv");

/// Kyiv has no hromada row in the reference data (it is a city with special status, listed
/// only among the oblasts); the platform treats it as one municipality with its own code.
pub const KYIV: &str = "UA80000000000093317";
/// Kyiv's population on 2022-01-01 (State Statistics Service estimate).
const KYIV_POPULATION: u64 = 2_952_301;
const KYIV_CENTRE: (f64, f64) = (50.4501, 30.5234);

/// One municipality as the reference data describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Municipality {
    pub code: MunicipalityCode,
    pub name_uk: String,
    pub name_en: String,
    /// `city`, `settlement`, `village` or, for Kyiv, `capital`.
    pub kind: String,
    /// The oblast's KATOTTG code (oblast codes are not hromada codes, so plain text).
    pub oblast: String,
    pub lat: f64,
    pub lon: f64,
    pub population: u64,
}

/// One oblast (or special-status city).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oblast {
    pub code: String,
    pub name_uk: String,
    pub name_en: String,
}

/// Every municipality and oblast, by code.
#[derive(Debug, Clone)]
pub struct Reference {
    pub municipalities: BTreeMap<MunicipalityCode, Municipality>,
    pub oblasts: BTreeMap<String, Oblast>,
}

impl Reference {
    /// The compiled-in data. The files are part of the source tree and checked by a test, so
    /// a malformed row is a build-time fault; rows that do not parse are skipped.
    pub fn load() -> Self {
        let mut oblasts = BTreeMap::new();
        for row in rows(OBLASTS) {
            if let [code, name_uk, name_en] = row.as_slice() {
                oblasts.insert(
                    code.to_string(),
                    Oblast {
                        code: code.to_string(),
                        name_uk: name_uk.to_string(),
                        name_en: name_en.to_string(),
                    },
                );
            }
        }
        let mut extra = BTreeMap::new();
        for row in rows(HROMADAS_EXTRA) {
            if let [code, _, _, _, _, lat, lon, _, population] = row.as_slice() {
                extra.insert(
                    code.to_string(),
                    (
                        lat.parse().unwrap_or(0.0),
                        lon.parse().unwrap_or(0.0),
                        population.parse().unwrap_or(0),
                    ),
                );
            }
        }
        let mut municipalities = BTreeMap::new();
        for row in rows(HROMADAS) {
            if let [code_text, name_uk, name_en, kind, oblast, ..] = row.as_slice()
                && let Ok(code) = MunicipalityCode::parse(code_text)
            {
                let (lat, lon, population) =
                    extra.get(*code_text).copied().unwrap_or((0.0, 0.0, 0));
                municipalities.insert(
                    code,
                    Municipality {
                        code,
                        name_uk: name_uk.to_string(),
                        name_en: name_en.to_string(),
                        kind: kind.to_string(),
                        oblast: oblast.to_string(),
                        lat,
                        lon,
                        population,
                    },
                );
            }
        }
        if let Ok(kyiv) = MunicipalityCode::parse(KYIV)
            && let Some(oblast) = oblasts.get(KYIV)
        {
            municipalities.insert(
                kyiv,
                Municipality {
                    code: kyiv,
                    name_uk: oblast.name_uk.clone(),
                    name_en: oblast.name_en.clone(),
                    kind: "capital".into(),
                    oblast: KYIV.into(),
                    lat: KYIV_CENTRE.0,
                    lon: KYIV_CENTRE.1,
                    population: KYIV_POPULATION,
                },
            );
        }
        Self {
            municipalities,
            oblasts,
        }
    }

    pub fn municipality(&self, code: &MunicipalityCode) -> Option<&Municipality> {
        self.municipalities.get(code)
    }
}

/// The data rows of a simple CSV file (no quoted commas in the reference data).
fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.trim_end_matches('\r').split(',').collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hromada_and_kyiv_load_with_their_oblast_and_population() {
        let reference = Reference::load();
        assert_eq!(reference.municipalities.len(), 1_470);
        assert_eq!(reference.oblasts.len(), 27);
        let vinnytsia = MunicipalityCode::parse("UA05020030000031457").unwrap();
        let v = reference.municipality(&vinnytsia).unwrap();
        assert_eq!(v.name_uk, "Вінницька");
        assert_eq!(v.population, 387_439);
        assert_eq!(reference.oblasts[&v.oblast].name_en, "Vinnytska");
        for m in reference.municipalities.values() {
            assert!(reference.oblasts.contains_key(&m.oblast), "{}", m.code);
            assert!(m.population > 0, "{} has no population", m.code);
            assert!(
                (44.0..53.0).contains(&m.lat) && (22.0..41.0).contains(&m.lon),
                "{}",
                m.code
            );
        }
    }
}
