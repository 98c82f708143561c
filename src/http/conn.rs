//! One connection: a TCP socket, maybe TLS over it, and a read buffer. Every
//! read and write ends by the caller's deadline.
//!
//! Deadlines cost no system call in the common case. A socket timeout already
//! set is kept while it lies between half the time left and all of it;
//! otherwise it is set to 7/8 of the time left (all of it below 100 ms). A
//! timeout that fires early is re-armed with what is left. Calls with the same
//! client timeout in a row therefore set the socket options once; a long wait
//! lowers them a few times; a call after one that ended near its deadline
//! raises them again, once.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConnection;

use super::HttpError;

/// The read buffer's size; it grows only for a reply head larger than this.
const BUFFER_SIZE: usize = 16 << 10;
/// Below this much time left, a timeout is set to exactly what is left.
const EXACT_BELOW: Duration = Duration::from_millis(100);

pub(crate) struct Connection {
    socket: TcpStream,
    tls: Option<Box<ClientConnection>>,
    timeouts: Timeouts,
    /// Bytes received (decrypted) and not yet consumed: `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// When the connection went back to the pool.
    pub(crate) idle_since: Instant,
    /// The buffer requests are written from, kept between requests (zeroed
    /// after each: it holds the key).
    pub(crate) request: Vec<u8>,
    /// The TLS peer ended the TCP connection without a close_notify: an end
    /// of stream that may be an attacker's cut, not the end of the reply.
    unclean_eof: bool,
}

/// The timeouts set on the socket now (`None`: none set, i.e. blocking forever).
#[derive(Default)]
struct Timeouts {
    read: Option<Duration>,
    write: Option<Duration>,
}

impl Timeouts {
    /// Makes sure a blocking read (or write) on `socket` returns by `deadline`.
    fn arm(&mut self, socket: &TcpStream, deadline: Instant, write: bool) -> io::Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let current = if write {
            &mut self.write
        } else {
            &mut self.read
        };
        if current.is_some_and(|set| set <= left && set >= left / 2) {
            return Ok(());
        }
        let timeout = if left < EXACT_BELOW {
            left
        } else {
            left - left / 8
        };
        // A zero timeout means "none" to the kernel; a microsecond is the least.
        let timeout = timeout.max(Duration::from_micros(1));
        if write {
            socket.set_write_timeout(Some(timeout))?;
        } else {
            socket.set_read_timeout(Some(timeout))?;
        }
        *current = Some(timeout);
        Ok(())
    }
}

/// The socket seen through a deadline: reads and writes block until it, then
/// fail with `TimedOut`. This is what rustls reads from and writes to.
struct Timed<'a> {
    socket: &'a TcpStream,
    timeouts: &'a mut Timeouts,
    deadline: Instant,
}

fn is_socket_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

