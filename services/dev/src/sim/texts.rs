//! What the simulated residents and councils write, in Ukrainian, as hromadas do: petitions
//! over the categories hromadas use (hundreds of distinct titles, from what is asked for and
//! where), the council's answers, dialogues' topics and contributions, and action-plan
//! commitments with their OGP values, participatory budget projects. Chosen by a number (an author, a counter), so a run is
//! varied and a test is repeatable.

use proto::node::v1 as pb;

/// A petition: its category (the portal's list), the request and the places it may concern.
struct Theme {
    category: &'static str,
    asks: &'static [&'static str],
    places: &'static [&'static str],
}

const STREETS: &[&str] = &[
    "на вулиці Шевченка",
    "на вулиці Грушевського",
    "на вулиці Лесі Українки",
    "на вулиці Франка",
    "на проспекті Незалежності",
    "на вулиці Соборній",
    "на вулиці Героїв Майдану",
    "на вулиці Садовій",
    "на вулиці Миру",
    "на вулиці Вишневій",
    "у мікрорайоні Південний",
    "у селі Старосілля",
];

const THEMES: &[Theme] = &[
    Theme {
        category: "infrastructure",
        asks: &[
            "Відремонтувати тротуар",
            "Встановити вуличне освітлення",
            "Облаштувати пішохідний перехід",
            "Замінити аварійний міст",
            "Відновити зливову каналізацію",
            "Заасфальтувати дорогу",
        ],
        places: STREETS,
    },
    Theme {
        category: "transport",
        asks: &[
            "Продовжити автобусний маршрут",
            "Облаштувати зупинку з навісом",
            "Пустити вечірній автобус",
            "Зробити велодоріжку",
            "Встановити табло прибуття транспорту",
        ],
        places: STREETS,
    },
    Theme {
        category: "education",
        asks: &[
            "Відремонтувати спортзал",
            "Облаштувати укриття",
            "Відкрити інклюзивний клас",
            "Закупити комп'ютери",
            "Збільшити кількість місць",
        ],
        places: &[
            "у ліцеї № 1",
            "у гімназії № 3",
            "у школі № 5",
            "у дитячому садку «Сонечко»",
            "у дитячому садку «Калинка»",
            "у школі мистецтв",
        ],
    },
    Theme {
        category: "health",
        asks: &[
            "Облаштувати пандус",
            "Продовжити години прийому",
            "Придбати апарат УЗД",
            "Відкрити пункт невідкладної допомоги",
        ],
        places: &[
            "у поліклініці",
            "в амбулаторії сімейної медицини",
            "у центральній лікарні",
            "у фельдшерському пункті села Старосілля",
        ],
    },
    Theme {
        category: "environment",
        asks: &[
            "Висадити дерева",
            "Встановити контейнери для роздільного збору сміття",
            "Розчистити береги ставка",
            "Заборонити вирубку дерев",
            "Облаштувати зону відпочинку",
        ],
        places: &[
            "у центральному парку",
            "у сквері біля ратуші",
            "біля ставка",
            "у мікрорайоні Південний",
            "на набережній",
        ],
    },
    Theme {
        category: "social",
        asks: &[
            "Відкрити центр денного перебування для людей з інвалідністю",
            "Облаштувати простір для ветеранів",
            "Запровадити соціальне таксі",
            "Відкрити пункт допомоги внутрішньо переміщеним особам",
        ],
        places: &[
            "у громаді",
            "у старостинському окрузі",
            "у центрі надання адмінпослуг",
        ],
    },
    Theme {
        category: "culture",
        asks: &[
            "Відремонтувати будинок культури",
            "Продовжити години роботи бібліотеки",
            "Облаштувати спортивний майданчик",
            "Відкрити молодіжний центр",
        ],
        places: &[
            "у центрі громади",
            "у селі Старосілля",
            "у мікрорайоні Південний",
            "біля стадіону",
        ],
    },
    Theme {
        category: "safety",
        asks: &[
            "Встановити камери відеоспостереження",
            "Облаштувати сирену оповіщення",
            "Облаштувати найпростіше укриття",
            "Встановити лежачих поліцейських",
        ],
        places: STREETS,
    },
    Theme {
        category: "housing",
        asks: &[
            "Утеплити багатоквартирний будинок",
            "Замінити ліфт",
            "Відремонтувати покрівлю",
            "Облаштувати прибудинкову територію",
        ],
        places: STREETS,
    },
];

