//! Mount propagation words of a runtime spec (`linux.rootfsPropagation`, a bind mount's
//! options) as the helper's mount flags, with runc's and crun's meaning: `shared`, `slave`,
//! `private`, `unbindable`, and their `r` forms, which apply to every mount of the tree.
//!
//! The safe default stays: without a word, a bind is private (nothing mounted under it on
//! either side reaches the other) and so is the container's root tree.

use crate::error::{Error, Result};

/// The propagation words and their mount flag (`MS_SHARED`, ...).
const WORDS: &[(&str, u64)] = &[
    ("shared", libc::MS_SHARED),
    ("slave", libc::MS_SLAVE),
    ("private", libc::MS_PRIVATE),
    ("unbindable", libc::MS_UNBINDABLE),
];

/// The mount flag of a propagation word and whether it is an `r` (recursive) form; `None` for
/// a word that is none.
pub fn word(w: &str) -> Option<(u64, bool)> {
    let (base, recursive) = match w.strip_prefix('r') {
        Some(rest) if WORDS.iter().any(|(n, _)| *n == rest) => (rest, true),
        _ => (w, false),
    };
    WORDS
        .iter()
        .find(|(n, _)| *n == base)
        .map(|&(_, flag)| (flag, recursive))
}

/// Every propagation word, as the `features` document lists them.
pub fn all_words() -> Vec<String> {
    WORDS
        .iter()
        .flat_map(|(n, _)| [n.to_string(), format!("r{n}")])
        .collect()
}

fn unknown_root(p: &str) -> Error {
    Error::invalid(format!(
        "unknown rootfsPropagation {p:?}: expected shared, slave, private or unbindable, or \
         one of them with an r in front (rshared, ...)"
    ))
}

/// `linux.rootfsPropagation` as the flags the helper applies to the container's root once
/// everything is mounted in it (`MS_REC` for an `r` form), as runc does after `pivot_root`;
/// `0` for none, `private` or `rprivate`: the root tree is made private before anything is
/// mounted in it, whatever the spec says, so that the host's mounts never reach the container
/// through its root file system.
pub fn root(p: Option<&str>) -> Result<u64> {
    let Some(p) = p.filter(|p| !p.is_empty()) else {
        return Ok(0);
    };
    let (flag, recursive) = word(p).ok_or_else(|| unknown_root(p))?;
    if flag == libc::MS_PRIVATE {
        return Ok(0);
    }
    Ok(flag | if recursive { libc::MS_REC } else { 0 })
}

/// How connected a propagation is: private and unbindable (0), slave (1), shared (2).
fn rank(flag: u64) -> u8 {
    match flag {
        libc::MS_SHARED => 2,
        libc::MS_SLAVE => 1,
        _ => 0,
    }
}

/// The most a bind may keep of its relation with the host's mount of its source, given
/// `linux.rootfsPropagation` (runc's meaning): runc makes the namespace's mounts, the binds'
/// sources, `rslave` (its default) or the `rootfsPropagation` before it binds them, so a bind
/// is at most a slave of the host's mount unless the root is `shared`, and private when the
/// root is `private` or `unbindable`. (runc's plain forms change only the namespace's `/`
/// mount, so how they limit a bind depends on where its source is mounted; here the plain
/// form limits as the `r` form does.) `MS_SHARED`, `MS_SLAVE` or `MS_PRIVATE`.
pub fn bind_limit(root: Option<&str>) -> Result<u64> {
    let Some(p) = root.filter(|p| !p.is_empty()) else {
        return Ok(libc::MS_SLAVE);
    };
    match word(p) {
        Some((libc::MS_SHARED, _)) => Ok(libc::MS_SHARED),
        Some((libc::MS_SLAVE, _)) => Ok(libc::MS_SLAVE),
        Some(_) => Ok(libc::MS_PRIVATE),
        None => Err(unknown_root(p)),
    }
}

