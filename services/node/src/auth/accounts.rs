//! Node-local staff accounts, for a hromada whose officials do not sign in through the
//! identity provider: a name, roles and a password kept as an Argon2id PHC string, in
//! `accounts.toml` (owner-only; `vidkryto node account add | remove | list`). An official
//! signs in with `AuthService.SignIn` and gets a **session token** (`vks_…`, eight hours): the
//! account's name, the session's end and the account's generation (a digest of its password
//! hash, new whenever the account is added again), MACed with a key derived from the node's
//! secret, so the node keeps no session state. Every use checks the MAC, the end on the
//! node's clock, and that the account still exists with that generation, taking its roles as
//! they are now: removing an account, re-adding it (a new password), or changing a role takes
//! effect within two seconds for every session.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::attested::{self, Attested};
use super::permission::Role;
use super::watched::{Watched, locked, read_toml, write_toml};
use event_store_core::Timestamp;

/// The file's name in the node's directory.
pub const ACCOUNTS_FILE: &str = "accounts.toml";
/// Every session token starts so.
pub const SESSION_PREFIX: &str = "vks_";
/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3_600);
/// Shortest and longest password, in bytes.
pub const PASSWORD_LEN_MIN: usize = 12;
pub const PASSWORD_LEN_MAX: usize = 1_024;
/// Most accounts in the file.
pub const ACCOUNTS_MAX: usize = 1_000;

/// One account as the file keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub name: String,
    /// Role names: `moderator`, `official`, `coordinator`, `administrator`.
    pub roles: Vec<String>,
    /// Argon2id PHC string of the password.
    pub password: String,
    /// When it was added (RFC 3339, UTC).
    pub created: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsFile {
    #[serde(default, rename = "account")]
    accounts: Vec<AccountEntry>,
}

fn read_file(dir: &Path) -> anyhow::Result<AccountsFile> {
    let path = dir.join(ACCOUNTS_FILE);
    let file: AccountsFile = read_toml(&path)?;
    if file.accounts.len() > ACCOUNTS_MAX {
        bail!("{} lists more than {ACCOUNTS_MAX} accounts", path.display());
    }
    Ok(file)
}

fn write_file(dir: &Path, file: &AccountsFile) -> anyhow::Result<()> {
    write_toml(
        &dir.join(ACCOUNTS_FILE),
        "Staff accounts of this node: `vidkryto node account add | remove | list`.",
        file,
    )
}

fn check_password(password: &str) -> anyhow::Result<()> {
    if !(PASSWORD_LEN_MIN..=PASSWORD_LEN_MAX).contains(&password.len()) {
        bail!("a password is {PASSWORD_LEN_MIN} to {PASSWORD_LEN_MAX} bytes");
    }
    Ok(())
}

/// The Argon2id PHC string of `password` under a fresh salt.
fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("failed to hash the password: {e}"))?
        .to_string())
}

/// Adds an account with `roles` and `password`.
pub fn add(dir: &Path, name: &str, roles: &[Role], password: &str) -> anyhow::Result<()> {
    super::clients::check_name(name)?;
    if roles.is_empty() {
        bail!("an account needs at least one role");
    }
    check_password(password)?;
    locked(&dir.join(ACCOUNTS_FILE), || {
        let mut file = read_file(dir)?;
        if file.accounts.iter().any(|a| a.name == name) {
            bail!("an account named {name:?} exists already (remove it first)");
        }
        if file.accounts.len() >= ACCOUNTS_MAX {
            bail!("the node has {ACCOUNTS_MAX} accounts already");
        }
        let mut roles: Vec<String> = roles.iter().map(|r| r.name().to_owned()).collect();
        roles.sort();
        roles.dedup();
        file.accounts.push(AccountEntry {
            name: name.to_owned(),
            roles,
            password: hash_password(password)?,
            created: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        });
        write_file(dir, &file)
    })
}

/// Removes an account by name; its sessions end with it.
pub fn remove(dir: &Path, name: &str) -> anyhow::Result<()> {
    locked(&dir.join(ACCOUNTS_FILE), || {
        let mut file = read_file(dir)?;
        let before = file.accounts.len();
        file.accounts.retain(|a| a.name != name);
        if file.accounts.len() == before {
            bail!("no account named {name:?}");
        }
        write_file(dir, &file)
    })
}

/// The accounts, as the file lists them.
pub fn list(dir: &Path) -> anyhow::Result<Vec<AccountEntry>> {
    Ok(read_file(dir)?.accounts)
}

/// An account a running node knows.
#[derive(Clone, Debug)]
pub struct Account {
    pub name: String,
    pub roles: Vec<Role>,
    password: String,
    /// The first bytes of the SHA-256 of its password hash: sessions issued under an earlier
    /// incarnation of the account (another password) no longer hold.
    pub generation: [u8; 8],
}

