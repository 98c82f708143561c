//! Name resolution without a thread or a DNS lookup per call.
//!
//! ureq's default resolver looks the host up on every call, and when any timeout
//! covers the lookup it does so on a new thread (ureq 3.5, `resolver.rs`). A client
//! here talks to one origin, so this resolver parses IP literals directly and keeps
//! the addresses of a name for [`CACHE_TTL`], delegating only cache misses to ureq.

use std::net::{IpAddr, SocketAddr};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long resolved addresses are reused. Short enough to follow a DNS change
/// within a minute, long enough that polling never waits on DNS.
const CACHE_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct CachingResolver {
    fallback: DefaultResolver,
    cache: RwLock<Option<CacheEntry>>,
    /// Lookups handed to ureq's resolver (cache misses), for tests and diagnostics.
    lookups: AtomicU64,
}

#[derive(Debug)]
struct CacheEntry {
    host_port: (String, u16),
    addrs: Vec<SocketAddr>,
    expires: Instant,
}

impl CachingResolver {
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    fn to_resolved(&self, addrs: &[SocketAddr]) -> ResolvedSocketAddrs {
        let mut out = self.empty();
        for addr in addrs {
            out.push(*addr);
        }
        out
    }

    fn cached(&self, host: &str, port: u16) -> Option<ResolvedSocketAddrs> {
        let guard = self
            .cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = guard.as_ref()?;
        (entry.host_port.0 == host && entry.host_port.1 == port && entry.expires > Instant::now())
            .then(|| self.to_resolved(&entry.addrs))
    }
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let (Some(host), Some(scheme)) = (uri.host(), uri.scheme_str()) else {
            return self.fallback.resolve(uri, config, timeout);
        };
        let default_port = if scheme == "https" { 443 } else { 80 };
        let port = uri.port_u16().unwrap_or(default_port);
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare_host.parse::<IpAddr>() {
            return Ok(self.to_resolved(&[SocketAddr::new(ip, port)]));
        }
        if let Some(addrs) = self.cached(host, port) {
            return Ok(addrs);
        }
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let resolved = self.fallback.resolve(uri, config, timeout)?;
        let entry = CacheEntry {
            host_port: (host.to_owned(), port),
            addrs: resolved.iter().copied().collect(),
            expires: Instant::now() + CACHE_TTL,
        };
        *self
            .cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(entry);
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(resolver: &CachingResolver, url: &str) -> Vec<SocketAddr> {
        let uri: Uri = url.parse().unwrap();
        resolver
            .resolve(&uri, &Config::default(), NextTimeout::default())
            .unwrap()
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn ip_literals_need_no_lookup() {
        let resolver = CachingResolver::default();
        assert_eq!(
            resolve(&resolver, "http://127.0.0.1:8080/x"),
            ["127.0.0.1:8080".parse().unwrap()]
        );
        assert_eq!(
            resolve(&resolver, "https://[::1]/x"),
            ["[::1]:443".parse().unwrap()]
        );
        assert_eq!(resolver.lookups(), 0);
    }

    #[test]
    fn a_name_is_looked_up_once_then_cached() {
        let resolver = CachingResolver::default();
        let first = resolve(&resolver, "http://localhost:8080/a");
        assert!(
            !first.is_empty()
                && first
                    .iter()
                    .all(|a| a.port() == 8080 && a.ip().is_loopback())
        );
        for _ in 0..100 {
            assert_eq!(resolve(&resolver, "http://localhost:8080/b"), first);
        }
        assert_eq!(resolver.lookups(), 1);
        // Another port is another entry.
        resolve(&resolver, "http://localhost:9090/");
        assert_eq!(resolver.lookups(), 2);
    }
}
