//! Streaming response bodies. `WavBody` and `StallBody` report their exact length, so
//! hyper sends a `Content-Length` header rather than chunked encoding, as a real file
//! server would. `CutBody` and `Abort` end a reply part-way, as a dropped connection would.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

use crate::wav::{self, Synth};

/// Samples per chunk: 16 KiB of PCM.
const CHUNK_SAMPLES: u32 = 8192;

type Polled = Poll<Option<Result<Frame<Bytes>, Infallible>>>;

/// A WAV file rendered chunk by chunk as the client reads it.
pub struct WavBody {
    header: Option<Bytes>,
    synth: Synth,
    next: u32,
}

impl WavBody {
    pub fn new(synth: Synth) -> WavBody {
        WavBody {
            header: Some(Bytes::copy_from_slice(&wav::header(synth.samples()))),
            synth,
            next: 0,
        }
    }

    fn remaining(&self) -> u64 {
        let header = self.header.as_ref().map_or(0, |h| h.len() as u64);
        header + 2 * u64::from(self.synth.samples() - self.next)
    }
}

impl Body for WavBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Polled {
        let this = self.get_mut();
        if let Some(header) = this.header.take() {
            return Poll::Ready(Some(Ok(Frame::data(header))));
        }
        if this.next >= this.synth.samples() {
            return Poll::Ready(None);
        }
        let end = this.next.saturating_add(CHUNK_SAMPLES);
        let chunk = this.synth.pcm(this.next, end);
        this.next = end.min(this.synth.samples());
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining())
    }
}

/// A body that sends its first half, stalls, then sends the rest: a server hanging mid-body.
pub struct StallBody {
    first: Option<Bytes>,
    rest: Option<Bytes>,
    stall: Duration,
    /// Started on the first poll after the first half went out.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl StallBody {
    pub fn new(mut body: Bytes, stall: Duration) -> StallBody {
        let rest = body.split_off(body.len() / 2);
        StallBody {
            first: Some(body).filter(|b| !b.is_empty()),
            rest: Some(rest).filter(|b| !b.is_empty()),
            stall,
            sleep: None,
        }
    }
}

impl Body for StallBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        if this.rest.is_none() {
            return Poll::Ready(None);
        }
        let stall = this.stall;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        Poll::Ready(this.rest.take().map(|rest| Ok(Frame::data(rest))))
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.rest.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let len = |b: &Option<Bytes>| b.as_ref().map_or(0, |b| b.len() as u64);
        SizeHint::with_exact(len(&self.first) + len(&self.rest))
    }
}

/// How long a cut body waits after its last bytes before it fails. Hyper drops whatever
/// it has not yet written when a body fails, so the bytes before the cut need this moment
/// to reach the socket.
const CUT_GRACE: Duration = Duration::from_millis(50);

/// The end of a cut body: after `CUT_GRACE`, an error, on which hyper closes the
/// connection without finishing the message (no terminating chunk, or fewer bytes than
/// the Content-Length).
pub struct Abort {
    sleep: Pin<Box<Sleep>>,
    sent: u64,
}

impl Abort {
    pub fn new(sent: u64) -> Abort {
        Abort {
            sleep: Box::pin(tokio::time::sleep(CUT_GRACE)),
            sent,
        }
    }

    pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        Poll::Ready(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            format!(
                "emulator fault: connection cut after {} body bytes",
                self.sent
            ),
        ))
    }
}

/// Any reply body, cut after `limit` bytes (see `Fault::cut_after_bytes`). Its size hint
/// is the whole body's, so a declared Content-Length stays the full length.
pub struct CutBody {
    inner: axum::body::Body,
    left: u64,
    sent: u64,
    truncated: bool,
    abort: Option<Abort>,
    done: bool,
}

impl CutBody {
    pub fn new(inner: axum::body::Body, limit: u64) -> CutBody {
        CutBody {
            inner,
            left: limit,
            sent: 0,
            truncated: false,
            abort: None,
            done: false,
        }
    }
}

impl Body for CutBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if this.abort.is_none() && this.left == 0 && (this.truncated || !this.inner.is_end_stream())
        {
            this.abort = Some(Abort::new(this.sent));
        }
        if let Some(abort) = &mut this.abort {
            let error = std::task::ready!(abort.poll(cx));
            this.done = true;
            return Poll::Ready(Some(Err(error.into())));
        }
        match std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            None => {
                this.done = true;
                Poll::Ready(None)
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(mut data) => {
                    let room = usize::try_from(this.left).unwrap_or(usize::MAX);
                    if data.remaining() > room {
                        data.truncate(room);
                        this.truncated = true;
                    }
                    this.left -= data.len() as u64;
                    this.sent += data.len() as u64;
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.inner.is_end_stream() && !self.truncated && self.abort.is_none())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
