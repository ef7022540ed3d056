//! Names of repositories and tags, validated before they reach the tag store or a registry:
//! `[host[:port]/]path[/path...][:tag]`, with path components of lowercase letters, digits and
//! single separators (`.`, `_`, `__`, `-`), as docker's reference grammar has them.

use crate::error::{Error, Result};

/// The tag used when a name has none.
pub const DEFAULT_TAG: &str = "latest";

const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

fn is_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or any number of "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Split a repository name into its registry host (when the first component looks like one:
/// it has a `.` or a `:`, or is `localhost`) and its path.
pub fn split_domain(repo: &str) -> (Option<&str>, &str) {
    match repo.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first), rest)
        }
        _ => (None, repo),
    }
}

/// Check a repository name (no tag).
pub fn validate_repo(repo: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid(format!(
            "invalid repository name {repo:?}: {why}"
        )))
    };
    if repo.is_empty() {
        return bad("it is empty");
    }
    if repo.len() > MAX_NAME_LEN {
        return bad("longer than 255 characters");
    }
    if crate::ids::is_id(repo) {
        return bad("a 64-character hex string is an image id, not a name");
    }
    let (domain, path) = split_domain(repo);
    if let Some(d) = domain {
        if !is_domain(d) {
            return bad("the registry host is malformed");
        }
    }
    if !path.split('/').all(is_component) {
        return bad("use lowercase letters, digits and single separators (. _ __ -) between them");
    }
    Ok(())
}

/// Check a tag: a letter, digit or `_`, then up to 127 of those, `.` and `-`.
pub fn validate_tag(tag: &str) -> Result<()> {
    let b = tag.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let ok = !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid tag {tag:?}: use up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"
        )))
    }
}

/// Split `NAME[:TAG]` (the tag's colon is the last one after the last `/`, so `host:5000/x`
/// has no tag). Does not validate.
pub fn split_tag(name: &str) -> (&str, Option<&str>) {
    let slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], Some(&name[slash + i + 1..])),
        None => (name, None),
    }
}

/// Parse and validate `NAME[:TAG]`, defaulting the tag to `latest`.
pub fn parse_repo_tag(name: &str) -> Result<(String, String)> {
    let (repo, tag) = split_tag(name);
    validate_repo(repo)?;
    let tag = tag.unwrap_or(DEFAULT_TAG);
    validate_tag(tag)?;
    Ok((repo.to_string(), tag.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names() {
        for n in [
            "busybox",
            "library/busybox",
            "localhost:5000/a/b",
            "my.registry.io/team/app-1",
            "a__b",
            "a--b",
            "127.0.0.1:5000/x",
        ] {
            validate_repo(n).unwrap();
        }
    }

    #[test]
    fn bad_names() {
        for n in [
            "", "Busybox", "a/../b", "a//b", "-a", "a.", "../x", "a b", "a/.b", "a_-b",
        ] {
            assert!(validate_repo(n).is_err(), "{n}");
        }
        assert!(validate_repo(&"a".repeat(64).replace('a', "f")).is_err());
    }

    #[test]
    fn tags() {
        validate_tag("latest").unwrap();
        validate_tag("v1.0_rc-2").unwrap();
        for t in ["", ".x", "-x", "a/b", "a:b", &"x".repeat(129)] {
            assert!(validate_tag(t).is_err(), "{t}");
        }
    }

    #[test]
    fn tag_split_respects_ports() {
        assert_eq!(split_tag("busybox"), ("busybox", None));
        assert_eq!(split_tag("busybox:1"), ("busybox", Some("1")));
        assert_eq!(split_tag("host:5000/x"), ("host:5000/x", None));
        assert_eq!(split_tag("host:5000/x:t"), ("host:5000/x", Some("t")));
        assert_eq!(
            parse_repo_tag("busybox").unwrap(),
            ("busybox".into(), "latest".into())
        );
    }
}
