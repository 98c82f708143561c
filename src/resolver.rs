//! Name resolution without a thread or a DNS lookup per call: ureq's
//! [`Resolver`] extension point (its default resolver looks the name up on every
//! new connection, on a new thread whenever a timeout is set).
//!
//! A client talks to one host, so IP literals are used as they are and the
//! addresses of a name are kept for [`CACHE_TTL`]. A lookup (a cache miss) runs on
//! a thread of its own, so that the call's deadline bounds the wait: `getaddrinfo`
//! has no timeout. Only one lookup runs at a time; callers that miss meanwhile
//! wait for it (each until its own deadline), and the thread stores what it finds
//! even when every caller has given up, so a slow DNS server is asked once, not
//! once per call.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long resolved addresses are reused. Short enough to follow a DNS change
/// within a minute, long enough that polling never waits on DNS.
const CACHE_TTL: Duration = Duration::from_secs(30);

/// Cloning shares the cache.
#[derive(Debug, Default, Clone)]
pub(crate) struct CachingResolver {
    shared: Arc<Shared>,
}

/// How a name becomes addresses: the system's `getaddrinfo`, or a test's stand-in.
type Lookup = fn(&str, u16) -> std::io::Result<Vec<SocketAddr>>;

fn system_lookup(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    (host, port).to_socket_addrs().map(Iterator::collect)
}

#[derive(Debug)]
struct Shared {
    lookup: Lookup,
    state: Mutex<State>,
    /// Signalled when a lookup ends.
    finished: Condvar,
    /// Lookups started (cache misses), for tests and diagnostics.
    lookups: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    cache: Option<CacheEntry>,
    in_flight: bool,
    /// Bumped when a lookup ends; with `last_error`, what a waiter reports.
    generation: u64,
    last_error: Option<String>,
}

#[derive(Debug)]
struct CacheEntry {
    host_port: (String, u16),
    addrs: Vec<SocketAddr>,
    expires: Instant,
}

impl State {
    fn cached(&self, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        let entry = self.cache.as_ref()?;
        (entry.host_port.0 == host && entry.host_port.1 == port && entry.expires > Instant::now())
            .then(|| entry.addrs.clone())
    }
}

impl Default for Shared {
    fn default() -> Shared {
        Shared {
            lookup: system_lookup,
            state: Mutex::default(),
            finished: Condvar::new(),
            lookups: AtomicU64::new(0),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why a name gave no address.
#[derive(Debug)]
pub(crate) enum LookupError {
    /// The caller's deadline passed first (the lookup goes on, and is kept).
    Timeout,
    /// The lookup failed, in the system's words.
    Failed(String),
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::Timeout => f.write_str("the lookup did not finish in time"),
            LookupError::Failed(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for LookupError {}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let authority = uri
            .authority()
            .ok_or_else(|| ureq::Error::BadUri(format!("{uri} has no host")))?;
        // An IPv6 address comes in brackets.
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let tls = uri.scheme_str() == Some("https");
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        // No timeout: a far deadline (the resolver's API wants one).
        let deadline = Instant::now()
            .checked_add(*timeout.after)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(24 * 60 * 60));
        let addrs = self.addresses(host, port, deadline).map_err(|e| match e {
            LookupError::Timeout => ureq::Error::Timeout(timeout.reason),
            failed => ureq::Error::Other(Box::new(failed)),
        })?;
        let mut resolved = self.empty();
        for addr in addrs.into_iter().take(MAX_ADDRESSES) {
            resolved.push(addr);
        }
        Ok(resolved)
    }
}

/// The most addresses ureq takes from a resolver.
const MAX_ADDRESSES: usize = 16;

impl CachingResolver {
    #[cfg(test)]
    fn lookups(&self) -> u64 {
        self.shared.lookups.load(Ordering::Relaxed)
    }

    /// The addresses of `host` (a name, or an IP address without brackets).
    pub(crate) fn addresses(
        &self,
        host: &str,
        port: u16,
        deadline: Instant,
    ) -> Result<Vec<SocketAddr>, LookupError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let mut state = self.shared.lock();
        if let Some(addrs) = state.cached(host, port) {
            return Ok(addrs);
        }
        if !state.in_flight {
            start_lookup(&self.shared, host, port)?;
            state.in_flight = true;
        }
        let generation = state.generation;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LookupError::Timeout);
            }
            state = self
                .shared
                .finished
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
            if state.generation == generation {
                continue; // woken early, or timed out: the loop checks
            }
            if let Some(addrs) = state.cached(host, port) {
                return Ok(addrs);
            }
            return Err(LookupError::Failed(
                state
                    .last_error
                    .clone()
                    .unwrap_or_else(|| format!("{host} has no address")),
            ));
        }
    }
}

