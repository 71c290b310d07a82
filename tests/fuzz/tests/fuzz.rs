//! Every decoder of untrusted bytes, [`fuzz::CASES_PER_TARGET`] mutated cases each (a tenth
//! for the targets that verify signatures): no panic, no allocation past its bound.

fn check(name: &str) {
    let target = fuzz::targets::all()
        .into_iter()
        .find(|t| t.name == name)
        .expect("a target of that name");
    let outcome = fuzz::run(&target, fuzz::test_cases(&target), fuzz::DEFAULT_SEED);
    let findings: Vec<String> = outcome.findings.iter().map(fuzz::describe).collect();
    assert!(
        findings.is_empty(),
        "{name}: {} finding(s) in {} cases:\n{}",
        findings.len(),
        outcome.cases,
        findings.join("\n")
    );
}

macro_rules! targets {
    ($($(#[$cfg:meta])? $name:ident),* $(,)?) => {
        $(
            $(#[$cfg])?
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*

        #[test]
        #[allow(clippy::vec_init_then_push)] // each push may be left out by its `cfg`
        fn every_target_has_a_test() {
            let mut tested: Vec<&str> = Vec::new();
            $(
                $(#[$cfg])?
                tested.push(stringify!($name));
            )*
            let mut all: Vec<&str> = fuzz::targets::all().iter().map(|t| t.name).collect();
            tested.sort_unstable();
            all.sort_unstable();
            assert_eq!(tested, all);
        }
    };
}

targets!(
    envelope_ref,
    envelope,
    domain_payload,
    domain_open,
    signed_checkpoint,
    projection_statement,
    association_log_entry,
    checkpoint_body,
    vkey,
    #[cfg(feature = "association")]
    association_parse_vkey,
    private_key,
    archive_events,
    archive_file_name,
    archive_json,
    nats_subject,
    nats_leaves,
    nats_headers,
    municipality_code,
    #[cfg(feature = "association")]
    association_verifier_event,
    #[cfg(feature = "association")]
    association_verifier_checkpoint,
    #[cfg(feature = "association")]
    association_verifier_sequence,
    #[cfg(feature = "association")]
    association_chunk,
    merkle_proof,
    text_values,
);