/// A bind's propagation: (flag of its top mount, flag of every mount of its tree), from the
/// one propagation word among `opts` (none: private), no more connected than `limit` (see
/// [`bind_limit`]). An `r` form applies to the whole tree; a plain one to the top mount, the
/// mounts below it getting the safe form of the same kind: slaves under a `shared` or `slave`
/// top (they receive the host's mounts, never send), private under a `private` or
/// `unbindable` one. Two different words are an error.
pub fn bind(dst: &str, opts: &[String], limit: u64) -> Result<(u64, u64)> {
    let mut found: Option<&str> = None;
    for o in opts.iter().map(String::as_str) {
        if word(o).is_none() {
            continue;
        }
        match found {
            Some(f) if f != o => {
                return Err(Error::invalid(format!(
                    "the bind mount on {dst} has two propagation options, {f:?} and {o:?}"
                )))
            }
            _ => found = Some(o),
        }
    }
    let Some((flag, recursive)) = found.and_then(word) else {
        return Ok((libc::MS_PRIVATE, libc::MS_PRIVATE));
    };
    let below = match flag {
        _ if recursive => flag,
        libc::MS_SHARED | libc::MS_SLAVE => libc::MS_SLAVE,
        _ => libc::MS_PRIVATE,
    };
    let limited = |f: u64| if rank(f) > rank(limit) { limit } else { f };
    Ok((limited(flag), limited(below)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use libc::{MS_PRIVATE, MS_REC, MS_SHARED, MS_SLAVE, MS_UNBINDABLE};

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn words_have_their_flags() {
        assert_eq!(word("rslave"), Some((MS_SLAVE, true)));
        assert_eq!(word("shared"), Some((MS_SHARED, false)));
        assert_eq!(word("runbindable"), Some((MS_UNBINDABLE, true)));
        assert_eq!(word("rbind"), None);
        assert_eq!(word("rr"), None);
        assert_eq!(word("rrshared"), None);
        assert_eq!(all_words().len(), 8);
    }

    #[test]
    fn root_propagation_is_applied_unless_private() {
        assert_eq!(root(None).unwrap(), 0);
        assert_eq!(root(Some("")).unwrap(), 0);
        assert_eq!(root(Some("rprivate")).unwrap(), 0);
        assert_eq!(root(Some("private")).unwrap(), 0);
        assert_eq!(root(Some("rslave")).unwrap(), MS_SLAVE | MS_REC);
        assert_eq!(root(Some("shared")).unwrap(), MS_SHARED);
        let e = root(Some("rshard")).unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown rootfsPropagation \"rshard\""),
            "{e}"
        );
    }

    #[test]
    fn bind_propagation_top_and_below() {
        let p = |o: &[&str]| bind("/d", &opts(o), MS_SHARED).unwrap();
        assert_eq!(p(&["rbind", "ro"]), (MS_PRIVATE, MS_PRIVATE));
        assert_eq!(p(&["rbind", "rprivate"]), (MS_PRIVATE, MS_PRIVATE));
        assert_eq!(p(&["rbind", "rslave"]), (MS_SLAVE, MS_SLAVE));
        assert_eq!(p(&["rbind", "rshared"]), (MS_SHARED, MS_SHARED));
        assert_eq!(p(&["rbind", "shared"]), (MS_SHARED, MS_SLAVE));
        assert_eq!(p(&["bind", "unbindable"]), (MS_UNBINDABLE, MS_PRIVATE));
        assert_eq!(p(&["rslave", "rslave"]), (MS_SLAVE, MS_SLAVE));
        // Limited by the root's propagation, as runc's binds are.
        assert_eq!(bind_limit(None).unwrap(), MS_SLAVE);
        assert_eq!(bind_limit(Some("rshared")).unwrap(), MS_SHARED);
        assert_eq!(bind_limit(Some("slave")).unwrap(), MS_SLAVE);
        assert_eq!(bind_limit(Some("runbindable")).unwrap(), MS_PRIVATE);
        assert!(bind_limit(Some("bogus")).is_err());
        let limited = |o: &[&str], l| bind("/d", &opts(o), l).unwrap();
        assert_eq!(limited(&["rshared"], MS_SLAVE), (MS_SLAVE, MS_SLAVE));
        assert_eq!(limited(&["rslave"], MS_PRIVATE), (MS_PRIVATE, MS_PRIVATE));
        assert_eq!(
            limited(&["runbindable"], MS_PRIVATE),
            (MS_UNBINDABLE, MS_UNBINDABLE)
        );
        assert_eq!(limited(&["shared"], MS_SLAVE), (MS_SLAVE, MS_SLAVE));
        let e = bind("/d", &opts(&["rbind", "rslave", "private"]), MS_SHARED).unwrap_err();
        assert!(
            e.to_string()
                .contains("on /d has two propagation options, \"rslave\" and \"private\""),
            "{e}"
        );
    }
}
