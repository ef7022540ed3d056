//! `run -p` arguments: `PRIVATE` (a public port is taken from the pool) or `PUBLIC:PRIVATE`.
//! TCP only, as v0.1.0.

use crate::error::{Error, Result};

/// One `-p` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortSpec {
    /// The host port the user named, or `None` for one from the pool.
    pub public: Option<u16>,
    /// The container's port.
    pub private: u16,
}

fn parse_port(spec: &str, text: &str) -> Result<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(format!(
            "invalid port {text:?} in {spec:?}: not a number"
        )));
    }
    match text.parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        _ => Err(Error::invalid(format!(
            "invalid port {text:?} in {spec:?}: a port is between 1 and 65535"
        ))),
    }
}

/// Parse `80` or `8080:80`.
pub fn parse_port_spec(s: &str) -> Result<PortSpec> {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [private] => Ok(PortSpec {
            public: None,
            private: parse_port(s, private)?,
        }),
        [public, private] => Ok(PortSpec {
            public: Some(parse_port(s, public)?),
            private: parse_port(s, private)?,
        }),
        _ => Err(Error::invalid(format!(
            "invalid port mapping {s:?}: use PRIVATE or PUBLIC:PRIVATE"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn private_and_public_private() {
        assert_eq!(
            parse_port_spec("80").unwrap(),
            PortSpec {
                public: None,
                private: 80
            }
        );
        assert_eq!(
            parse_port_spec("8080:80").unwrap(),
            PortSpec {
                public: Some(8080),
                private: 80
            }
        );
        assert_eq!(parse_port_spec("65535").unwrap().private, 65535);
    }

    #[test]
    fn bad_specs_are_clear_errors() {
        for (bad, says) in [
            ("abc", "not a number"),
            ("", "not a number"),
            ("-1", "not a number"),
            ("+80", "not a number"),
            ("80/udp", "not a number"),
            ("0", "between 1 and 65535"),
            ("70000", "between 1 and 65535"),
            ("99999999999", "between 1 and 65535"),
            ("8080:0", "between 1 and 65535"),
            (":80", "not a number"),
            ("1:2:3", "use PRIVATE or PUBLIC:PRIVATE"),
        ] {
            let e = parse_port_spec(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(e.message().contains(says), "{bad}: {}", e.message());
            assert!(e.message().contains(&format!("{bad:?}")), "{}", e.message());
        }
    }
}
