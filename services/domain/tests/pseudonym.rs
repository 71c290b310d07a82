//! Pseudonym tags: stable per person and petition, unlinkable across petitions and dialogues.

mod fixtures;

use domain::{DialogueId, NodeSecret, PetitionId, dialogue_tag, petition_tag};
use fixtures::{dialogue_id, petition_id};
use uuid::Uuid;

fn secret(byte: u8) -> NodeSecret {
    NodeSecret::from_bytes([byte; 32])
}

#[test]
fn same_person_on_the_same_petition_gets_the_same_tag() {
    let first = petition_tag(&secret(1), petition_id(), "diia:1234567890");
    let again = petition_tag(&secret(1), petition_id(), "diia:1234567890");
    assert_eq!(first, again);
}

#[test]
fn different_people_get_different_tags() {
    let a = petition_tag(&secret(1), petition_id(), "diia:1234567890");
    let b = petition_tag(&secret(1), petition_id(), "diia:1234567891");
    assert_ne!(a, b);
}

#[test]
fn nothing_links_one_person_across_petitions_dialogues_or_nodes() {
    let other_petition = PetitionId(Uuid::from_u128(99));
    let subject = "diia:1234567890";
    let on_first = petition_tag(&secret(1), petition_id(), subject);
    assert_ne!(on_first, petition_tag(&secret(1), other_petition, subject));
    assert_ne!(on_first, petition_tag(&secret(2), petition_id(), subject));
    // A dialogue with the same id bytes as a petition still gets another key.
    let same_bytes = DialogueId(petition_id().0);
    assert_ne!(on_first, dialogue_tag(&secret(1), same_bytes, subject));
    assert_eq!(
        dialogue_tag(&secret(1), dialogue_id(), subject),
        dialogue_tag(&secret(1), dialogue_id(), subject)
    );
}

#[test]
fn a_tag_is_not_a_plain_hash_of_the_subject() {
    use sha2::{Digest, Sha256};
    let subject = "diia:1234567890";
    let plain: [u8; 32] = Sha256::digest(subject.as_bytes()).into();
    assert_ne!(petition_tag(&secret(1), petition_id(), subject).0, plain);
}
