//! A readiness handle: something an event loop can watch for reading, readable
//! exactly while a queue holds events. The one place where the platforms differ:
//! an eventfd on Linux, a pipe on other Unixes, a connected pair of loopback
//! sockets on Windows (so that `select` and `WSAPoll`, and with them Python's
//! selector loop and libuv's poll, can watch it), and a plain flag when the
//! engine is model-checked.
//!
//! Raised and lowered under the queue's lock, so readable exactly while the
//! queue has events. The handle is a pointer-sized `ptrdiff_t` in the C ABI (a
//! `SOCKET` is pointer-sized on Windows): a descriptor on
//! Unix, a `SOCKET` on Windows.

use crate::error::{Error, ErrorKind};

pub(crate) struct Readiness {
    inner: imp::Inner,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("handle", &self.handle())
            .finish()
    }
}

impl Readiness {
    /// A new handle, not readable; an error if the system has no descriptor to
    /// give (EMFILE, ENFILE).
    pub(crate) fn new() -> Result<Readiness, Error> {
        imp::Inner::new()
            .map(|inner| Readiness { inner })
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("cannot make the queue's readiness descriptor: {e}"),
                )
            })
    }

    /// The descriptor (Unix) or socket (Windows) to watch for reading.
    pub(crate) fn handle(&self) -> isize {
        self.inner.handle()
    }

    /// Makes the handle readable (already readable: nothing changes).
    pub(crate) fn raise(&self) {
        self.inner.raise();
    }

    /// Empties the handle: it is no longer readable.
    pub(crate) fn lower(&self) {
        self.inner.lower();
    }
}

/// A descriptor made only under test fails as at the process's limit.
#[cfg(all(test, not(camb_loom)))]
pub(crate) mod fault {
    use std::cell::Cell;

    thread_local! {
        static FAIL: Cell<bool> = const { Cell::new(false) };
    }

    /// On this thread, every new readiness handle fails with EMFILE while set.
    pub(crate) fn fail_new_handles(fail: bool) {
        FAIL.with(|cell| cell.set(fail));
    }

    pub(super) fn check() -> std::io::Result<()> {
        if FAIL.with(Cell::get) {
            return Err(std::io::Error::from_raw_os_error(libc::EMFILE));
        }
        Ok(())
    }
}

#[cfg(all(target_os = "linux", not(camb_loom)))]
mod imp {
    use std::io;

    /// An eventfd: 8 bytes added to a counter make it readable; a read empties it.
    pub(super) struct Inner(i32);

    impl Inner {
        pub(super) fn new() -> io::Result<Inner> {
            #[cfg(all(test, not(camb_loom)))]
            super::fault::check()?;
            // SAFETY: eventfd takes no pointers.
            let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Inner(fd))
        }

        pub(super) fn handle(&self) -> isize {
            self.0 as isize
        }

        pub(super) fn raise(&self) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live local value. A full counter is
            // readable already: a failed write is fine.
            let _ = unsafe { libc::write(self.0, std::ptr::from_ref(&one).cast(), 8) };
        }

        pub(super) fn lower(&self) {
            let mut count: u64 = 0;
            // SAFETY: reads at most 8 bytes into a live local value.
            let _ = unsafe { libc::read(self.0, std::ptr::from_mut(&mut count).cast(), 8) };
        }
    }

    impl Drop for Inner {
        fn drop(&mut self) {
            // SAFETY: a descriptor this value owns, closed once.
            unsafe { libc::close(self.0) };
        }
    }
}

#[cfg(all(unix, not(target_os = "linux"), not(camb_loom)))]
mod imp {
    use std::io;

    /// A pipe: a byte written makes its read end readable; reading all empties it.
    pub(super) struct Inner {
        read: i32,
        write: i32,
    }

    impl Inner {
        pub(super) fn new() -> io::Result<Inner> {
            #[cfg(all(test, not(camb_loom)))]
            super::fault::check()?;
            let mut fds = [0i32; 2];
            // SAFETY: `fds` has room for the two descriptors pipe writes.
            if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
                return Err(io::Error::last_os_error());
            }
            let inner = Inner {
                read: fds[0],
                write: fds[1],
            };
            for fd in fds {
                // SAFETY: plain fcntl calls on descriptors this value owns.
                unsafe {
                    libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(inner)
        }

        pub(super) fn handle(&self) -> isize {
            self.read as isize
        }

        pub(super) fn raise(&self) {
            let byte = 1u8;
            // SAFETY: writes one byte from a live local value. A full pipe is
            // readable already: a failed write is fine.
            let _ = unsafe { libc::write(self.write, std::ptr::from_ref(&byte).cast(), 1) };
        }

        pub(super) fn lower(&self) {
            let mut buffer = [0u8; 64];
            // SAFETY: reads into a live local buffer of its length.
            while unsafe { libc::read(self.read, buffer.as_mut_ptr().cast(), buffer.len()) } > 0 {}
        }
    }

    impl Drop for Inner {
        fn drop(&mut self) {
            // SAFETY: descriptors this value owns, closed once.
            unsafe {
                libc::close(self.read);
                libc::close(self.write);
            }
        }
    }
}

#[cfg(all(windows, not(camb_loom)))]
mod imp {
    use std::io::{self, Read, Write};
    use std::net::{Ipv4Addr, TcpListener, TcpStream};
    use std::os::windows::io::AsRawSocket;

    /// Two connected loopback sockets: a byte sent makes the reading one
    /// readable for `select` and `WSAPoll`; reading all empties it.
    pub(super) struct Inner {
        read: TcpStream,
        write: TcpStream,
    }

    impl Inner {
        pub(super) fn new() -> io::Result<Inner> {
            #[cfg(all(test, not(camb_loom)))]
            super::fault::check()?;
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            let write = TcpStream::connect(listener.local_addr()?)?;
            // Another local program could connect to the listener first: take
            // only the connection whose far end is ours.
            let read = loop {
                let (read, peer) = listener.accept()?;
                if peer == write.local_addr()? {
                    break read;
                }
            };
            read.set_nonblocking(true)?;
            write.set_nonblocking(true)?;
            write.set_nodelay(true)?;
            Ok(Inner { read, write })
        }

        pub(super) fn handle(&self) -> isize {
            self.read.as_raw_socket() as isize
        }

        pub(super) fn raise(&self) {
            // A full buffer is readable already: a failed send is fine.
            let _ = (&self.write).write(&[1]);
        }

        pub(super) fn lower(&self) {
            let mut buffer = [0u8; 64];
            while matches!((&self.read).read(&mut buffer), Ok(n) if n > 0) {}
        }
    }
}

#[cfg(camb_loom)]
mod imp {
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The model has no descriptors: a flag stands for one.
    pub(super) struct Inner(AtomicBool);

    impl Inner {
        pub(super) fn new() -> io::Result<Inner> {
            Ok(Inner(AtomicBool::new(false)))
        }

        pub(super) fn handle(&self) -> isize {
            -1
        }

        pub(super) fn raise(&self) {
            self.0.store(true, Ordering::Relaxed);
        }

        pub(super) fn lower(&self) {
            self.0.store(false, Ordering::Relaxed);
        }
    }
}
