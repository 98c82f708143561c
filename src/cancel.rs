//! A cancellation flag that another thread can raise, waking a sleeping waiter at once.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Cloning shares the flag: cancel any clone and every waiter on any clone wakes.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    cancelled: Mutex<bool>,
    wake: Condvar,
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Raises the flag and wakes every thread sleeping on it.
    pub fn cancel(&self) {
        *self.lock() = true;
        self.0.wake.notify_all();
    }

    /// Lowers the flag, so the token can be used for another operation.
    pub fn reset(&self) {
        *self.lock() = false;
    }

    pub fn is_cancelled(&self) -> bool {
        *self.lock()
    }

    /// Sleeps for `duration` unless the flag is (or gets) raised; true if it was.
    /// A condition variable, not a polling loop: no CPU is spent while asleep.
    pub fn sleep(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        let mut cancelled = self.lock();
        loop {
            if *cancelled {
                return true;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            cancelled = match self.0.wake.wait_timeout(cancelled, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        // The flag is a plain bool: a panic elsewhere cannot leave it inconsistent.
        self.0
            .cancelled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Sleeps, waking early if `cancel` is raised; true if cancelled.
pub fn sleep(cancel: Option<&CancelToken>, duration: Duration) -> bool {
    match cancel {
        Some(token) => token.sleep(duration),
        None => {
            std::thread::sleep(duration);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_wakes_a_sleeper_at_once() {
        let token = CancelToken::new();
        let sleeper = {
            let token = token.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                (token.sleep(Duration::from_secs(30)), started.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        token.cancel();
        let (cancelled, slept) = sleeper.join().unwrap();
        assert!(cancelled);
        assert!(slept < Duration::from_secs(10), "{slept:?}");
    }

    #[test]
    fn sleep_runs_its_course_when_not_cancelled() {
        let token = CancelToken::new();
        let started = Instant::now();
        assert!(!token.sleep(Duration::from_millis(30)));
        assert!(started.elapsed() >= Duration::from_millis(30));
        token.cancel();
        assert!(token.is_cancelled() && token.sleep(Duration::from_secs(30)));
        token.reset();
        assert!(!token.is_cancelled());
    }
}
