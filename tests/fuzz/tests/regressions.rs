//! Inputs the fuzzer found, kept as deterministic regressions: each once went past its
//! target's allocation bound or panicked, and must not again.

use fuzz::alloc::measure;
use fuzz::targets::{self, Target};

fn target(name: &str) -> Target {
    targets::all()
        .into_iter()
        .find(|t| t.name == name)
        .expect("a target of that name")
}

/// A "dialogue closed" (type 204) payload whose list of names holds `names` empty names.
fn closed_with_names(names: usize) -> Vec<u8> {
    let mut payload = vec![16];
    payload.extend_from_slice(&[0x42; 16]); // the dialogue id
    payload.push(1); // attendance
    payload.extend_from_slice(&fuzz::mutate::varint(names as u64));
    payload.extend(std::iter::repeat_n(0u8, names)); // empty names
    payload.extend_from_slice(&fuzz::mutate::varint(2)); // at
    payload
}

/// `domain_payload`'s input: type code and schema version, then the payload.
fn typed(type_code: u16, payload: &[u8]) -> Vec<u8> {
    let mut input = type_code.to_le_bytes().to_vec();
    input.extend_from_slice(&1u16.to_le_bytes());
    input.extend_from_slice(payload);
    input
}

#[test]
fn a_list_of_many_empty_names_stays_within_the_domain_bound() {
    let target = target("domain_payload");
    // Found: 2 MiB of `String`s grown from ~131,000 one-byte names, past a bound of 200 names.
    for names in [201, 10_000, 131_000] {
        let input = typed(204, &closed_with_names(names));
        let usage = (target.run)(&input);
        let allowed = target.bound.allowed(input.len(), target.limit);
        assert!(
            usage.peak_live <= allowed && usage.peak_single <= allowed,
            "{names} names: {usage:?}, allowed {allowed}"
        );
    }
}

#[test]
fn a_claimed_list_length_reserves_no_more_than_the_bound() {
    // Found by `domain_payload` (seed 0x5eed0ff022): a 131,090-byte input whose names list
    // claims more items than it holds; serde reserved 43,690 `String`s (1 MiB) for it.
    let mut payload = closed_with_names(0);
    payload.truncate(18);
    payload.extend_from_slice(&fuzz::mutate::varint(5_000_000));
    payload.extend(std::iter::repeat_n(b',', 131_000));
    let input = typed(204, &payload);
    let usage = measure(|| {
        // At the current version: an older one is first copied by its upcast (bounded by the
        // payload limit), which is not what this measures.
        domain::decode(
            domain::EventType::DialogueClosed.code(),
            domain::EventType::DialogueClosed.schema_version(),
            &input[4..],
        )
    });
    assert!(
        usage.peak_single < 64 * 1024,
        "the largest single allocation was {} bytes",
        usage.peak_single
    );
}
