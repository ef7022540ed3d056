//! Container names, as docker has them: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, unique per runtime,
//! recorded as `/NAME` (the record's `Name`, as `inspect` shows it). A container created
//! without one gets a generated `adjective_surname`. The registry reserves a name atomically
//! (check and take under one lock), so two concurrent creations can never both have it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};

/// The longest name accepted (docker has no limit; a name travels in every `ps` row).
pub const MAX_NAME: usize = 255;

/// Check `name` (an optional leading `/` allowed, as docker allows it) and return it without
/// the slash.
pub fn validate(name: &str) -> Result<&str> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let bytes = bare.as_bytes();
    let first_ok = bytes.first().is_some_and(u8::is_ascii_alphanumeric);
    let rest_ok = bytes
        .iter()
        .skip(1)
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !first_ok || !rest_ok || bytes.len() < 2 {
        return Err(Error::invalid(format!(
            "invalid container name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least 2 characters"
        )));
    }
    if bytes.len() > MAX_NAME {
        return Err(Error::invalid(format!(
            "invalid container name: longer than {MAX_NAME} characters"
        )));
    }
    Ok(bare)
}

/// How a name is written in the record and in `inspect`: `/NAME`.
pub fn recorded(name: &str) -> String {
    format!("/{}", name.trim_start_matches('/'))
}

const ADJECTIVES: &[&str] = &[
    "amber", "brave", "calm", "clever", "crisp", "daring", "eager", "fair", "gentle", "glad",
    "golden", "humble", "keen", "kind", "lively", "lucid", "merry", "mild", "nimble", "noble",
    "patient", "placid", "proud", "quiet", "quick", "rapid", "serene", "sharp", "shy", "silent",
    "steady", "sunny", "swift", "tender", "tidy", "vivid", "warm", "wise", "witty", "zesty",
];

/// Surnames of people who shaped computing and mathematics.
const SURNAMES: &[&str] = &[
    "babbage",
    "backus",
    "bartik",
    "cerf",
    "church",
    "codd",
    "conway",
    "dijkstra",
    "engelbart",
    "euler",
    "gauss",
    "goldberg",
    "hamilton",
    "hamming",
    "hopper",
    "huffman",
    "kahn",
    "knuth",
    "lamport",
    "liskov",
    "lovelace",
    "mccarthy",
    "minsky",
    "noether",
    "pascal",
    "perlman",
    "ritchie",
    "shannon",
    "sutherland",
    "tarjan",
    "thompson",
    "torvalds",
    "turing",
    "wilkes",
    "wirth",
    "wozniak",
];

fn random_index(len: usize) -> Result<usize> {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).map_err(|e| {
        Error::new(
            crate::error::ErrorKind::Io,
            format!("reading random bytes: {e}"),
        )
    })?;
    Ok(u32::from_ne_bytes(b) as usize % len)
}

/// A random `adjective_surname`; `retry` > 0 appends it (`brave_turing3`), as docker does
/// after a collision.
pub fn generate(retry: usize) -> Result<String> {
    let a = ADJECTIVES[random_index(ADJECTIVES.len())?];
    let s = SURNAMES[random_index(SURNAMES.len())?];
    Ok(match retry {
        0 => format!("{a}_{s}"),
        n => format!("{a}_{s}{n}"),
    })
}

/// The names in use: name (without `/`) -> container id.
#[derive(Debug, Default)]
pub struct Names(Mutex<HashMap<String, String>>);

impl Names {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The conflict error for `name`, held by `holder`.
    fn conflict(name: &str, holder: &str) -> Error {
        Error::in_use(format!(
            "Conflict. The container name \"/{name}\" is already in use by container \"{holder}\". You have to remove (or rename) that container to be able to reuse that name."
        ))
    }

    /// Reserve `name` (validated) for container `id`, or a generated name when `None`.
    /// Returns the name reserved (without `/`). `InUse` (docker's `Conflict`) when taken.
    pub fn reserve(&self, name: Option<&str>, id: &str) -> Result<String> {
        let mut map = self.lock();
        if let Some(name) = name {
            let name = validate(name)?;
            if let Some(holder) = map.get(name) {
                return Err(Self::conflict(name, holder));
            }
            map.insert(name.to_string(), id.to_string());
            return Ok(name.to_string());
        }
        // The retry number appended makes a free name come soon, however many are taken.
        let mut retry = 0;
        loop {
            let candidate = generate(retry)?;
            if !map.contains_key(&candidate) {
                map.insert(candidate.clone(), id.to_string());
                return Ok(candidate);
            }
            retry += 1;
        }
    }

    /// Free `name` when container `id` holds it.
    pub fn release(&self, name: &str, id: &str) {
        let name = name.trim_start_matches('/');
        let mut map = self.lock();
        if map.get(name).is_some_and(|holder| holder == id) {
            map.remove(name);
        }
    }

    /// The id of the container named `name` (a leading `/` allowed).
    pub fn lookup(&self, name: &str) -> Option<String> {
        self.lock().get(name.trim_start_matches('/')).cloned()
    }

    /// Move container `id` from `old` to `new` (validated): `InUse` when `new` is taken, by
    /// another container or by this one. Returns `new` without `/`.
    pub fn rename(&self, old: &str, new: &str, id: &str) -> Result<String> {
        let new = validate(new)?;
        let mut map = self.lock();
        if let Some(holder) = map.get(new) {
            return Err(Self::conflict(new, holder));
        }
        let old = old.trim_start_matches('/');
        if map.get(old).is_some_and(|holder| holder == id) {
            map.remove(old);
        }
        map.insert(new.to_string(), id.to_string());
        Ok(new.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_name_rules() {
        for good in ["web", "a1", "my_app.v2-x", "/web", "0x"] {
            assert!(validate(good).is_ok(), "{good}");
        }
        assert_eq!(validate("/web").unwrap(), "web");
        let long = "a".repeat(MAX_NAME + 1);
        for bad in [
            "", "a", "/", "_web", "-web", ".web", "we b", "web/x", "wéb", &long,
        ] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn generated_names_follow_the_rules_and_retries_are_numbered() {
        for retry in 0..5 {
            let n = generate(retry).unwrap();
            assert!(validate(&n).is_ok(), "{n}");
            assert!(n.contains('_'));
            assert_eq!(n.ends_with(&retry.to_string()), retry > 0, "{n}");
        }
    }

    #[test]
    fn reserve_release_rename() {
        let names = Names::default();
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        assert_eq!(names.reserve(Some("/web"), &a).unwrap(), "web");
        let e = names.reserve(Some("web"), &b).unwrap_err();
        assert!(
            e.message().contains(
                "Conflict. The container name \"/web\" is already in use by container \"aaaa"
            ),
            "{e}"
        );
        names.release("web", &b); // not the holder: nothing freed
        assert_eq!(names.lookup("/web"), Some(a.clone()));
        assert!(names.rename("web", "db", &a).is_ok());
        assert_eq!(names.lookup("web"), None);
        assert!(names.rename("x", "db", &b).is_err());
        names.release("db", &a);
        assert_eq!(names.reserve(Some("db"), &b).unwrap(), "db");
        let generated = names.reserve(None, &a).unwrap();
        assert_eq!(names.lookup(&generated), Some(a));
    }
}
