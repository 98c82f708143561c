//! The two URLs a client is given: the API's base URL and a proxy's. Parsed here,
//! strictly, into the parts the client needs; anything else is refused, so
//! nothing unexpected (a space, a CR, a user name, a query) can reach a request.

use std::net::IpAddr;

use zeroize::Zeroizing;

/// Where requests go. Parsed once, when the client is built; every request URL
/// starts with [`BaseUrl::prefix`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    /// `scheme://host[:port]/path`, the scheme in lower case, without a trailing `/`.
    pub(crate) prefix: String,
    pub(crate) tls: bool,
    /// A name, or an IP address without brackets (to tell loopback).
    host: String,
}

/// A URL that is not acceptable, and why, in words that never quote the URL
/// (a proxy URL can hold a password).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UrlError(pub(crate) &'static str);

impl BaseUrl {
    pub(crate) fn parse(url: &str) -> Result<BaseUrl, UrlError> {
        let (tls, rest) = split_scheme(url)?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err(UrlError("must not contain a user name or password"));
        }
        let (host, _port) = split_host_port(authority, if tls { 443 } else { 80 })?;
        if path.contains(['?', '#']) {
            return Err(UrlError("must not have a query or a fragment"));
        }
        if !path.bytes().all(is_target_byte) {
            return Err(UrlError(
                "has a character that is not allowed in a URL path",
            ));
        }
        let path = path.trim_end_matches('/');
        let scheme = if tls { "https://" } else { "http://" };
        let mut prefix = String::with_capacity(scheme.len() + authority.len() + path.len());
        prefix.push_str(scheme);
        prefix.push_str(authority);
        prefix.push_str(path);
        Ok(BaseUrl { prefix, tls, host })
    }

    pub(crate) fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// An HTTP CONNECT proxy, checked as strictly as the base URL. What is kept is
/// the URL itself, for ureq's [`ureq::Proxy`] to read (it percent-decodes the
/// credentials); it may hold a password, so it is zeroed when dropped and never
/// printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    url: Zeroizing<String>,
}

/// Never prints the URL: it may hold credentials.
impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProxyUrl([redacted])")
    }
}

impl ProxyUrl {
    /// `http://[user[:password]@]host[:port][/]`; the port defaults to 80.
    pub(crate) fn parse(url: &str) -> Result<ProxyUrl, UrlError> {
        let (tls, rest) = split_scheme(url)?;
        if tls {
            return Err(UrlError("must start with http://"));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(UrlError("must be only a host and a port"));
        }
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        split_host_port(host_port, 80)?;
        if let Some(userinfo) = userinfo {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            check_percent_encoding(user)?;
            check_percent_encoding(password)?;
        }
        Ok(ProxyUrl {
            url: Zeroizing::new(url.to_owned()),
        })
    }

    /// The password, as written and percent-decoded: texts a log line must never
    /// hold.
    pub(crate) fn secrets(&self) -> Vec<Zeroizing<String>> {
        let Some(rest) = self.url.get("http://".len()..) else {
            return Vec::new();
        };
        let Some((userinfo, _)) = rest.rsplit_once('@') else {
            return Vec::new();
        };
        let password = userinfo.split_once(':').map_or("", |(_, p)| p);
        let mut secrets = vec![Zeroizing::new(password.to_owned())];
        if let Ok(proxy) = self.to_ureq() {
            secrets.extend(proxy.password().map(|p| Zeroizing::new(p.to_owned())));
        }
        secrets
    }

    /// The proxy as ureq takes it.
    pub(crate) fn to_ureq(&self) -> Result<ureq::Proxy, UrlError> {
        ureq::Proxy::new(&self.url).map_err(|_| UrlError("cannot be used as a proxy"))
    }
}

/// `http://` or `https://` (any case), and what follows it.
fn split_scheme(url: &str) -> Result<(bool, &str), UrlError> {
    for (scheme, tls) in [("https://", true), ("http://", false)] {
        // Bytes, not a str slice: the URL may start with a multi-byte character.
        let prefix = url.as_bytes().get(..scheme.len());
        if prefix.is_some_and(|p| p.eq_ignore_ascii_case(scheme.as_bytes())) {
            // The matched prefix is ASCII, so this is a character boundary.
            return Ok((tls, &url[scheme.len()..]));
        }
    }
    Err(UrlError("must be an absolute http:// or https:// URL"))
}