fn generation_of(phc: &str) -> [u8; 8] {
    use sha2::Digest as _;
    let digest = Sha256::digest(phc.as_bytes());
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// A PHC string that verifies nothing, checked when an account is unknown so that a wrong
/// name takes as long as a wrong password.
fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password, never valid").unwrap_or_default())
}

/// The accounts a running node knows, read again when the file changes.
#[derive(Debug)]
pub struct AccountRegistry(Watched<Vec<Arc<Account>>>);

impl AccountRegistry {
    /// Reads the node's accounts (none when the file does not exist).
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        Ok(Self(Watched::open(dir.join(ACCOUNTS_FILE), |path| {
            let file = read_file(path.parent().unwrap_or(path))?;
            Ok(file
                .accounts
                .into_iter()
                .map(|a| {
                    Arc::new(Account {
                        roles: a.roles.iter().filter_map(|r| Role::parse(r)).collect(),
                        generation: generation_of(&a.password),
                        name: a.name,
                        password: a.password,
                    })
                })
                .collect())
        })?))
    }

    pub fn reload_if_changed(&self) -> anyhow::Result<bool> {
        self.0.reload_if_changed()
    }

    /// The account named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Account>> {
        self.0.get().iter().find(|a| a.name == name).cloned()
    }

    /// The account if `password` is its password (CPU-heavy: Argon2id; run it off the async
    /// threads). An unknown name costs the same as a wrong password.
    pub fn check(&self, name: &str, password: &str) -> Option<Arc<Account>> {
        let account = self.get(name);
        let phc: &str = match &account {
            Some(a) => &a.password,
            None => decoy(),
        };
        let ok = password.len() <= PASSWORD_LEN_MAX
            && PasswordHash::new(phc).is_ok_and(|hash| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            });
        account.filter(|_| ok)
    }
}

/// Issues and checks session tokens with keys derived from the node's secret: a staff
/// account's (`vks_`), and a person's who signed in at the provider through the node's own web
/// sign-in (`vkp_`, `auth::web`), each under its own key.
#[derive(Clone)]
pub struct Sessions {
    key: [u8; 32],
    person_key: [u8; 32],
    /// For the web sign-in's flow cookie (`auth::web`), which carries its state in the browser.
    flow_key: [u8; 32],
}

/// Longest base64 body of a session token read (the bodies are under 100 bytes).
const SESSION_BODY_B64_MAX: usize = 256;
/// Longest base64 body of a sealed sign-in flow read.
const FLOW_BODY_B64_MAX: usize = 2_048;

/// The prefix of a person's session token.
pub const PERSON_SESSION_PREFIX: &str = "vkp_";

/// Longest subject a person's session carries (`oidc:` and 43 characters of base64url).
const SUBJECT_IN_TOKEN_MAX: usize = 64;

/// A person's web session, as its token holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonSession {
    /// The node subject (`oidc:…`).
    pub subject: String,
    pub roles: Vec<Role>,
    pub attested: Attested,
    pub ends: Timestamp,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions(..)")
    }
}

/// Longest account name a token carries (names are checked when accounts are added).
const NAME_IN_TOKEN_MAX: usize = 64;

impl Sessions {
    /// Sessions keyed by `HMAC-SHA-256(node secret, "vidkryto/session-key/v1")`.
    pub fn new(secret: &[u8; 32]) -> Self {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac =
                <Hmac<Sha256>>::new_from_slice(secret).expect("HMAC takes any key length");
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        Self {
            key: derive(b"vidkryto/session-key/v1"),
            // v2 carries what the provider attested; a v1 token no longer verifies (sign in again).
            person_key: derive(b"vidkryto/person-session-key/v2"),
            flow_key: derive(b"vidkryto/sign-in-flow-key/v1"),
        }
    }

    /// `body` with a MAC under the flow key, as cookie-safe text.
    pub fn seal_flow(&self, body: &[u8]) -> String {
        let tag = mac_with(&self.flow_key, body);
        format!("{}.{}", B64.encode(body), B64.encode(tag))
    }

    /// The body [`seal_flow`](Self::seal_flow) sealed, if `sealed` is this node's and whole.
    pub fn open_flow(&self, sealed: &str) -> Option<Vec<u8>> {
        verified_body(&self.flow_key, "", sealed, FLOW_BODY_B64_MAX).ok()
    }

    fn mac(&self, body: &[u8]) -> [u8; 32] {
        mac_with(&self.key, body)
    }

