//! The audio formats `/tts-stream` serves, and how samples become their bytes.
//!
//! Every format is mono. WAV and raw PCM are encoded sample by sample; FLAC frame by
//! frame (flacenc), so each streamed chunk is one complete FLAC frame and nothing is held
//! back.

use bytes::Bytes;
use flacenc::bitsink::MemSink;
use flacenc::component::{BitRepr, Stream, StreamInfo};
use flacenc::config;
use flacenc::error::{Verified, Verify};
use flacenc::source::{Fill, FrameBuf};

/// An `output_configuration.format` the emulator can render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Wav,
    Flac,
    PcmS16le,
    PcmS16be,
    PcmS32le,
    PcmS32be,
    PcmF32le,
    PcmF32be,
}

impl Format {
    /// The SDK documents MP3 as the default, but the emulator cannot encode MP3, so a
    /// request without a format gets WAV (libcamb always names one).
    pub const DEFAULT: Format = Format::Wav;

    pub const ALL: [Format; 8] = [
        Format::Wav,
        Format::Flac,
        Format::PcmS16le,
        Format::PcmS16be,
        Format::PcmS32le,
        Format::PcmS32be,
        Format::PcmF32le,
        Format::PcmF32be,
    ];

    /// Formats of the real API that the emulator answers with a 422: no well-kept
    /// pure-Rust MP3 or AAC encoder exists to render them.
    pub const UNOFFERED: [&'static str; 2] = ["mp3", "adts"];

    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Wav => "wav",
            Format::Flac => "flac",
            Format::PcmS16le => "pcm_s16le",
            Format::PcmS16be => "pcm_s16be",
            Format::PcmS32le => "pcm_s32le",
            Format::PcmS32be => "pcm_s32be",
            Format::PcmF32le => "pcm_f32le",
            Format::PcmF32be => "pcm_f32be",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Wav => "audio/wav",
            Format::Flac => "audio/flac",
            _ => "audio/pcm",
        }
    }

    /// Bytes per sample for the sample-by-sample formats (WAV is 16-bit); `None` for FLAC.
    pub fn bytes_per_sample(self) -> Option<u64> {
        match self {
            Format::Wav | Format::PcmS16le | Format::PcmS16be => Some(2),
            Format::PcmS32le | Format::PcmS32be | Format::PcmF32le | Format::PcmF32be => Some(4),
            Format::Flac => None,
        }
    }

    /// Appends one sample (-1.0..=1.0) in this format; FLAC takes whole frames instead.
    pub fn push_sample(self, out: &mut Vec<u8>, x: f64) {
        let x = x.clamp(-1.0, 1.0);
        let s16 = || (x * f64::from(i16::MAX)).round() as i16;
        let s32 = || (x * f64::from(i32::MAX)).round() as i32;
        match self {
            Format::Wav | Format::PcmS16le => out.extend_from_slice(&s16().to_le_bytes()),
            Format::PcmS16be => out.extend_from_slice(&s16().to_be_bytes()),
            Format::PcmS32le => out.extend_from_slice(&s32().to_le_bytes()),
            Format::PcmS32be => out.extend_from_slice(&s32().to_be_bytes()),
            Format::PcmF32le => out.extend_from_slice(&(x as f32).to_le_bytes()),
            Format::PcmF32be => out.extend_from_slice(&(x as f32).to_be_bytes()),
            Format::Flac => {}
        }
    }
}

pub const WAV_HEADER_LEN: usize = 44;

