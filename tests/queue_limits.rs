//! A queue needs a descriptor: at the process's limit of open files (EMFILE) its
//! making fails with a clear CAMB_RESULT_IO, nothing is left behind, and it works
//! again once a descriptor is free. A binary of its own: it lowers the process's
//! limit for a moment.

mod common;

use std::ptr;

use camb::ffi::queue::*;
use camb::ffi::result_code::camb_result;
use common::*;

#[test]
fn a_queue_at_the_open_file_limit_is_a_clear_io_error() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid rlimit to fill.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    // A descriptor gets the lowest free number: once this one is open, every
    // number up to it is taken, and a limit just above it refuses the next one
    // (root is bound by RLIMIT_NOFILE too).
    let last = std::fs::File::open("/dev/null").unwrap();
    let highest = std::os::fd::AsRawFd::as_raw_fd(&last) as u64;
    let lowered = libc::rlimit {
        rlim_cur: highest + 1,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: a valid rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
    let mut queue = ptr::null_mut();
    // SAFETY: a writable out-pointer.
    let made = unsafe { camb_queue_new(&mut queue) };
    let message = last_error();
    // SAFETY: the limit as it was.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    assert_eq!(made, camb_result::Io, "{message}");
    assert!(queue.is_null(), "nothing written on failure");
    assert!(
        message.contains("readiness descriptor") && message.contains("Too many open files"),
        "{message}"
    );
    drop(last);
    // With descriptors to spare again, a queue is made as usual.
    // SAFETY: a writable out-pointer; the queue is freed once.
    unsafe {
        assert_eq!(camb_queue_new(&mut queue), camb_result::Ok);
        assert!(camb_queue_fd(queue) >= 0);
        camb_queue_free(queue);
    }
}