    /// A token for the person with node subject `subject` (`oidc:…`), `roles` and what the
    /// provider `attested`, ending at `ends`.
    pub fn issue_person(
        &self,
        subject: &str,
        roles: &[Role],
        attested: &Attested,
        ends: Timestamp,
    ) -> String {
        let mut body = ends.0.to_be_bytes().to_vec();
        body.push(roles_mask(roles));
        body.extend(attested.encode());
        body.extend(subject.as_bytes());
        let tag = mac_with(&self.person_key, &body);
        format!(
            "{PERSON_SESSION_PREFIX}{}.{}",
            B64.encode(&body),
            B64.encode(tag)
        )
    }

    /// The person's session `token` holds, if its MAC holds and it has not ended at `now`.
    pub fn check_person(&self, token: &str, now: Timestamp) -> Result<PersonSession, &'static str> {
        let body = verified_body(
            &self.person_key,
            PERSON_SESSION_PREFIX,
            token,
            SESSION_BODY_B64_MAX,
        )?;
        const FIXED: usize = 9 + attested::ENCODED_LEN;
        if body.len() <= FIXED || body.len() > FIXED + SUBJECT_IN_TOKEN_MAX {
            return Err("not a session token");
        }
        let (ends, rest) = body.split_at(8);
        let ends = Timestamp(i64::from_be_bytes(
            ends.try_into().map_err(|_| "not a session token")?,
        ));
        if now.0 >= ends.0 {
            return Err("the session has ended; sign in again");
        }
        let roles = Role::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| rest[0] & (1 << i) != 0)
            .map(|(_, r)| r)
            .collect();
        let (attested, subject) = rest[1..].split_at(attested::ENCODED_LEN);
        let attested = Attested::decode(attested).ok_or("not a session token")?;
        let subject = String::from_utf8(subject.to_vec()).map_err(|_| "not a session token")?;
        Ok(PersonSession {
            subject,
            roles,
            attested,
            ends,
        })
    }

    /// A token for `account`, ending `SESSION_LIFETIME` after `now`; and that end.
    pub fn issue(&self, account: &Account, now: Timestamp) -> (String, Timestamp) {
        let lifetime = i64::try_from(SESSION_LIFETIME.as_micros()).unwrap_or(i64::MAX);
        let ends = Timestamp(now.0.saturating_add(lifetime));
        let mut body = ends.0.to_be_bytes().to_vec();
        body.extend(account.generation);
        body.extend(account.name.as_bytes());
        let tag = self.mac(&body);
        (
            format!("{SESSION_PREFIX}{}.{}", B64.encode(&body), B64.encode(tag)),
            ends,
        )
    }

    /// The account a token names and its generation then, if its MAC holds and it has not
    /// ended at `now`.
    pub fn check(&self, token: &str, now: Timestamp) -> Result<(String, [u8; 8]), &'static str> {
        let body = verified_body(&self.key, SESSION_PREFIX, token, SESSION_BODY_B64_MAX)?;
        if body.len() < 16 || body.len() > 16 + NAME_IN_TOKEN_MAX {
            return Err("not a session token");
        }
        let (ends, rest) = body.split_at(8);
        let (generation, name) = rest.split_at(8);
        let ends = i64::from_be_bytes(ends.try_into().map_err(|_| "not a session token")?);
        if now.0 >= ends {
            return Err("the session has ended; sign in again");
        }
        let generation: [u8; 8] = generation.try_into().map_err(|_| "not a session token")?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| "not a session token")?;
        Ok((name, generation))
    }
}

fn mac_with(key: &[u8; 32], body: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The body of `token` (`<prefix><base64url body>.<base64url MAC>`) if its MAC under `key`
/// holds (checked in constant time).
fn verified_body(
    key: &[u8; 32],
    prefix: &str,
    token: &str,
    body_b64_max: usize,
) -> Result<Vec<u8>, &'static str> {
    let rest = token.strip_prefix(prefix).ok_or("not a session token")?;
    let (body, tag) = rest.split_once('.').ok_or("not a session token")?;
    if body.len() > body_b64_max {
        return Err("not a session token");
    }
    let body = B64.decode(body).map_err(|_| "not a session token")?;
    let tag = B64.decode(tag).map_err(|_| "not a session token")?;
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(&body);
    mac.verify_slice(&tag)
        .map_err(|_| "the session token is not this node's")?;
    Ok(body)
}

