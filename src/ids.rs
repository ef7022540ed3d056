//! Container and image ids: 64 lowercase hex characters (a whole SHA-256, as modern docker),
//! shown as 12 in tables; any unique prefix names the thing. Every id read from disk or from a
//! user goes through [`validate`] before a path is built from it.

use crate::error::{Error, Result};

/// Length of a full id.
pub const ID_LEN: usize = 64;
/// Length of an id in tables.
pub const SHORT_LEN: usize = 12;

/// A fresh random id.
pub fn generate() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::new(
            crate::error::ErrorKind::Io,
            format!("reading random bytes: {e}"),
        )
    })?;
    Ok(hex(&bytes))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// True when `s` is a full id: exactly 64 lowercase hex characters.
pub fn is_id(s: &str) -> bool {
    s.len() == ID_LEN && is_hex(s)
}

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Check that `s` is a full id; `what` names the kind of id in the error
/// (`image id "../x" is invalid`).
pub fn validate(what: &str, s: &str) -> Result<()> {
    if is_id(s) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} id {s:?} is invalid (want {ID_LEN} lowercase hex characters)"
        )))
    }
}

/// The first 12 characters of an id, as tables show it.
pub fn short(id: &str) -> &str {
    &id[..id.len().min(SHORT_LEN)]
}

/// True when `s` could be a prefix of an id (non-empty, hex, not longer than an id).
pub fn is_prefix(s: &str) -> bool {
    !s.is_empty() && s.len() <= ID_LEN && is_hex(s)
}

/// Resolve `name` against `ids` as a full id or a unique prefix. `Ok(None)` when nothing
/// matches; an ambiguous prefix is an error that says so.
pub fn resolve_prefix<'a, I>(what: &str, name: &str, ids: I) -> Result<Option<String>>
where
    I: IntoIterator<Item = &'a String>,
{
    if !is_prefix(name) {
        return Ok(None);
    }
    let mut found: Option<&String> = None;
    for id in ids {
        if id == name {
            return Ok(Some(id.clone()));
        }
        if id.starts_with(name) {
            if found.is_some() {
                return Err(Error::invalid(format!(
                    "{what} id prefix {name:?} is ambiguous: it matches more than one {what}"
                )));
            }
            found = Some(id);
        }
    }
    Ok(found.cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert!(is_id(&a) && is_id(&b));
        assert_ne!(a, b);
        assert_eq!(short(&a).len(), 12);
    }

    #[test]
    fn hostile_ids_are_refused() {
        for bad in ["", "../../x", &"A".repeat(64), &"a".repeat(63), "a/b"] {
            assert!(validate("image", bad).is_err(), "{bad}");
        }
        let e = validate("image", "../x").unwrap_err();
        assert!(e.message().contains("image id \"../x\" is invalid"));
    }

    #[test]
    fn prefixes_resolve_uniquely() {
        let ids = vec![
            format!("ab{}", "0".repeat(62)),
            format!("ac{}", "0".repeat(62)),
        ];
        assert_eq!(
            resolve_prefix("container", "ab", &ids).unwrap(),
            Some(ids[0].clone())
        );
        assert!(resolve_prefix("container", "a", &ids).is_err());
        assert_eq!(resolve_prefix("container", "ff", &ids).unwrap(), None);
        assert_eq!(resolve_prefix("container", "busybox", &ids).unwrap(), None);
    }
}
