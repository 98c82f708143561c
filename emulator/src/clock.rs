//! The system-wide monotonic clock, in nanoseconds.
//!
//! `std::time::Instant` cannot be read as a number, and its epoch is private to this
//! process. On Unix, `clock_gettime(CLOCK_MONOTONIC)` is the same clock in every process
//! on the machine, so a benchmark written in C can compare a time recorded here (e.g.
//! `TtsStream::first_chunk_at_ns`) with its own readings.

/// `CLOCK_MONOTONIC` now, in nanoseconds (0 if the clock cannot be read, which Linux
/// and macOS never do for this clock).
#[cfg(unix)]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC is always supported.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return 0;
    }
    u64::try_from(ts.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(ts.tv_nsec).unwrap_or(0))
}

/// Elsewhere: nanoseconds since this process first asked, monotonic but only comparable
/// within the process.
#[cfg(not(unix))]
pub fn monotonic_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let elapsed = EPOCH.get_or_init(Instant::now).elapsed();
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}
