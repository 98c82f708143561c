//! The synchronisation the engine uses: the standard library's, or loom's when
//! the engine is model-checked (`RUSTFLAGS="--cfg camb_loom"`, scripts/loom.sh), so
//! that the model runs this very code. Loom has no `Weak`, so reference counts
//! stay the standard library's in the model too: the locks, condition variables
//! and threads that order one job's handling against another's are loom's.

pub(crate) use std::sync::{Arc, Weak};

#[cfg(camb_loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(camb_loom)]
pub(crate) use loom::thread::JoinHandle;

#[cfg(not(camb_loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(camb_loom))]
pub(crate) use std::thread::JoinHandle;

/// Locks `mutex`. Every lock of the engine guards plain data that a panic cannot
/// leave half-changed (steps run outside the locks), so a poisoned lock is used
/// as it is.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits on `condvar`, as [`lock`] does with poisoning.
pub(crate) fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar
        .wait(guard)
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits on `condvar` for at most `timeout`, as [`lock`] does with poisoning.
pub(crate) fn wait_timeout<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
) -> MutexGuard<'a, T> {
    match condvar.wait_timeout(guard, timeout) {
        Ok((guard, _)) => guard,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

/// Starts a named thread. Under test, [`spawn_fault`] makes it fail as a process
/// at its thread limit would (CI runs as root, where RLIMIT_NPROC does not bind).
pub(crate) fn spawn(
    name: String,
    body: impl FnOnce() + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    #[cfg(all(test, not(camb_loom)))]
    if spawn_fault::should_fail() {
        return Err(std::io::Error::from_raw_os_error(libc::EAGAIN));
    }
    #[cfg(camb_loom)]
    {
        let _ = name;
        Ok(loom::thread::spawn(body))
    }
    #[cfg(not(camb_loom))]
    std::thread::Builder::new().name(name).spawn(body)
}

/// The tests' switch for thread starts that fail.
#[cfg(all(test, not(camb_loom)))]
pub(crate) mod spawn_fault {
    use std::cell::Cell;

    thread_local! {
        /// Starts allowed before they fail; `None`: never fail.
        static ALLOWED: Cell<Option<usize>> = const { Cell::new(None) };
    }

    /// On this thread, the next `allowed` thread starts succeed and the ones
    /// after fail; `None` lifts it.
    pub(crate) fn fail_spawns_after(allowed: Option<usize>) {
        ALLOWED.with(|cell| cell.set(allowed));
    }

    pub(super) fn should_fail() -> bool {
        ALLOWED.with(|cell| match cell.get() {
            None => false,
            Some(0) => true,
            Some(n) => {
                cell.set(Some(n - 1));
                false
            }
        })
    }
}
