//! Name resolution without a thread or a DNS lookup per call.
//!
//! A client talks to one host, so IP literals are used as they are and the
//! addresses of a name are kept for [`CACHE_TTL`]. A lookup (a cache miss) runs on
//! a thread of its own, so that the call's deadline bounds it: `getaddrinfo` has
//! no timeout, and a thread stuck in it is left to finish on its own.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, mpsc};
use std::time::{Duration, Instant};

use crate::http::HttpError;

/// How long resolved addresses are reused. Short enough to follow a DNS change
/// within a minute, long enough that polling never waits on DNS.
const CACHE_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct CachingResolver {
    cache: RwLock<Option<CacheEntry>>,
    /// Lookups made (cache misses), for tests and diagnostics.
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

    /// The addresses of `host` (a name, or an IP address without brackets).
    pub(crate) fn resolve(
        &self,
        host: &str,
        port: u16,
        deadline: Instant,
    ) -> Result<Vec<SocketAddr>, HttpError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        if let Some(addrs) = self.cached(host, port) {
            return Ok(addrs);
        }
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let addrs = lookup(host, port, deadline)?;
        let entry = CacheEntry {
            host_port: (host.to_owned(), port),
            addrs: addrs.clone(),
            expires: Instant::now() + CACHE_TTL,
        };
        *self
            .cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(entry);
        Ok(addrs)
    }

    fn cached(&self, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        let guard = self
            .cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = guard.as_ref()?;
        (entry.host_port.0 == host && entry.host_port.1 == port && entry.expires > Instant::now())
            .then(|| entry.addrs.clone())
    }
}

/// `getaddrinfo` on a thread, waited for until `deadline`.
fn lookup(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, HttpError> {
    let (sender, receiver) = mpsc::sync_channel(1);
    let name = host.to_owned();
    std::thread::Builder::new()
        .name("camb-resolve".into())
        .spawn(move || {
            let result = (name.as_str(), port)
                .to_socket_addrs()
                .map(Iterator::collect::<Vec<_>>);
            // The caller may have given up: nobody to tell then.
            let _ = sender.send(result);
        })
        .map_err(|e| HttpError::Resolve(format!("cannot start a thread to look it up: {e}")))?;
    let left = deadline.saturating_duration_since(Instant::now());
    match receiver.recv_timeout(left) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(HttpError::Resolve(format!("{host} has no address"))),
        Ok(Err(e)) => Err(HttpError::Resolve(format!("{host}: {e}"))),
        Err(_) => Err(HttpError::Timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(resolver: &CachingResolver, host: &str, port: u16) -> Vec<SocketAddr> {
        let deadline = Instant::now() + Duration::from_secs(10);
        resolver.resolve(host, port, deadline).unwrap()
    }

    #[test]
    fn ip_literals_need_no_lookup() {
        let resolver = CachingResolver::default();
        assert_eq!(
            resolve(&resolver, "127.0.0.1", 8080),
            ["127.0.0.1:8080".parse().unwrap()]
        );
        assert_eq!(
            resolve(&resolver, "::1", 443),
            ["[::1]:443".parse().unwrap()]
        );
        assert_eq!(resolver.lookups(), 0);
    }

    #[test]
    fn a_name_is_looked_up_once_then_cached() {
        let resolver = CachingResolver::default();
        let first = resolve(&resolver, "localhost", 8080);
        assert!(
            !first.is_empty()
                && first
                    .iter()
                    .all(|a| a.port() == 8080 && a.ip().is_loopback())
        );
        for _ in 0..100 {
            assert_eq!(resolve(&resolver, "localhost", 8080), first);
        }
        assert_eq!(resolver.lookups(), 1);
        // Another port is another entry.
        resolve(&resolver, "localhost", 9090);
        assert_eq!(resolver.lookups(), 2);
    }

    #[test]
    fn an_unknown_name_is_a_resolve_error() {
        let resolver = CachingResolver::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        // .invalid never resolves (RFC 6761); no query leaves the machine for it
        // when the resolver honours that, and there is no network here anyway.
        let err = resolver
            .resolve("no-such-host.invalid", 80, deadline)
            .unwrap_err();
        assert!(
            matches!(err, HttpError::Resolve(_) | HttpError::Timeout),
            "{err}"
        );
    }
}