/// The `n`th petition of the simulation: its title, text and category.
pub fn petition(n: u64) -> (String, String, &'static str) {
    let theme = &THEMES[index(n, THEMES.len())];
    let rest = n / THEMES.len() as u64;
    let ask = theme.asks[index(rest, theme.asks.len())];
    let place = theme.places[index(rest / theme.asks.len() as u64, theme.places.len())];
    let title = format!("{ask} {place}");
    let text = format!(
        "Ми, мешканці громади, просимо раду {} {place}. Це питання давно потребує \
         розв'язання: звертаємося, щоб його внесли до плану робіт і бюджету на наступний рік.",
        lowercase_first(ask)
    );
    (title, text, theme.category)
}

/// The council's answer to a petition with `decision`.
pub fn answer(decision: pb::AnswerDecision) -> &'static str {
    match decision {
        pb::AnswerDecision::Supported => {
            "Виконавчий комітет підтримує петицію: роботи внесено до плану на наступний рік, \
             кошти передбачено в бюджеті розвитку."
        }
        pb::AnswerDecision::PartlySupported => {
            "Петицію підтримано частково: першу чергу робіт виконають цього року, решту \
             розглянуть під час формування бюджету."
        }
        _ => {
            "Петицію розглянуто на засіданні виконавчого комітету; її не підтримано, бо це \
             питання не належить до повноважень громади."
        }
    }
}

/// Who answers for the council.
pub const RESPONDER: &str = "Міський голова";

const TOPICS: &[&str] = &[
    "Бюджет громади на наступний рік",
    "Генеральний план громади",
    "Реконструкція центральної площі",
    "Правила благоустрою",
    "Програма підтримки молоді",
    "Схема руху громадського транспорту",
    "Стратегія розвитку громади до 2030 року",
    "Облаштування укриттів у школах",
];

/// The `n`th dialogue's topic and organiser.
pub fn dialogue(n: u64) -> (&'static str, &'static str) {
    const ORGANISERS: &[&str] = &[
        "Виконавчий комітет",
        "Управління економічного розвитку",
        "Молодіжна рада",
        "Відділ містобудування та архітектури",
    ];
    (
        TOPICS[index(n, TOPICS.len())],
        ORGANISERS[index(n / 3, ORGANISERS.len())],
    )
}

/// The `n`th contribution's text.
pub fn contribution(n: u64) -> &'static str {
    const TEXTS: &[&str] = &[
        "Пропоную передбачити освітлення шкільного маршруту.",
        "Просимо додати кошти на ремонт укриття в гімназії.",
        "Варто облаштувати велопарковки біля ринку й вокзалу.",
        "Пропоную провести окреме обговорення з мешканцями сіл громади.",
        "Прошу оприлюднювати звіти про виконання щокварталу.",
        "Потрібен пандус до будинку культури.",
    ];
    TEXTS[index(n, TEXTS.len())]
}

/// Why the council took a contribution into account.
pub const CONTRIBUTION_REASON: &str = "Пропозицію враховано в проєкті рішення.";
/// Organisations that took part in a dialogue.
pub const ORGANISATIONS: &[&str] = &["Молодіжна рада", "ГО «Відкрите місто»"];
/// The outcome report and the council's decision.
pub const OUTCOME: &str = "Пропозиції мешканців узагальнено; враховані внесено до проєкту \
                           рішення, щодо решти надано обґрунтовані відповіді.";
pub const DECISION_REF: &str = "Рішення № 12/2026";

/// The action plan's title and the council's decision adopting it.
pub const PLAN_TITLE: &str = "План дій громади в межах OGP Local";
pub const PLAN_DECISION: &str = "Рішення № 7/2026";
pub const PLAN_DRAFT_TITLE: &str = "План дій громади в межах OGP Local (проєкт)";
/// Seats of a local forum: a body or organisation and its representative's role (never a
/// name), government and public by turns.
pub const FORUM_SEATS: [(&str, &str); 4] = [
    (
        "Виконавчий комітет міської ради",
        "заступник міського голови",
    ),
    ("ГО «Центр громадського моніторингу»", "голова правління"),
    ("Управління цифрової трансформації", "начальник управління"),
    ("Молодіжна рада громади", "голова молодіжної ради"),
];

/// A commitment: title, description, lead institution, OGP values.
#[derive(Debug)]
pub struct Commitment {
    pub title: &'static str,
    pub description: &'static str,
    pub lead: &'static str,
    pub values: &'static [pb::OgpValue],
    pub milestone: &'static str,
}

