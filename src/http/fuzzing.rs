//! For the fuzz target only, not part of the API: it may change or go away in
//! any release, and nothing but `fuzz/fuzz_targets/http_reply.rs` should call it.
//!
//! `read_reply` plays a server's reply through the real read path: the bytes
//! are sent over a loopback TCP connection, which the client side reads as a
//! `Connection` with `read_head` and then `read_body` to the end, and the
//! outcome comes back as plain public data (`Reply`) that the fuzz target can
//! check against its own reading of the bytes.

use std::cell::RefCell;
use std::io::{ErrorKind as IoErrorKind, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::HttpError;
use super::conn::Connection;
use super::wire::{self, BodyState, HeadError, read_body, read_head};

/// The largest reply head the client reads (`wire::MAX_HEAD_SIZE`). A function,
/// not a constant: cbindgen would put a public constant in include/camb.h.
pub fn max_head_size() -> usize {
    wire::MAX_HEAD_SIZE
}

/// How long one reply may take to read. All of it has been sent (and the
/// stream ended) before reading starts, so reaching this is a hang.
const DEADLINE: Duration = Duration::from_secs(2);

/// The sizes of the buffers successive `read_body` calls are given, in turn
/// (starting at the input's length modulo their count, so that it varies with
/// the input but is the same on every replay): one byte, small reads served
/// from the connection's buffer, and reads larger than that buffer (16 KiB),
/// which go straight to the socket.
const READ_SIZES: [usize; 5] = [1, 7, 512, 4096, 20 << 10];

/// How the head said the body is framed (`wire::Framing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What the client kept of the final (non-1xx) head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyHead {
    pub status: u16,
    pub framing: Framing,
    pub keep_alive: bool,
    pub retry_after: Option<String>,
    pub location: Option<String>,
    pub content_type: Option<String>,
}

/// Which error: `ClosedBeforeReply` is `HeadError::ClosedBeforeReply`, `Other`
/// an `HttpError` variant not listed here, the others are the `HttpError`
/// variant of that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    ClosedBeforeReply,
    Timeout,
    Resolve,
    Connect,
    Network,
    Tls,
    ProxyRefused,
    Protocol,
    HeadersTooLarge,
    BodyTooLarge,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyError {
    pub kind: ErrorKind,
    /// The `HttpError`'s Display text (for `ClosedBeforeReply`, which has none,
    /// a fixed sentence).
    pub text: String,
}

/// The outcome of reading one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `None` when `read_head` failed (then `error` says why).
    pub head: Option<ReplyHead>,
    /// The body bytes `read_body` gave, up to its end or its error.
    pub body: Vec<u8>,
    /// Why reading stopped early; `None` when `read_body` reached the end (0).
    pub error: Option<ReplyError>,
}

thread_local! {
    /// One listener per thread (libFuzzer runs one), bound once.
    static LISTENER: RefCell<Option<TcpListener>> = const { RefCell::new(None) };
}

/// For the fuzz target only, not part of the API: sends `input` as a server's
/// whole reply over a loopback TCP connection (then ends the stream), and reads
/// it as the client reads a reply to a request: `read_head(.., true)` on a
/// fresh `Connection`, then `read_body` until it returns 0 or an error, all by
/// one deadline 2 seconds ahead.
///
/// # Panics
///
/// When the loopback connection cannot be set up (no 127.0.0.1): the fuzz run
/// cannot go on without it.
pub fn read_reply(input: &[u8]) -> Reply {
    let (client, server) = loopback_pair();
    // Reset the server side on close instead of leaving it in TIME_WAIT: at
    // thousands of connections a second, those would pile up by the hundred
    // thousand.
    set_linger_zero(&server);
    let writer = send(&server, input);

    let deadline = Instant::now() + DEADLINE;
    let mut conn = Connection::new(client);
    let reply = read(&mut conn, deadline, input.len());

    if let Some(writer) = writer {
        // The client may have stopped reading early, leaving the writer blocked
        // on full buffers: ending the server's sending side wakes it (EPIPE).
        let _ = server.shutdown(Shutdown::Write);
        writer.join().expect("the writer thread does not panic");
    }
    // The server side first (a reset, see above), then the client's.
    drop(server);
    drop(conn);
    reply
}