/// `name`, `1.2.3.4` or `[v6]`, then an optional `:port`.
fn split_host_port(authority: &str, default_port: u16) -> Result<(String, u16), UrlError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or(UrlError("has an IPv6 address without its closing bracket"))?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(UrlError("has an IPv6 address that is not valid"));
        }
        match after {
            "" => (v6, None),
            _ => (
                v6,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or(UrlError("has junk after its host"))?,
                ),
            ),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError("has no host"));
    }
    let name_ok = host.contains(':') // an IPv6 address, checked above
        || host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !name_ok {
        return Err(UrlError(
            "has a host name with a character that is not allowed",
        ));
    }
    let port = match port {
        None => default_port,
        Some(digits) => {
            let valid = !digits.is_empty()
                && digits.len() <= 5
                && digits.bytes().all(|b| b.is_ascii_digit());
            match digits.parse::<u16>() {
                Ok(port) if valid && port != 0 => port,
                _ => return Err(UrlError("has a port that is not a number from 1 to 65535")),
            }
        }
    };
    Ok((host.to_owned(), port))
}

/// A byte that may appear in a request target as sent: visible ASCII (the
/// `%XX` escapes of anything else are the caller's to write).
fn is_target_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
        && !matches!(
            b,
            b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
        )
}

/// Checks that every `%` starts a `%XX` escape and that the decoded text is
/// UTF-8: credentials that cannot be decoded are refused here, not sent garbled.
fn check_percent_encoding(text: &str) -> Result<(), UrlError> {
    let bad = UrlError("has credentials that are not valid percent-encoded UTF-8");
    let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
    let bytes = text.as_bytes();
    // Zeroed when dropped: these are credentials.
    let mut decoded = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let (Some(high), Some(low)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                return Err(bad);
            };
            // Two hex digits: at most 255.
            decoded.push((high * 16 + low) as u8);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    std::str::from_utf8(&decoded).map(drop).map_err(|_| bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let url = BaseUrl::parse("https://client.camb.ai/apis/").unwrap();
        assert_eq!(
            url,
            BaseUrl {
                prefix: "https://client.camb.ai/apis".into(),
                tls: true,
                host: "client.camb.ai".into(),
            }
        );
        let url = BaseUrl::parse("HTTP://[::1]:8080").unwrap();
        assert_eq!((url.tls, url.host.as_str()), (false, "::1"));
        assert!(url.is_loopback());
        assert_eq!(url.prefix, "http://[::1]:8080");
        let url = BaseUrl::parse("https://h:8443/a/b//").unwrap();
        assert_eq!(url.prefix, "https://h:8443/a/b");
        for bad in [
            "",
            "client.camb.ai",
            "ftp://h/",
            "https://",
            "https:///x",
            "https://h:/x",
            "https://h:0/",
            "https://h:65536/",
            "https://h:+1/",
            "https://h/x?y=1",
            "https://h/x#f",
            "https://u:p@h/",
            "https://ho st/",
            "https://h/a b",
            "https://h/a\r\nX: y",
            "https://h/\u{e9}",
            "https://[::1/",
            "https://[nope]/",
            "https://[::1]x/",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
            "htt\u{e9}://h/",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn proxy_urls() {
        let proxy = ProxyUrl::parse("http://a%40b:p%3Aw%25@127.0.0.1:3128/").unwrap();
        assert!(!format!("{proxy:?}").contains("p%3Aw"));
        let proxy = proxy.to_ureq().unwrap();
        assert_eq!((proxy.host(), proxy.port()), ("127.0.0.1", 3128));
        assert_eq!(
            (proxy.username(), proxy.password()),
            (Some("a@b"), Some("p:w%"))
        );
        let proxy = ProxyUrl::parse("http://[::1]").unwrap().to_ureq().unwrap();
        assert_eq!((proxy.host(), proxy.port()), ("[::1]", 80));
        for bad in [
            "https://h:1",
            "http://h:1/p",
            "http://h:1/?q",
            "http://u:%ff@h:1",
            "http://u:%4@h:1",
            "http://u:%+1@h:1",
            "http://@",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            assert!(ProxyUrl::parse(bad).is_err(), "{bad:?}");
        }
    }
}