const COMMITMENTS: &[Commitment] = &[
    Commitment {
        title: "Відкритий бюджет",
        description: "Оприлюднювати бюджет громади та його виконання як відкриті дані щомісяця.",
        lead: "Фінансове управління",
        values: &[
            pb::OgpValue::AccessToInformation,
            pb::OgpValue::PublicAccountability,
        ],
        milestone: "Розділ «Бюджет» на порталі відкритих даних",
    },
    Commitment {
        title: "Громадський бюджет",
        description: "Запровадити громадський бюджет з електронним голосуванням мешканців.",
        lead: "Управління економічного розвитку",
        values: &[
            pb::OgpValue::CivicParticipation,
            pb::OgpValue::TechnologyAndInnovation,
        ],
        milestone: "Положення про громадський бюджет",
    },
    Commitment {
        title: "Відкриті закупівлі",
        description: "Публікувати аналітику закупівель громади та звіти про виконання договорів.",
        lead: "Відділ публічних закупівель",
        values: &[pb::OgpValue::PublicAccountability],
        milestone: "Щоквартальний звіт про закупівлі",
    },
    Commitment {
        title: "Молодіжна участь",
        description: "Залучати молодіжну раду до обговорення рішень, що стосуються молоді.",
        lead: "Відділ у справах молоді та спорту",
        values: &[pb::OgpValue::CivicParticipation],
        milestone: "Щорічний молодіжний форум",
    },
];

/// The `n`th commitment of a plan.
pub fn commitment(n: u64) -> &'static Commitment {
    &COMMITMENTS[index(n, COMMITMENTS.len())]
}

fn index(n: u64, len: usize) -> usize {
    usize::try_from(n % len as u64).unwrap_or(0)
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The categories of a simulated participatory budget round, in order.
pub const PROJECT_CATEGORIES: &[&str] = &["Благоустрій", "Освіта", "Спорт", "Культура"];

/// What residents propose in participatory budgets, by category index.
const PROJECTS: &[(u32, &str, &str)] = &[
    (
        0,
        "Сквер з лавками та освітленням",
        "Облаштувати сквер: доріжки, лавки, LED-ліхтарі й висадити дерева.",
    ),
    (
        0,
        "Велодоріжка до школи",
        "Безпечна велодоріжка з розміткою та велопарковками біля школи.",
    ),
    (
        0,
        "Дитячий майданчик",
        "Сучасний інклюзивний майданчик з безпечним покриттям.",
    ),
    (
        1,
        "Мультимедійний клас",
        "Проєктор, ноутбуки та інтерактивна дошка для уроків.",
    ),
    (
        1,
        "Бібліотечний простір для підлітків",
        "Оновити читальну залу: меблі, книги, зона для настільних ігор.",
    ),
    (
        2,
        "Вуличний тренажерний майданчик",
        "Тренажери, турнік і бруси біля стадіону.",
    ),
    (
        2,
        "Футбольне поле зі штучним покриттям",
        "Замінити покриття міні-поля та встановити огорожу.",
    ),
    (
        3,
        "Літній кінотеатр просто неба",
        "Екран, проєктор і звук для кіновечорів у парку.",
    ),
    (
        3,
        "Фестиваль місцевих ремесел",
        "Щорічний фестиваль з майстер-класами та ярмарком.",
    ),
];

/// A project: its title (with a place, so titles vary), description and category index.
pub fn project(n: u64) -> (String, String, u32) {
    let (category, title, description) = PROJECTS[index(n, PROJECTS.len())];
    let place = STREETS[index(n / PROJECTS.len() as u64, STREETS.len())];
    (format!("{title} {place}"), description.to_owned(), category)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hundreds_of_distinct_ukrainian_petitions_over_the_categories_within_the_domains_bounds() {
        let petitions: Vec<_> = (0..5_000).map(petition).collect();
        let titles: std::collections::BTreeSet<_> = petitions.iter().map(|p| &p.0).collect();
        assert!(titles.len() >= 300, "{} distinct titles", titles.len());
        let categories: std::collections::BTreeSet<_> = petitions.iter().map(|p| p.2).collect();
        assert_eq!(categories.len(), THEMES.len());
        for (title, text, _) in &petitions {
            let cyrillic = |s: &str| {
                s.chars()
                    .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)))
            };
            assert!(cyrillic(title) && cyrillic(text), "{title}");
            assert!(
                title.chars().count() <= domain::petition::TITLE_LEN_MAX as usize,
                "{title}"
            );
            assert!(
                text.chars().count() <= domain::petition::PETITION_TEXT_LEN_MAX as usize,
                "{text}"
            );
            assert!(!title.contains('\n'), "{title}");
        }
        assert_eq!(
            petition(7),
            petition(7),
            "the same number, the same petition"
        );
    }
}
