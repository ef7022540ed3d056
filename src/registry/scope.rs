//! Where a registry's credentials may go, and where its answers may lead.
//!
//! Credentials (basic, or a bearer token) go only to the registry's own origin: its scheme,
//! host and port, whatever the path (docker's authorizer likewise answers only the challenges
//! of the registry it pinged). The basic ones also go to the origin of the token realm the
//! registry's challenge names, which needs them to issue a token. A `Location` (a redirect, or
//! the next URL of an upload) may name another host, as registries send blob downloads to S3
//! or a CDN: it is followed without credentials. One that leaves https for plain http is
//! refused.

use std::fmt;

use ureq::http::Uri;

use crate::error::{Error, ErrorKind, Result};

/// The scheme, host and port of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an absolute http or https URL (the port defaults to the scheme's).
    pub fn of(url: &str) -> Result<Origin> {
        let bad = || {
            Error::new(
                ErrorKind::Remote,
                format!("{url:?} is not an http or https URL"),
            )
        };
        let uri: Uri = url.parse().map_err(|_| bad())?;
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            _ => return Err(bad()),
        };
        let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        Ok(Origin {
            https,
            host: host.to_ascii_lowercase(),
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
        })
    }

    /// True when `url` is on this origin: only then may it be sent the credentials meant for
    /// this origin.
    pub fn covers(&self, url: &str) -> bool {
        Origin::of(url).is_ok_and(|o| o == *self)
    }
}

impl fmt::Display for Origin {
    /// `scheme://host[:port]`, the port left out when it is the scheme's default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, default) = if self.https {
            ("https", 443)
        } else {
            ("http", 80)
        };
        write!(f, "{scheme}://{}", self.host)?;
        if self.port != default {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// The URL that a `Location` header leads to from `from`, the URL that answered with it: an
/// absolute URL, or a path (`/...`) or network path (`//host/...`) taken relative to `from`.
/// Leaving https for plain http is refused.
pub fn next_url(from: &str, location: &str) -> Result<String> {
    let origin = Origin::of(from)?;
    let url = if location.starts_with("//") {
        let scheme = if origin.https { "https:" } else { "http:" };
        format!("{scheme}{location}")
    } else if location.starts_with('/') {
        format!("{origin}{location}")
    } else {
        location.to_string()
    };
    let to = Origin::of(&url).map_err(|_| {
        Error::new(
            ErrorKind::Remote,
            format!("the location {location:?} given by {from} is not a URL"),
        )
    })?;
    if origin.https && !to.https {
        return Err(Error::new(
            ErrorKind::Remote,
            format!("{from} leads to {url}: leaving https for plain http is refused"),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stay_on_their_origin() {
        let reg = Origin::of("http://127.0.0.1:5000").unwrap();
        assert!(reg.covers("http://127.0.0.1:5000/v2/x/blobs/uploads/u"));
        assert!(reg.covers("HTTP://127.0.0.1:5000/other?q=1"));
        // Another port, host, name for the same address, or scheme: nothing.
        for url in [
            "http://127.0.0.1:5001/v2/x/blobs/uploads/u",
            "http://127.0.0.2:5000/v2/x/blobs/uploads/u",
            "http://localhost:5000/v2/",
            "https://127.0.0.1:5000/v2/",
            "http://127.0.0.1:5000.evil.example/v2/",
            "http://evil.example/v2/?http://127.0.0.1:5000/",
            "not a url",
        ] {
            assert!(!reg.covers(url), "{url}");
        }
        // The default port is the scheme's, written or not; host names ignore case.
        let hub = Origin::of("https://Registry-1.Docker.io").unwrap();
        assert_eq!(hub.to_string(), "https://registry-1.docker.io");
        assert!(hub.covers("https://registry-1.docker.io:443/v2/"));
        assert!(!hub.covers("http://registry-1.docker.io:443/v2/"));
        assert_eq!(reg.to_string(), "http://127.0.0.1:5000");
    }

    /// The attack: a registry on https (or whoever can set its `Location`) sends the client to
    /// plain http, where anyone on the path reads and rewrites the traffic. On main c49bff3 an
    /// upload `Location` on http was taken as is (`Client::resolve`) and ureq followed https ->
    /// http redirects. Tested here on the decision itself: the tests' registries are plain-http
    /// ones on 127.0.0.0/8, and the client trusts no test certificate authority.
    #[test]
    fn https_never_leads_to_plain_http() {
        let from = "https://reg.example/v2/x/blobs/uploads/";
        for to in [
            "http://reg.example/v2/x/blobs/uploads/u",
            "http://storage.example/blob",
            "HTTP://reg.example:443/u",
        ] {
            let e = next_url(from, to).unwrap_err();
            assert!(e.message().contains("leaving https for plain http"), "{e}");
        }
        // Another https host is followed (its origin gets no credentials); so is http -> https.
        assert_eq!(
            next_url(from, "https://cdn.example/b?sig=1").unwrap(),
            "https://cdn.example/b?sig=1"
        );
        assert_eq!(
            next_url("http://127.0.0.1:5000/v2/", "https://cdn.example/b").unwrap(),
            "https://cdn.example/b"
        );
    }

    #[test]
    fn locations_resolve_against_the_url_that_gave_them() {
        let from = "https://reg.example:5443/v2/x/blobs/uploads/";
        assert_eq!(
            next_url(from, "/v2/x/blobs/uploads/u?_state=s").unwrap(),
            "https://reg.example:5443/v2/x/blobs/uploads/u?_state=s"
        );
        assert_eq!(
            next_url(from, "//cdn.example/b").unwrap(),
            "https://cdn.example/b"
        );
        assert_eq!(
            next_url("http://127.0.0.2:80/u", "/v").unwrap(),
            "http://127.0.0.2/v"
        );
        for bad in ["uploads/u", "", "ftp://reg.example/u", "http://"] {
            let e = next_url(from, bad).unwrap_err();
            assert!(e.message().contains("is not a URL"), "{bad:?}: {e}");
        }
    }
}