impl Read for Timed<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            self.timeouts.arm(self.socket, self.deadline, false)?;
            match (&*self.socket).read(out) {
                // Fired early (or a signal): arm() says whether time is left.
                Err(e) if is_socket_timeout(&e) => continue,
                result => return result,
            }
        }
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        loop {
            self.timeouts.arm(self.socket, self.deadline, true)?;
            match (&*self.socket).write(data) {
                Err(e) if is_socket_timeout(&e) => continue,
                result => return result,
            }
        }
    }

    /// rustls writes its records with this: one system call for them all.
    fn write_vectored(&mut self, data: &[io::IoSlice<'_>]) -> io::Result<usize> {
        loop {
            self.timeouts.arm(self.socket, self.deadline, true)?;
            match (&*self.socket).write_vectored(data) {
                Err(e) if is_socket_timeout(&e) => continue,
                result => return result,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Connection {
    pub(crate) fn new(socket: TcpStream) -> Connection {
        Connection {
            socket,
            tls: None,
            timeouts: Timeouts::default(),
            buf: vec![0; BUFFER_SIZE],
            start: 0,
            end: 0,
            idle_since: Instant::now(),
            request: Vec::new(),
            unclean_eof: false,
        }
    }

    fn timed(&mut self, deadline: Instant) -> Timed<'_> {
        Timed {
            socket: &self.socket,
            timeouts: &mut self.timeouts,
            deadline,
        }
    }

    /// Runs the TLS handshake for `server` over this connection.
    pub(crate) fn start_tls(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        server: rustls::pki_types::ServerName<'static>,
        deadline: Instant,
    ) -> Result<(), HttpError> {
        let mut tls =
            ClientConnection::new(config, server).map_err(|e| HttpError::Tls(e.to_string()))?;
        let mut timed = self.timed(deadline);
        while tls.is_handshaking() {
            if tls.wants_write() {
                tls.write_tls(&mut timed).map_err(HttpError::from_io)?;
            } else if tls.wants_read() {
                if tls.read_tls(&mut timed).map_err(HttpError::from_io)? == 0 {
                    return Err(HttpError::Network(
                        "the server closed the connection during the TLS handshake".into(),
                    ));
                }
                if let Err(e) = tls.process_new_packets() {
                    // Tell the server why, best effort: the error is what matters.
                    let _ = tls.write_tls(&mut timed);
                    return Err(HttpError::Tls(e.to_string()));
                }
            } else {
                break;
            }
        }
        while tls.wants_write() {
            tls.write_tls(&mut timed).map_err(HttpError::from_io)?;
        }
        self.tls = Some(Box::new(tls));
        Ok(())
    }

    /// Sends all of `data`.
    pub(crate) fn write_all(&mut self, data: &[u8], deadline: Instant) -> Result<(), HttpError> {
        let mut timed = Timed {
            socket: &self.socket,
            timeouts: &mut self.timeouts,
            deadline,
        };
        match self.tls.as_deref_mut() {
            None => timed.write_all(data).map_err(HttpError::from_io),
            Some(tls) => {
                let mut rest = data;
                while !rest.is_empty() {
                    let taken = tls.writer().write(rest).map_err(HttpError::from_io)?;
                    rest = &rest[taken..];
                    let mut flushed = false;
                    while tls.wants_write() {
                        tls.write_tls(&mut timed).map_err(HttpError::from_io)?;
                        flushed = true;
                    }
                    if taken == 0 && !flushed {
                        return Err(HttpError::Network("the TLS session refused data".into()));
                    }
                }
                Ok(())
            }
        }
    }

    /// The bytes received and not yet consumed.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(crate) fn consume(&mut self, count: usize) {
        self.start += count.min(self.end - self.start);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Receives more bytes into the buffer, which grows up to `max_buffered`.
    /// Returns how many arrived: 0 at the end of the stream. A buffer already
    /// holding `max_buffered` bytes is not filled further (returns 0 too: the
    /// caller checks its limit first).
    pub(crate) fn fill(
        &mut self,
        max_buffered: usize,
        deadline: Instant,
    ) -> Result<usize, HttpError> {
        if self.start > 0 && self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(max_buffered.max(BUFFER_SIZE));
            if grown <= self.buf.len() {
                return Ok(0);
            }
            self.buf.resize(grown, 0);
        }
        let Connection {
            socket,
            tls,
            timeouts,
            buf,
            end,
            unclean_eof,
            ..
        } = self;
        let mut timed = Timed {
            socket,
            timeouts,
            deadline,
        };
        let read = read_from(
            tls.as_deref_mut(),
            &mut timed,
            &mut buf[*end..],
            unclean_eof,
        )?;
        *end += read;
        Ok(read)
    }

    /// Reads into `out`: buffered bytes first, else straight from the stream
    /// (no copy through the buffer for large reads). 0 at the end of the stream.
    pub(crate) fn read_into(
        &mut self,
        out: &mut [u8],
        deadline: Instant,
    ) -> Result<usize, HttpError> {
        if out.is_empty() {
            return Ok(0);
        }
        let buffered = self.buffered();
        if !buffered.is_empty() {
            let count = buffered.len().min(out.len());
            out[..count].copy_from_slice(&buffered[..count]);
            self.consume(count);
            return Ok(count);
        }
        if out.len() < self.buf.len() {
            let read = self.fill(self.buf.len(), deadline)?;
            let count = read.min(out.len());
            out[..count].copy_from_slice(&self.buf[self.start..self.start + count]);
            self.consume(count);
            return Ok(count);
        }
        let mut timed = Timed {
            socket: &self.socket,
            timeouts: &mut self.timeouts,
            deadline,
        };
        read_from(
            self.tls.as_deref_mut(),
            &mut timed,
            out,
            &mut self.unclean_eof,
        )
    }

    /// True once the stream has ended without TLS's close_notify (never for
    /// plain TCP, where an end cannot be told from a cut).
    pub(crate) fn ended_uncleanly(&self) -> bool {
        self.unclean_eof
    }

    /// True if nothing was received beyond the reply just read: no bytes in
    /// the buffer and, over TLS, no decrypted or complete records waiting in
    /// rustls (a server could append a forged "next reply" in the same read)
    /// and no close_notify. Only such a connection may carry another request.
    pub(crate) fn is_clean(&mut self) -> bool {
        if !self.buffered().is_empty() {
            return false;
        }
        match self.tls.as_deref_mut() {
            None => true,
            Some(tls) => match tls.process_new_packets() {
                Ok(state) => state.plaintext_bytes_to_read() == 0 && !state.peer_has_closed(),
                Err(_) => false,
            },
        }
    }

    /// True if the idle connection still looks usable: the peer has not closed
    /// it and has sent nothing unasked. One non-blocking `recv(MSG_PEEK)`.
    pub(crate) fn looks_alive(&self) -> bool {
        if !self.buffered().is_empty() {
            return false;
        }
        let mut byte = 0u8;
        // SAFETY: `byte` is a valid, writable 1-byte buffer for the call's length,
        // and the socket descriptor is open for as long as `self.socket` lives.
        let peeked = unsafe {
            libc::recv(
                std::os::fd::AsRawFd::as_raw_fd(&self.socket),
                (&raw mut byte).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        peeked < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }
}

/// One read of plaintext: from the socket, or through rustls.
fn read_from(
    tls: Option<&mut ClientConnection>,
    timed: &mut Timed<'_>,
    out: &mut [u8],
    unclean_eof: &mut bool,
) -> Result<usize, HttpError> {
    let Some(tls) = tls else {
        return timed.read(out).map_err(HttpError::from_io);
    };
    loop {
        match tls.reader().read(out) {
            Ok(read) => return Ok(read),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // The peer closed the TCP connection without TLS's close_notify. Many
            // servers do: an end of stream, marked so that a reply framed by the
            // end of the connection alone is not taken as complete.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                *unclean_eof = true;
                return Ok(0);
            }
            Err(e) => return Err(HttpError::Tls(e.to_string())),
        }
        // No plaintext buffered: get the next records.
        while tls.wants_write() {
            tls.write_tls(timed).map_err(HttpError::from_io)?;
        }
        if tls.read_tls(timed).map_err(HttpError::from_io)? == 0 {
            // No close_notify came first (the reader would have said Ok(0)).
            *unclean_eof = true;
            return Ok(0);
        }
        if let Err(e) = tls.process_new_packets() {
            let _ = tls.write_tls(timed);
            return Err(HttpError::Tls(e.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// The kernel rounds timeouts up to its clock tick (4 ms at HZ=250).
    fn assert_near(actual: Option<Duration>, expected: Option<Duration>) {
        let (actual, expected) = (actual.unwrap(), expected.unwrap());
        assert!(
            actual.abs_diff(expected) <= Duration::from_millis(10),
            "{actual:?} vs {expected:?}"
        );
    }

    fn socket() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn socket_timeouts_follow_the_time_left_both_ways() {
        let (socket, _server) = socket();
        let mut timeouts = Timeouts::default();
        let in_secs = |s: u64| Instant::now() + Duration::from_secs(s);
        timeouts.arm(&socket, in_secs(60), false).unwrap();
        let first = timeouts.read.unwrap();
        assert!(first > Duration::from_secs(50) && first <= Duration::from_secs(53));
        assert_near(socket.read_timeout().unwrap(), Some(first));
        // The same budget again: kept, no system call.
        timeouts.arm(&socket, in_secs(60), false).unwrap();
        assert_eq!(timeouts.read, Some(first));
        // Less time left than the timeout set: lowered.
        timeouts
            .arm(&socket, Instant::now() + Duration::from_millis(50), false)
            .unwrap();
        let low = timeouts.read.unwrap();
        assert!(low <= Duration::from_millis(50), "{low:?}");
        assert_near(socket.read_timeout().unwrap(), Some(low));
        // A later call with a long budget raises it again (once), instead of
        // waking every few milliseconds for the rest of the connection's life.
        timeouts.arm(&socket, in_secs(60), false).unwrap();
        assert!(timeouts.read.unwrap() > Duration::from_secs(50));
        assert_near(socket.read_timeout().unwrap(), timeouts.read);
        // Writes have their own timeout.
        assert_eq!(timeouts.write, None);
        timeouts.arm(&socket, in_secs(10), true).unwrap();
        assert_near(socket.write_timeout().unwrap(), timeouts.write);
        // No time left: TimedOut, whatever is set.
        let past = Instant::now() - Duration::from_millis(1);
        let err = timeouts.arm(&socket, past, false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn a_read_ends_at_the_deadline_when_the_timeout_fires_early() {
        let (socket, _server) = socket();
        let mut conn = Connection::new(socket);
        // A timeout kept from an earlier call (200 ms: between half the 300 ms
        // budget and all of it, so arm() keeps it) fires early, is re-armed with
        // what is left, and the read still ends at the deadline, as a timeout.
        conn.timeouts.read = Some(Duration::from_millis(200));
        conn.socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let start = Instant::now();
        let err = conn
            .fill(BUFFER_SIZE, start + Duration::from_millis(300))
            .unwrap_err();
        assert!(matches!(err, HttpError::Timeout), "{err}");
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }
}
