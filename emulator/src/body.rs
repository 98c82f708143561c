//! Streaming response bodies. Both report their exact length, so hyper sends a
//! `Content-Length` header rather than chunked encoding, as a real file server would.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
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