/// The 44-byte header of a streamed PCM 16-bit mono WAV. The RIFF and data sizes are
/// 0xFFFFFFFF: the server starts sending before it knows the length, and readers take
/// that value as "until the end of the stream".
pub fn wav_stream_header(sample_rate: u32) -> [u8; WAV_HEADER_LEN] {
    let mut h = [0u8; WAV_HEADER_LEN];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &u32::MAX.to_le_bytes(),
        b"WAVE",
        b"fmt ",
        &16u32.to_le_bytes(), // fmt chunk size
        &1u16.to_le_bytes(),  // PCM
        &1u16.to_le_bytes(),  // mono
        &sample_rate.to_le_bytes(),
        &(sample_rate * 2).to_le_bytes(), // byte rate
        &2u16.to_le_bytes(),              // block align
        &16u16.to_le_bytes(),             // bits per sample
        b"data",
        &u32::MAX.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        h[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    h
}

/// FLAC frames of at most this many samples: the "streamable subset" limit for rates up
/// to 48 kHz is 4608.
pub const MAX_FLAC_BLOCK: usize = 4096;
/// flacenc's smallest block is 32; 64 keeps its predictors useful.
pub const MIN_FLAC_BLOCK: usize = 64;

/// A 16-bit mono FLAC encoder that emits the stream header and then one frame at a time.
pub struct FlacEncoder {
    config: Verified<config::Encoder>,
    info: StreamInfo,
    buf: FrameBuf,
    block: usize,
}

impl FlacEncoder {
    /// `block` samples per frame (clamped to the FLAC limits above); the last may be shorter.
    pub fn new(sample_rate: u32, total_samples: u64, block: usize) -> Result<Self, String> {
        let block = block.clamp(MIN_FLAC_BLOCK, MAX_FLAC_BLOCK);
        let err = |e: &dyn std::fmt::Debug| format!("FLAC encoder setup: {e:?}");
        let mut info = StreamInfo::new(sample_rate as usize, 1, 16).map_err(|e| err(&e))?;
        info.set_block_sizes(block, block).map_err(|e| err(&e))?;
        // 0 = unknown: frame sizes are not known before they are encoded.
        info.set_frame_sizes(0, 0).map_err(|e| err(&e))?;
        info.set_total_samples(usize::try_from(total_samples).unwrap_or(0));
        // The MD5 stays all zeros, which means "not computed": it would need every
        // sample before the header is sent.
        let config = config::Encoder::default()
            .into_verified()
            .map_err(|e| err(&e))?;
        let buf = FrameBuf::with_size(1, block).map_err(|e| err(&e))?;
        Ok(FlacEncoder {
            config,
            info,
            buf,
            block,
        })
    }

    pub fn block(&self) -> usize {
        self.block
    }

    /// `fLaC` and the STREAMINFO block.
    pub fn header(&self) -> Bytes {
        let stream = Stream::with_stream_info(self.info.clone());
        to_bytes(&stream)
    }

    /// Frame `number`, holding `samples` (at most one block).
    pub fn frame(&mut self, number: usize, samples: &[i32]) -> Result<Bytes, String> {
        self.buf
            .fill_interleaved(samples)
            .map_err(|e| format!("FLAC frame {number}: {e:?}"))?;
        let frame = flacenc::encode_fixed_size_frame(&self.config, &self.buf, number, &self.info)
            .map_err(|e| format!("FLAC frame {number}: {e:?}"))?;
        Ok(to_bytes(&frame))
    }
}

fn to_bytes(component: &impl BitRepr) -> Bytes {
    let mut sink = MemSink::<u8>::with_capacity(component.count_bits());
    // Writing to memory cannot fail, and every component here was built verified.
    let _ = component.write(&mut sink);
    Bytes::from(sink.into_inner())
}

/// A sample as 16-bit, for FLAC.
pub fn to_i16(x: f64) -> i32 {
    i32::from((x.clamp(-1.0, 1.0) * f64::from(i16::MAX)).round() as i16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for format in Format::ALL {
            assert_eq!(Format::parse(format.name()), Some(format));
        }
        assert_eq!(Format::parse("mp3"), None);
        assert_eq!(Format::parse("WAV"), None);
    }

    #[test]
    fn samples_encode_in_each_layout() {
        let mut out = Vec::new();
        Format::PcmS16be.push_sample(&mut out, 1.0);
        Format::PcmS16le.push_sample(&mut out, -1.0);
        Format::PcmF32le.push_sample(&mut out, 0.5);
        Format::PcmS32be.push_sample(&mut out, 2.0);
        assert_eq!(&out[0..2], &i16::MAX.to_be_bytes());
        assert_eq!(&out[2..4], &(-i16::MAX).to_le_bytes());
        assert_eq!(&out[4..8], &0.5f32.to_le_bytes());
        assert_eq!(&out[8..12], &i32::MAX.to_be_bytes());
    }

    #[test]
    fn flac_header_and_frames() {
        let mut flac = FlacEncoder::new(22_050, 500, 441).unwrap();
        let header = flac.header();
        assert_eq!(&header[..4], b"fLaC");
        assert_eq!(header.len(), 4 + 4 + 34);
        let samples: Vec<i32> = (0..441).map(|i| (i * 37 % 2000) - 1000).collect();
        let frame = flac.frame(0, &samples).unwrap();
        // Frame sync code 0xFFF8 (fixed block size).
        assert_eq!(&frame[..2], &[0xFF, 0xF8]);
        assert!(flac.frame(1, &samples[..59]).is_ok());
    }
}
