//! Turns a valid request into the bytes of its audio, one chunk at a time: the format's
//! header goes with the first chunk, then each chunk is the next run of samples (for
//! FLAC, exactly one frame).

use bytes::Bytes;

use super::encode::{self, FlacEncoder, Format};
use super::request::TtsRequest;
use super::speech::Speech;

pub struct Renderer {
    speech: Speech,
    format: Format,
    flac: Option<FlacEncoder>,
    /// Samples per chunk.
    chunk: u64,
    /// The next sample to render.
    next: u64,
    /// Sent in front of the first chunk.
    header: Option<Bytes>,
}

impl Renderer {
    /// `chunk_ms` of audio per chunk (FLAC frames are kept within the format's limits).
    pub fn new(request: &TtsRequest, chunk_ms: u64) -> Result<Renderer, String> {
        let rate = request.sample_rate;
        let samples = (request.duration_s * f64::from(rate)).round().max(1.0) as u64;
        let speech = Speech::new(&request.text, request.voice_id, rate, samples);
        let chunk = (u64::from(rate) * chunk_ms.max(1) / 1000).max(1);
        let (flac, chunk, header) = match request.format {
            Format::Flac => {
                let flac = FlacEncoder::new(rate, samples, chunk as usize)?;
                let header = flac.header();
                let block = flac.block() as u64;
                (Some(flac), block, Some(header))
            }
            Format::Wav => (
                None,
                chunk,
                Some(Bytes::copy_from_slice(&encode::wav_stream_header(rate))),
            ),
            _ => (None, chunk, None),
        };
        Ok(Renderer {
            speech,
            format: request.format,
            flac,
            chunk,
            next: 0,
            header,
        })
    }

    /// Everything has been rendered.
    pub fn finished(&self) -> bool {
        self.header.is_none() && self.next >= self.speech.samples()
    }

    /// Samples rendered so far: the audio time the stream has reached.
    pub fn rendered(&self) -> u64 {
        self.next
    }

    /// The next chunk, or `None` once finished.
    pub fn next_chunk(&mut self) -> Option<Result<Bytes, String>> {
        if self.finished() {
            return None;
        }
        let start = self.next;
        let end = start.saturating_add(self.chunk).min(self.speech.samples());
        self.next = end;
        let header = self.header.take();
        let audio = match &mut self.flac {
            Some(flac) => {
                let samples: Vec<i32> = (start..end)
                    .map(|i| encode::to_i16(self.speech.sample(i)))
                    .collect();
                match flac.frame((start / self.chunk) as usize, &samples) {
                    Ok(frame) => frame,
                    Err(e) => return Some(Err(e)),
                }
            }
            None => {
                let width = self.format.bytes_per_sample().unwrap_or(2);
                let mut out = Vec::with_capacity(((end - start) * width) as usize);
                for i in start..end {
                    self.format.push_sample(&mut out, self.speech.sample(i));
                }
                Bytes::from(out)
            }
        };
        Some(Ok(match header {
            Some(header) => [header, audio].concat().into(),
            None => audio,
        }))
    }

    /// The body's full length, for a fault that declares it up front. Raw formats know it
    /// from the sample count; FLAC is encoded once to count its frames' bytes.
    pub fn total_len(request: &TtsRequest, chunk_ms: u64) -> Result<u64, String> {
        let mut render = Renderer::new(request, chunk_ms)?;
        if let Some(width) = render.format.bytes_per_sample() {
            let header = render.header.as_ref().map_or(0, |h| h.len() as u64);
            return Ok(header + width * render.speech.samples());
        }
        let mut total = 0;
        while let Some(chunk) = render.next_chunk() {
            total += chunk?.len() as u64;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(format: Format, sample_rate: u32, duration_s: f64) -> TtsRequest {
        TtsRequest {
            text: "Hello from the emulator".into(),
            voice_id: 147_320,
            format,
            sample_rate,
            duration_s,
        }
    }

    fn all(request: &TtsRequest, chunk_ms: u64) -> (Vec<Bytes>, u64) {
        let mut render = Renderer::new(request, chunk_ms).unwrap();
        let mut chunks = Vec::new();
        while let Some(chunk) = render.next_chunk() {
            chunks.push(chunk.unwrap());
        }
        (chunks, Renderer::total_len(request, chunk_ms).unwrap())
    }

    #[test]
    fn chunks_cover_every_sample_once() {
        let r = request(Format::PcmS32be, 8_000, 1.0);
        let (chunks, total) = all(&r, 20);
        assert_eq!(chunks.len(), 50);
        assert!(chunks.iter().all(|c| c.len() == 160 * 4));
        assert_eq!(total, 8_000 * 4);

        let r = request(Format::Wav, 22_050, 0.5);
        let (chunks, total) = all(&r, 20);
        let len: usize = chunks.iter().map(Bytes::len).sum();
        assert_eq!(len as u64, total);
        assert_eq!(total, 44 + 2 * 11_025);
        assert_eq!(chunks[0].len(), 44 + 2 * 441);
    }

    #[test]
    fn flac_total_len_matches_the_stream() {
        let r = request(Format::Flac, 48_000, 0.3);
        let (chunks, total) = all(&r, 20);
        assert_eq!(&chunks[0][..4], b"fLaC");
        let len: usize = chunks.iter().map(Bytes::len).sum();
        assert_eq!(len as u64, total);
        assert_eq!(chunks.len(), 15);
    }
}