/// Roles as bits, in the order of [`Role::ALL`].
fn roles_mask(roles: &[Role]) -> u8 {
    Role::ALL
        .into_iter()
        .enumerate()
        .filter(|(_, r)| roles.contains(r))
        .fold(0, |mask, (i, _)| mask | (1 << i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_kept_as_argon2id_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        add(
            dir.path(),
            "olena",
            &[Role::Moderator],
            "correct horse battery",
        )
        .unwrap();
        let text = std::fs::read_to_string(dir.path().join(ACCOUNTS_FILE)).unwrap();
        assert!(text.contains("$argon2id$"), "{text}");
        assert!(!text.contains("correct horse"));
        let registry = AccountRegistry::open(dir.path()).unwrap();
        let account = registry.check("olena", "correct horse battery").unwrap();
        assert_eq!(account.roles, vec![Role::Moderator]);
        assert!(registry.check("olena", "wrong password!!").is_none());
        assert!(registry.check("nobody", "correct horse battery").is_none());
        assert!(add(dir.path(), "short", &[Role::Official], "too short").is_err());
        assert!(add(dir.path(), "olena", &[Role::Official], "another long one").is_err());
    }

    #[test]
    fn a_session_holds_until_its_end_and_only_under_its_nodes_key() {
        let sessions = Sessions::new(&[1; 32]);
        let now = Timestamp(1_800_000_000_000_000);
        let account = Account {
            name: "olena".into(),
            roles: vec![Role::Moderator],
            password: String::new(),
            generation: [7; 8],
        };
        let (token, ends) = sessions.issue(&account, now);
        assert!(token.starts_with(SESSION_PREFIX));
        assert_eq!(
            sessions.check(&token, now),
            Ok(("olena".to_owned(), [7; 8]))
        );
        assert!(sessions.check(&token, ends).is_err(), "ended");
        assert!(
            Sessions::new(&[2; 32]).check(&token, now).is_err(),
            "another node's key"
        );
        // A token whose name was changed no longer verifies.
        let (body, tag) = token[SESSION_PREFIX.len()..].split_once('.').unwrap();
        let mut bytes = B64.decode(body).unwrap();
        bytes.extend(b"x");
        let forged = format!("{SESSION_PREFIX}{}.{tag}", B64.encode(bytes));
        assert!(sessions.check(&forged, now).is_err());
        assert!(sessions.check("vks_garbage", now).is_err());
    }

    fn derive_for_test(secret: &[u8; 32], label: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256>>::new_from_slice(secret).unwrap();
        mac.update(label);
        mac.finalize().into_bytes().into()
    }

    #[test]
    fn a_persons_session_keeps_subject_and_roles_under_its_own_key() {
        let sessions = Sessions::new(&[1; 32]);
        let now = Timestamp(1_800_000_000_000_000);
        let ends = Timestamp(now.0 + 3_600_000_000);
        let subject = format!("oidc:{}", "a".repeat(43));
        let attested = Attested::from_claims(Some("2008-02-29"), Some("UA26040010030022211"));
        let token = sessions.issue_person(
            &subject,
            &[Role::Official, Role::Moderator],
            &attested,
            ends,
        );
        let mut got = sessions.check_person(&token, now).unwrap();
        got.roles.sort();
        assert_eq!(
            got,
            PersonSession {
                subject: subject.clone(),
                roles: vec![Role::Moderator, Role::Official],
                attested,
                ends
            }
        );
        assert!(sessions.check_person(&token, ends).is_err(), "ended");
        assert!(Sessions::new(&[2; 32]).check_person(&token, now).is_err());
        // Neither kind of session passes for the other.
        let swapped = token.replacen(PERSON_SESSION_PREFIX, SESSION_PREFIX, 1);
        assert!(sessions.check(&swapped, now).is_err());
        // More roles claimed than signed: the MAC fails.
        let (body, tag) = token[PERSON_SESSION_PREFIX.len()..]
            .split_once('.')
            .unwrap();
        let mut bytes = B64.decode(body).unwrap();
        bytes[8] = 0xff;
        let forged = format!("{PERSON_SESSION_PREFIX}{}.{tag}", B64.encode(&bytes));
        assert!(sessions.check_person(&forged, now).is_err());
        // An older date of birth than attested: the MAC fails too.
        bytes[8] = 0;
        bytes[9..13].copy_from_slice(&(-20_000i32).to_be_bytes());
        let older = format!("{PERSON_SESSION_PREFIX}{}.{tag}", B64.encode(&bytes));
        assert!(sessions.check_person(&older, now).is_err());
        // A session of the first format (no attestation) is not taken for one.
        let mut v1 = ends.0.to_be_bytes().to_vec();
        v1.push(0);
        v1.extend(subject.as_bytes());
        let v1_tag = mac_with(
            &derive_for_test(&[1; 32], b"vidkryto/person-session-key/v1"),
            &v1,
        );
        let v1 = format!(
            "{PERSON_SESSION_PREFIX}{}.{}",
            B64.encode(&v1),
            B64.encode(v1_tag)
        );
        assert!(sessions.check_person(&v1, now).is_err());
    }
}
