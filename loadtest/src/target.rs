//! The `--url` of the server under test, and the rule that it is on this machine.
//!
//! permit-load is for testing our own servers here: only `http://` (HTTP/1.1, default port 80)
//! and `redis://` (RESP, default port 6379) on the loopback range (`127.0.0.0/8`, `[::1]`,
//! `localhost`, taken as 127.0.0.1 without asking a resolver) are accepted. Any other host is
//! refused before a single packet is sent. The URL names the server only: the workload picks
//! every path or key, so a path other than `/` is refused too, and so is user info (no
//! passwords on a command line).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The wire protocol spoken to the server; the URL scheme names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Protocol {
    /// HTTP/1.1 keep-alive GETs (`http://`).
    #[default]
    Http,
    /// Redis RESP `GET key` commands (`redis://`); see [`crate::resp`].
    Redis,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Redis => "redis",
        }
    }

    /// The URL scheme with its `://`.
    pub fn scheme(self) -> &'static str {
        match self {
            Protocol::Http => "http://",
            Protocol::Redis => "redis://",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Http => 80,
            Protocol::Redis => 6379,
        }
    }

    /// The URL used when `--url` is not given.
    pub fn default_url(self) -> &'static str {
        match self {
            Protocol::Http => "http://127.0.0.1:8080",
            Protocol::Redis => "redis://127.0.0.1:6379",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What the server speaks (from the URL scheme).
    pub protocol: Protocol,
    /// Where to connect.
    pub addr: SocketAddr,
    /// The `Host` header value (`127.0.0.1:8080`).
    pub host_header: String,
    /// The URL as normalised for reports (`http://127.0.0.1:8080`, `redis://127.0.0.1:6379`).
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("url {0:?}: only http:// and redis:// are supported")]
    Scheme(String),
    #[error("url {0:?}: expected http://HOST:PORT or redis://HOST:PORT")]
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
        let protocol = [Protocol::Http, Protocol::Redis].into_iter().find(|p| {
            url.get(..p.scheme().len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p.scheme()))
        });
        let rest = match protocol {
            Some(p) => &url[p.scheme().len()..],
            None if url.contains("://") => return Err(TargetError::Scheme(url.to_owned())),
            None => return Err(malformed()),
        };
        let protocol = protocol.expect("matched above");
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
            None => protocol.default_port(),
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
            protocol,
            addr: SocketAddr::new(ip, port),
            url: format!("{}{host_header}", protocol.scheme()),
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
        assert_eq!(l.protocol, Protocol::Http);
    }

    #[test]
    fn redis_urls_name_the_redis_protocol() {
        // Proves redis:// is accepted under the same loopback rule, with port 6379 by default.
        let t = Target::parse("redis://127.0.0.1:6380").unwrap();
        assert_eq!(t.protocol, Protocol::Redis);
        assert_eq!(t.addr, "127.0.0.1:6380".parse().unwrap());
        assert_eq!(t.url, "redis://127.0.0.1:6380");
        let d = Target::parse("REDIS://localhost/").unwrap();
        assert_eq!(d.addr, "127.0.0.1:6379".parse().unwrap());
        assert_eq!(Protocol::Redis.default_url(), "redis://127.0.0.1:6379");
        assert_eq!(
            Target::parse(Protocol::Redis.default_url())
                .unwrap()
                .protocol,
            Protocol::Redis
        );
        assert!(matches!(
            Target::parse("redis://10.0.0.1:6379"),
            Err(TargetError::NotLoopback(_))
        ));
        assert!(matches!(
            Target::parse("redis://:secret@127.0.0.1:6379"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("redis://127.0.0.1:6379/0"),
            Err(TargetError::Path(_))
        ));
        assert!(matches!(
            Target::parse("rediss://127.0.0.1:6379"),
            Err(TargetError::Scheme(_))
        ));
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
