//! Signed checkpoints in the C2SP `tlog-checkpoint` text format, signed as C2SP signed notes
//! with Ed25519, plus witness cosignatures (C2SP `tlog-cosignature`). Keys use the signed-note
//! text forms (`PRIVATE+KEY+…` and verifier keys `name+hash+key`), so third-party tools read them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::ids::MunicipalityCode;
use crate::merkle::Hash;

/// Signature type byte of an Ed25519 signed-note key.
const ALG_ED25519: u8 = 0x01;
/// Signature type byte of a timestamped Ed25519 witness cosignature.
const ALG_COSIGNATURE_V1: u8 = 0x04;
/// Longest checkpoint note accepted for parsing. A checkpoint body is under 200 bytes; a few
/// dozen signature lines fit easily.
pub const NOTE_LEN_MAX: usize = 16 * 1024;
/// Most signature lines accepted on one note.
pub const SIGNATURES_MAX: usize = 64;

/// The checkpoint origin of a municipality's log.
pub fn origin_for(code: &MunicipalityCode) -> String {
    format!("vidkryto/{code}")
}

/// The body of a checkpoint: which log, how many leaves, and their root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

/// Why a checkpoint, a note or a key does not parse or verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("note is larger than {NOTE_LEN_MAX} bytes")]
    TooLarge,
    #[error("note is malformed: {0}")]
    Malformed(&'static str),
    #[error("key is malformed: {0}")]
    BadKey(&'static str),
    #[error("no signature by key {0}")]
    NoSignature(String),
    #[error("signature by key {0} does not verify")]
    BadSignature(String),
    #[error("checkpoint origin {found} is not the expected {expected}")]
    WrongOrigin { expected: String, found: String },
}

impl Checkpoint {
    /// The checkpoint body as text: `origin\nsize\nbase64(root)\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a checkpoint body (extension lines after the root are allowed and ignored).
    pub fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(CheckpointError::Malformed("origin"))?;
        let size_text = lines.next().ok_or(CheckpointError::Malformed("size"))?;
        if size_text.is_empty() || (size_text.len() > 1 && size_text.starts_with('0')) {
            return Err(CheckpointError::Malformed("size"));
        }
        let size = size_text
            .parse::<u64>()
            .map_err(|_| CheckpointError::Malformed("size"))?;
        let root_text = lines.next().ok_or(CheckpointError::Malformed("root"))?;
        let root: Hash = B64
            .decode(root_text)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(CheckpointError::Malformed("root"))?;
        if !body.ends_with('\n') {
            return Err(CheckpointError::Malformed("body must end with a newline"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    /// Decoded signature bytes: a 4-byte key hash, then the algorithm's signature.
    pub bytes: Vec<u8>,
}

/// Any text signed as a C2SP signed note: a body of lines ending in a newline, a blank line,
/// then `— name base64` signature lines. Checkpoints are one kind; the association's
/// statements another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text, ending with a newline.
    pub body: String,
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// The whole note as text.
    pub fn to_note(&self) -> String {
        let mut note = self.body.clone();
        note.push('\n');
        for s in &self.signatures {
            note.push_str(&format!("\u{2014} {} {}\n", s.name, B64.encode(&s.bytes)));
        }
        note
    }

    /// Parses a note of at most [`NOTE_LEN_MAX`] bytes. Signatures are only parsed, not
    /// verified: see [`Self::verify`].
    pub fn parse(note: &str) -> Result<Self, CheckpointError> {
        if note.len() > NOTE_LEN_MAX {
            return Err(CheckpointError::TooLarge);
        }
        let split = note
            .rfind("\n\n")
            .ok_or(CheckpointError::Malformed("no signature block"))?;
        let body = &note[..split + 1];
        let sigs = &note[split + 2..];
        if !sigs.ends_with('\n') {
            return Err(CheckpointError::Malformed(
                "signature block must end with a newline",
            ));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or(CheckpointError::Malformed("signature line"))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or(CheckpointError::Malformed("signature line"))?;
            let bytes = B64
                .decode(b64)
                .map_err(|_| CheckpointError::Malformed("signature base64"))?;
            if name.is_empty() || bytes.len() < 5 {
                return Err(CheckpointError::Malformed("signature line"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                bytes,
            });
            if signatures.len() > SIGNATURES_MAX {
                return Err(CheckpointError::Malformed("too many signatures"));
            }
        }
        if signatures.is_empty() {
            return Err(CheckpointError::Malformed("no signatures"));
        }
        Ok(Self {
            body: body.to_owned(),
            signatures,
        })
    }

    /// Checks the signature by `key` over the body.
    pub fn verify(&self, key: &NoteVerifier) -> Result<(), CheckpointError> {
        verify_signature(&self.body, &self.signatures, key)
    }
}

/// Checks the Ed25519 signature by `key` among `signatures` over `body`.
fn verify_signature(
    body: &str,
    signatures: &[NoteSignature],
    key: &NoteVerifier,
) -> Result<(), CheckpointError> {
    let sig = signatures
        .iter()
        .find(|s| s.name == key.name && s.bytes[..4] == key.key_hash)
        .ok_or_else(|| CheckpointError::NoSignature(key.name.clone()))?;
    let signature = Signature::from_slice(&sig.bytes[4..])
        .map_err(|_| CheckpointError::BadSignature(key.name.clone()))?;
    key.key
        .verify(body.as_bytes(), &signature)
        .map_err(|_| CheckpointError::BadSignature(key.name.clone()))
}

/// A checkpoint with its signatures, as a C2SP signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub signatures: Vec<NoteSignature>,
}

impl SignedCheckpoint {
    /// The whole note as text: body, a blank line, then `— name base64` lines.
    pub fn to_note(&self) -> String {
        SignedNote {
            body: self.checkpoint.body(),
            signatures: self.signatures.clone(),
        }
        .to_note()
    }

    /// Parses a note. Signatures are only parsed, not verified: see [`Self::verify`].
    pub fn parse(note: &str) -> Result<Self, CheckpointError> {
        let SignedNote { body, signatures } = SignedNote::parse(note)?;
        Ok(Self {
            checkpoint: Checkpoint::parse_body(&body)?,
            signatures,
        })
    }

    /// Checks the signature by `key` over this checkpoint.
    pub fn verify(&self, key: &NoteVerifier) -> Result<(), CheckpointError> {
        verify_signature(&self.checkpoint.body(), &self.signatures, key)
    }

    /// Checks the signature by `key` and that the origin is the expected one.
    pub fn verify_for(&self, key: &NoteVerifier, origin: &str) -> Result<(), CheckpointError> {
        if self.checkpoint.origin != origin {
            return Err(CheckpointError::WrongOrigin {
                expected: origin.to_owned(),
                found: self.checkpoint.origin.clone(),
            });
        }
        self.verify(key)
    }

    /// Adds a witness cosignature (C2SP `tlog-cosignature/v1`) made at `time_secs`.
    pub fn cosign(&mut self, witness: &NoteSigner, time_secs: u64) {
        let message = cosigned_message(&self.checkpoint, time_secs);
        let sig = witness.key.sign(message.as_bytes());
        let mut bytes = cosign_key_hash(&witness.name, &witness.key.verifying_key()).to_vec();
        bytes.extend_from_slice(&time_secs.to_be_bytes());
        bytes.extend_from_slice(&sig.to_bytes());
        self.signatures.push(NoteSignature {
            name: witness.name.clone(),
            bytes,
        });
    }

    /// Checks a witness cosignature by `witness`; returns the time it was made.
    pub fn verify_cosignature(&self, witness: &WitnessVerifier) -> Result<u64, CheckpointError> {
        let sig = self
            .signatures
            .iter()
            .find(|s| s.name == witness.name && s.bytes[..4] == witness.key_hash)
            .ok_or_else(|| CheckpointError::NoSignature(witness.name.clone()))?;
        let bad = || CheckpointError::BadSignature(witness.name.clone());
        if sig.bytes.len() != 4 + 8 + 64 {
            return Err(bad());
        }
        let mut time = [0u8; 8];
        time.copy_from_slice(&sig.bytes[4..12]);
        let time_secs = u64::from_be_bytes(time);
        let signature = Signature::from_slice(&sig.bytes[12..]).map_err(|_| bad())?;
        let message = cosigned_message(&self.checkpoint, time_secs);
        witness
            .key
            .verify(message.as_bytes(), &signature)
            .map_err(|_| bad())?;
        Ok(time_secs)
    }
}

fn cosigned_message(checkpoint: &Checkpoint, time_secs: u64) -> String {
    format!("cosignature/v1\ntime {time_secs}\n{}", checkpoint.body())
}

fn key_hash_with(name: &str, alg: u8, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn cosign_key_hash(name: &str, key: &VerifyingKey) -> [u8; 4] {
    key_hash_with(name, ALG_COSIGNATURE_V1, key)
}

fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 256 && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// A signing key with its note name. Debug never prints the secret.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, CheckpointError> {
        if !valid_key_name(name) {
            return Err(CheckpointError::BadKey("name"));
        }
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Parses the signed-note private key text `PRIVATE+KEY+name+hash+base64(0x01||seed)`.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(CheckpointError::BadKey("prefix"))?;
        let (name, hash, key) = split_key(rest)?;
        let raw = B64
            .decode(key)
            .map_err(|_| CheckpointError::BadKey("base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(CheckpointError::BadKey("algorithm"));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&raw[1..]);
        let signer = Self::from_seed(name, seed)?;
        if hex_hash(&signer.verifier().key_hash) != hash {
            return Err(CheckpointError::BadKey("key hash"));
        }
        Ok(signer)
    }

    /// The private key text. Write it only to a file readable by its owner.
    pub fn to_private_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex_hash(&self.verifier().key_hash),
            B64.encode(raw)
        )
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs a checkpoint.
    pub fn sign(&self, checkpoint: Checkpoint) -> SignedCheckpoint {
        let SignedNote { signatures, .. } = self.sign_note(checkpoint.body());
        SignedCheckpoint {
            checkpoint,
            signatures,
        }
    }

    /// Signs any text as a note. `body` must end with a newline and hold no blank line.
    pub fn sign_note(&self, body: String) -> SignedNote {
        let sig = self.key.sign(body.as_bytes());
        let mut bytes = self.verifier().key_hash.to_vec();
        bytes.extend_from_slice(&sig.to_bytes());
        SignedNote {
            body,
            signatures: vec![NoteSignature {
                name: self.name.clone(),
                bytes,
            }],
        }
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> NoteVerifier {
        let key = self.key.verifying_key();
        NoteVerifier {
            key_hash: key_hash_with(&self.name, ALG_ED25519, &key),
            name: self.name.clone(),
            key,
        }
    }

    /// The matching witness verifier, for cosignatures made with this key.
    pub fn witness_verifier(&self) -> WitnessVerifier {
        let key = self.key.verifying_key();
        WitnessVerifier {
            key_hash: cosign_key_hash(&self.name, &key),
            name: self.name.clone(),
            key,
        }
    }
}

fn hex_hash(h: &[u8; 4]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn split_key(text: &str) -> Result<(&str, &str, &str), CheckpointError> {
    let mut parts = text.splitn(3, '+');
    let name = parts
        .next()
        .filter(|n| valid_key_name(n))
        .ok_or(CheckpointError::BadKey("name"))?;
    let hash = parts
        .next()
        .filter(|h| h.len() == 8)
        .ok_or(CheckpointError::BadKey("key hash"))?;
    let key = parts.next().ok_or(CheckpointError::BadKey("key"))?;
    Ok((name, hash, key))
}

/// An Ed25519 verifier key with its note name, as `name+hash+base64(0x01||key)`.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_hash: [u8; 4],
    key: VerifyingKey,
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl NoteVerifier {
    /// Parses verifier key text.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let (name, hash, key) = split_key(text.trim())?;
        let raw = B64
            .decode(key)
            .map_err(|_| CheckpointError::BadKey("base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(CheckpointError::BadKey("algorithm"));
        }
        let key = VerifyingKey::try_from(&raw[1..])
            .map_err(|_| CheckpointError::BadKey("ed25519 point"))?;
        let key_hash = key_hash_with(name, ALG_ED25519, &key);
        if hex_hash(&key_hash) != hash {
            return Err(CheckpointError::BadKey("key hash"));
        }
        Ok(Self {
            name: name.to_owned(),
            key_hash,
            key,
        })
    }

    /// The verifier key text.
    pub fn to_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex_hash(&self.key_hash),
            B64.encode(raw)
        )
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Ed25519 public key itself, whatever name it goes by: one key enrolled under two
    /// names is one signer.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Whether the key is of small order: signatures under it prove nothing (anyone can make
    /// them), so no signer may be enrolled with one.
    pub fn is_weak(&self) -> bool {
        self.key.is_weak()
    }
}

/// A witness's public key, for checking its cosignatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessVerifier {
    name: String,
    key_hash: [u8; 4],
    key: VerifyingKey,
}

impl WitnessVerifier {
    /// The witness verifier for the same key as a signed-note verifier.
    pub fn from_note_verifier(v: &NoteVerifier) -> Self {
        Self {
            key_hash: cosign_key_hash(&v.name, &v.key),
            name: v.name.clone(),
            key: v.key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str, seed: u8) -> NoteSigner {
        NoteSigner::from_seed(name, [seed; 32]).unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "vidkryto/UA05020030000031457".into(),
            size: 8,
            root: [7; 32],
        }
    }

    #[test]
    fn sign_parse_verify_round_trip() {
        let s = signer("vidkryto/UA05020030000031457", 1);
        let note = s.sign(checkpoint()).to_note();
        let parsed = SignedCheckpoint::parse(&note).unwrap();
        assert_eq!(parsed.checkpoint, checkpoint());
        parsed.verify(&s.verifier()).unwrap();
        parsed
            .verify_for(&s.verifier(), "vidkryto/UA05020030000031457")
            .unwrap();
        assert!(matches!(
            parsed.verify_for(&s.verifier(), "vidkryto/UA80000000000093317"),
            Err(CheckpointError::WrongOrigin { .. })
        ));
    }

    #[test]
    fn wrong_key_and_tampered_body_fail() {
        let s = signer("vidkryto/UA05020030000031457", 1);
        let other = signer("vidkryto/UA05020030000031457", 2);
        let signed = s.sign(checkpoint());
        assert!(matches!(
            signed.verify(&other.verifier()),
            Err(CheckpointError::NoSignature(_))
        ));
        let tampered = signed.to_note().replacen("\n8\n", "\n9\n", 1);
        let parsed = SignedCheckpoint::parse(&tampered).unwrap();
        assert!(matches!(
            parsed.verify(&s.verifier()),
            Err(CheckpointError::BadSignature(_))
        ));
    }

    #[test]
    fn keys_round_trip_through_text() {
        let s = signer("vidkryto/UA05020030000031457", 3);
        let back = NoteSigner::parse(&s.to_private_text()).unwrap();
        assert_eq!(back.verifier(), s.verifier());
        let v = NoteVerifier::parse(&s.verifier().to_text()).unwrap();
        assert_eq!(v, s.verifier());
        assert!(!format!("{s:?}").contains(&B64.encode([3u8; 32])));
        let mut bad = s.verifier().to_text();
        bad.replace_range(bad.find('+').unwrap() + 1..bad.find('+').unwrap() + 3, "zz");
        assert!(NoteVerifier::parse(&bad).is_err());
    }

    #[test]
    fn cosignatures_verify_and_carry_time() {
        let s = signer("vidkryto/UA05020030000031457", 1);
        let w = signer("vidkryto/association", 9);
        let mut signed = s.sign(checkpoint());
        signed.cosign(&w, 1_764_151_200);
        let parsed = SignedCheckpoint::parse(&signed.to_note()).unwrap();
        parsed.verify(&s.verifier()).unwrap();
        assert_eq!(
            parsed.verify_cosignature(&w.witness_verifier()).unwrap(),
            1_764_151_200
        );
        assert_eq!(
            parsed
                .verify_cosignature(&WitnessVerifier::from_note_verifier(&w.verifier()))
                .unwrap(),
            1_764_151_200
        );
        let stranger = signer("vidkryto/association", 10);
        assert!(
            parsed
                .verify_cosignature(&stranger.witness_verifier())
                .is_err()
        );
    }

    #[test]
    fn malformed_notes_are_errors() {
        for text in [
            "",
            "\n\n",
            "a\n1\n\n\n",
            "a\n01\nAAAA\n\n— x AAAAAAA=\n",
            "a\n1\nnotbase64\n\n— x AAAAAAAA\n",
        ] {
            assert!(SignedCheckpoint::parse(text).is_err(), "{text:?}");
        }
        let big = "x".repeat(NOTE_LEN_MAX + 1);
        assert_eq!(
            SignedCheckpoint::parse(&big),
            Err(CheckpointError::TooLarge)
        );
    }
}