fn read(conn: &mut Connection, deadline: Instant, input_len: usize) -> Reply {
    let head = match read_head(conn, deadline, true) {
        Ok(head) => head,
        Err(error) => {
            let error = match error {
                HeadError::ClosedBeforeReply => ReplyError {
                    kind: ErrorKind::ClosedBeforeReply,
                    text: "the connection closed before any reply".into(),
                },
                HeadError::Failed(error) => reply_error(&error),
            };
            return Reply {
                head: None,
                body: Vec::new(),
                error: Some(error),
            };
        }
    };
    let summary = ReplyHead {
        status: head.status,
        framing: match head.framing {
            wire::Framing::Empty => Framing::Empty,
            wire::Framing::Length(length) => Framing::Length(length),
            wire::Framing::Chunked => Framing::Chunked,
            wire::Framing::UntilClose => Framing::UntilClose,
        },
        keep_alive: head.keep_alive,
        retry_after: head.retry_after.clone(),
        location: head.location.clone(),
        content_type: head.content_type.clone(),
    };
    let mut state = BodyState::new(head.framing);
    let mut body = Vec::new();
    let mut out = vec![0u8; READ_SIZES[READ_SIZES.len() - 1]];
    let mut error = None;
    let mut turn = input_len % READ_SIZES.len();
    loop {
        let size = READ_SIZES[turn];
        turn = (turn + 1) % READ_SIZES.len();
        match read_body(conn, &mut state, &mut out[..size], deadline) {
            Ok(0) => break,
            Ok(read) => {
                // More than was asked for is a bug the target should see, not
                // a slice panic here.
                body.extend_from_slice(&out[..read.min(size)]);
                if read > size {
                    error = Some(ReplyError {
                        kind: ErrorKind::Protocol,
                        text: format!("read_body returned {read} for a {size}-byte buffer"),
                    });
                    break;
                }
            }
            Err(e) => {
                error = Some(reply_error(&e));
                break;
            }
        }
    }
    Reply {
        head: Some(summary),
        body,
        error,
    }
}

fn reply_error(error: &HttpError) -> ReplyError {
    let kind = match error {
        HttpError::Timeout => ErrorKind::Timeout,
        HttpError::Resolve(_) => ErrorKind::Resolve,
        HttpError::Connect(_) => ErrorKind::Connect,
        HttpError::Network(_) => ErrorKind::Network,
        HttpError::Tls(_) => ErrorKind::Tls,
        HttpError::ProxyRefused(_) => ErrorKind::ProxyRefused,
        HttpError::Protocol(_) => ErrorKind::Protocol,
        HttpError::HeadersTooLarge(_) => ErrorKind::HeadersTooLarge,
        HttpError::BodyTooLarge(_) => ErrorKind::BodyTooLarge,
        // Any other variant (one added to HttpError since, such as a request
        // refused before it is sent): never a reading error, the target shows it.
        #[allow(unreachable_patterns)]
        _ => ErrorKind::Other,
    };
    ReplyError {
        kind,
        text: error.to_string(),
    }
}

/// A connected (client, server) pair on 127.0.0.1, through this thread's listener.
fn loopback_pair() -> (TcpStream, TcpStream) {
    LISTENER.with(|cell| {
        let mut listener = cell.borrow_mut();
        let listener = listener.get_or_insert_with(|| {
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("127.0.0.1 port 0 can be bound")
        });
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let client = TcpStream::connect(addr).expect("the loopback listener accepts");
        let mine: SocketAddr = client
            .local_addr()
            .expect("a connected socket has an address");
        // Anything else that connected to the port is not ours: dropped.
        loop {
            let (server, peer) = listener.accept().expect("the loopback connection arrives");
            if peer == mine {
                return (client, server);
            }
        }
    })
}

/// Sends `input` and ends the stream (FIN). What the socket buffers take at
/// once is written here (usually all of it: loopback buffers hold megabytes);
/// the rest, if any, from a thread, since a blocking write would wait for a
/// reader that is this thread.
fn send(server: &TcpStream, input: &[u8]) -> Option<JoinHandle<()>> {
    let mut sent = 0;
    if server.set_nonblocking(true).is_ok() {
        while sent < input.len() {
            match (&*server).write(&input[sent..]) {
                Ok(written) => sent += written,
                Err(e) if e.kind() == IoErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
    if sent == input.len() {
        let _ = server.shutdown(Shutdown::Write);
        return None;
    }
    let server = server.try_clone().expect("a loopback socket can be cloned");
    let rest = input[sent..].to_vec();
    Some(std::thread::spawn(move || {
        let _ = server.set_nonblocking(false);
        // An error means the client closed first (it stopped reading early).
        let _ = (&server).write_all(&rest);
        let _ = server.shutdown(Shutdown::Write);
    }))
}

fn set_linger_zero(socket: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the pointer and length describe `linger`, a valid `struct linger`
    // that outlives the call, and the descriptor is open while `socket` lives.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    // Best effort: without it the run is slower, not wrong.
    let _ = result;
}
