//! The `--url` of the server under test, and the rule that it is on this machine.
//!
//! permit-load is for testing our own server here: only `http://` on the loopback range
//! (`127.0.0.0/8`, `[::1]`, `localhost`, taken as 127.0.0.1 without asking a resolver) is
//! accepted. Any other host is refused before a single packet is sent. The URL names the server
//! only: the workload picks every path, so a path other than `/` is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The `Host` header value (`127.0.0.1:8080`).
    pub host_header: String,
    /// The URL as normalised for reports (`http://127.0.0.1:8080`).
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("url {0:?}: only http:// is supported")]
    Scheme(String),
    #[error("url {0:?}: expected http://HOST:PORT")]
    Malformed(String),
    #[error(
        "refusing to load-test {0:?}: permit-load only targets a server on this machine \
         (127.0.0.0/8, [::1] or localhost)"
    )]
    NotLoopback(String),
    #[error("url {0:?}: give no path (the workload chooses the paths)")]
    Path(String),
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let malformed = || TargetError::Malformed(url.to_owned());
        let rest = match url.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("http://") => &url[7..],
            _ if url.contains("://") => return Err(TargetError::Scheme(url.to_owned())),
            _ => return Err(malformed()),
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if !(path.is_empty() || path == "/") {
            return Err(TargetError::Path(url.to_owned()));
        }
        if authority.is_empty() || authority.contains('@') {
            return Err(malformed());
        }
        let (host, port) = split_host_port(authority).ok_or_else(malformed)?;
        let port = match port {
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(malformed)?,
        };
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            IpAddr::V6(v6.parse::<Ipv6Addr>().map_err(|_| malformed())?)
        } else if let Ok(v4) = host.parse::<Ipv4Addr>() {
            IpAddr::V4(v4)
        } else {
            return Err(TargetError::NotLoopback(host.to_owned()));
        };
        if !ip.is_loopback() {
            return Err(TargetError::NotLoopback(host.to_owned()));
        }
        let host_header = format!("{}:{port}", host.to_ascii_lowercase());
        Ok(Target {
            addr: SocketAddr::new(ip, port),
            url: format!("http://{host_header}"),
            host_header,
        })
    }
}

/// `host[:port]`, where host may be a bracketed IPv6 literal.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, after) = authority.split_at(close + 1);
        match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) if !host.is_empty() => Some((host, Some(port))),
            Some(_) => None,
            None => Some((authority, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_forms() {
        // Proves 127.x, [::1] and localhost are accepted with the right socket address.
        let t = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.host_header, "127.0.0.1:8080");
        assert_eq!(t.url, "http://127.0.0.1:8080");
        assert_eq!(Target::parse("http://127.1.2.3:1/").unwrap().addr.port(), 1);
        assert_eq!(
            Target::parse("http://[::1]:9000").unwrap().addr,
            "[::1]:9000".parse().unwrap()
        );
        let l = Target::parse("HTTP://LocalHost").unwrap();
        assert_eq!(l.addr, "127.0.0.1:80".parse().unwrap());
    }

    #[test]
    fn refuses_other_hosts() {
        // Proves any host off the loopback range, by address or by name, is refused.
        for url in [
            "http://10.0.0.1:8080",
            "http://192.168.1.5",
            "http://8.8.8.8:80",
            "http://[2001:db8::1]:80",
            "http://example.com:8080",
            "http://0.0.0.0:8080",
        ] {
            assert!(
                matches!(Target::parse(url), Err(TargetError::NotLoopback(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn refuses_bad_urls() {
        // Proves other schemes, paths, user info and bad ports are refused with their own error.
        assert!(matches!(
            Target::parse("https://127.0.0.1"),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(
            Target::parse("127.0.0.1:80"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("http://127.0.0.1/q/x"),
            Err(TargetError::Path(_))
        ));
        assert!(matches!(
            Target::parse("http://u@127.0.0.1"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("http://127.0.0.1:0"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("http://127.0.0.1:x"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("http://:80"),
            Err(TargetError::Malformed(_))
        ));
    }
}