/// Starts `getaddrinfo` on a thread that stores its answer and wakes the waiters.
fn start_lookup(shared: &Arc<Shared>, host: &str, port: u16) -> Result<(), LookupError> {
    shared.lookups.fetch_add(1, Ordering::Relaxed);
    let shared = Arc::clone(shared);
    let name = host.to_owned();
    std::thread::Builder::new()
        .name("camb-resolve".into())
        .spawn(move || {
            // Whatever happens in the lookup, waiters must be woken and the next
            // miss must be able to start a lookup: a panic is an error too.
            let lookup = shared.lookup;
            let result = std::panic::catch_unwind(|| lookup(&name, port))
                .unwrap_or_else(|_| Err(std::io::Error::other("the lookup failed")));
            let mut state = shared.lock();
            match result {
                Ok(addrs) if !addrs.is_empty() => {
                    state.cache = Some(CacheEntry {
                        host_port: (name, port),
                        addrs,
                        expires: Instant::now() + CACHE_TTL,
                    });
                    state.last_error = None;
                }
                Ok(_) => state.last_error = Some(format!("{name} has no address")),
                Err(e) => state.last_error = Some(format!("{name}: {e}")),
            }
            state.in_flight = false;
            state.generation += 1;
            shared.finished.notify_all();
        })
        .map(drop)
        .map_err(|e| LookupError::Failed(format!("cannot start a thread to look it up: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(resolver: &CachingResolver, host: &str, port: u16) -> Vec<SocketAddr> {
        let deadline = Instant::now() + Duration::from_secs(10);
        resolver.addresses(host, port, deadline).unwrap()
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
    fn threads_that_miss_together_share_one_lookup() {
        let resolver = CachingResolver::default();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| resolve(&resolver, "localhost", 7070));
            }
        });
        assert_eq!(resolver.lookups(), 1);
    }

    /// A resolver whose lookups take 300 ms and count themselves.
    fn slow_resolver() -> CachingResolver {
        fn slow(_: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
            std::thread::sleep(Duration::from_millis(300));
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        }
        CachingResolver {
            shared: Arc::new(Shared {
                lookup: slow,
                ..Shared::default()
            }),
        }
    }

    #[test]
    fn a_lookup_slower_than_the_deadline_is_still_cached() {
        let resolver = slow_resolver();
        let started = Instant::now();
        let err = resolver
            .addresses("slow.test", 80, started + Duration::from_millis(50))
            .unwrap_err();
        assert!(matches!(err, LookupError::Timeout), "{err}");
        // The caller's own deadline, not the lookup's time (generous bound).
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "{:?}",
            started.elapsed()
        );
        // The lookup finishes on its own and stores its answer: no second lookup.
        std::thread::sleep(Duration::from_millis(600));
        let addrs = resolve(&resolver, "slow.test", 80);
        assert_eq!(addrs, ["127.0.0.1:80".parse().unwrap()]);
        assert_eq!(resolver.lookups(), 1);
    }

    #[test]
    fn callers_missing_during_a_slow_lookup_wait_for_it() {
        let resolver = slow_resolver();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| assert_eq!(resolve(&resolver, "slow.test", 81).len(), 1));
            }
        });
        assert_eq!(resolver.lookups(), 1);
    }

    #[test]
    fn an_unknown_name_is_a_resolve_error() {
        let resolver = CachingResolver::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        // .invalid never resolves (RFC 6761); no query leaves the machine for it
        // when the resolver honours that, and there is no network here anyway.
        let err = resolver
            .addresses("no-such-host.invalid", 80, deadline)
            .unwrap_err();
        assert!(
            matches!(err, LookupError::Failed(_) | LookupError::Timeout),
            "{err}"
        );
    }
}
