//! Deterministic audio: a real, playable WAV (PCM 16-bit mono, 22050 Hz) synthesised from
//! the prompt, so a client's download, save and playback paths get genuine audio to handle.
//!
//! Every sample is a pure function of its index, so the file can be streamed in chunks
//! without ever holding it whole.

use std::f64::consts::TAU;

pub const SAMPLE_RATE: u32 = 22_050;
/// Longest audio rendered. Keeps the RIFF sizes far below `u32::MAX` and the work bounded.
pub const MAX_SECONDS: f64 = 600.0;
pub const HEADER_LEN: usize = 44;

/// Fade in/out length, so the audio starts and ends without a click.
const FADE_SECONDS: f64 = 0.05;
/// Peak level, leaving headroom below full scale.
const LEVEL: f64 = 0.6 * i16::MAX as f64;
/// Length of one arpeggio note for "music".
const NOTE_SECONDS: f64 = 0.25;

/// Number of samples for a duration (clamped to `0..=MAX_SECONDS`; NaN gives none).
pub fn sample_count(duration_s: f64) -> u32 {
    if duration_s.is_nan() || duration_s <= 0.0 {
        return 0;
    }
    (duration_s.min(MAX_SECONDS) * f64::from(SAMPLE_RATE)).round() as u32
}

/// Total file length in bytes for `samples` samples.
pub fn file_len(samples: u32) -> u64 {
    HEADER_LEN as u64 + 2 * u64::from(samples)
}

/// The canonical 44-byte RIFF/WAVE header for PCM 16-bit mono.
pub fn header(samples: u32) -> [u8; HEADER_LEN] {
    let data_len = samples * 2;
    let mut h = [0u8; HEADER_LEN];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &(36 + data_len).to_le_bytes(),
        b"WAVE",
        b"fmt ",
        &16u32.to_le_bytes(),             // fmt chunk size
        &1u16.to_le_bytes(),              // PCM
        &1u16.to_le_bytes(),              // mono
        &SAMPLE_RATE.to_le_bytes(),       // sample rate
        &(SAMPLE_RATE * 2).to_le_bytes(), // byte rate
        &2u16.to_le_bytes(),              // block align
        &16u16.to_le_bytes(),             // bits per sample
        b"data",
        &data_len.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        h[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    h
}

/// A sample generator for one prompt.
pub struct Synth {
    voice: Voice,
    samples: u32,
    fade_samples: f64,
}

enum Voice {
    /// A few sine partials with a slow tremolo.
    Sound {
        partials: [(f64, f64); 3],
        tremolo_hz: f64,
    },
    /// An arpeggio over a triad and its octave.
    Music { notes: [f64; 4] },
}

impl Synth {
    pub fn new(prompt: &str, audio_type: &str, samples: u32) -> Synth {
        let h = fnv1a(prompt.as_bytes());
        // Pick parameters from different bits of the hash so similar prompts still differ.
        let bits = |shift: u32, modulo: u64| ((h >> shift) % modulo) as f64;
        let voice = if audio_type == "music" {
            let root = 48.0 + bits(0, 12); // C3..B3
            let third = if h & (1 << 40) == 0 { 4.0 } else { 3.0 }; // major or minor
            let notes = [0.0, third, 7.0, 12.0].map(|step| midi_to_hz(root + step));
            Voice::Music { notes }
        } else {
            let f0 = 110.0 + bits(0, 330);
            Voice::Sound {
                partials: [
                    (f0, 0.55),
                    (f0 * (1.5 + bits(16, 100) / 1000.0), 0.3),
                    (f0 * (2.0 + bits(24, 50) / 1000.0), 0.15),
                ],
                tremolo_hz: 0.5 + bits(32, 35) / 10.0,
            }
        };
        let fade_samples = (FADE_SECONDS * f64::from(SAMPLE_RATE)).min(f64::from(samples) / 2.0);
        Synth {
            voice,
            samples,
            fade_samples,
        }
    }

    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// Sample `i`, in -1.0..=1.0 before scaling.
    fn raw(&self, i: u32) -> f64 {
        let t = f64::from(i) / f64::from(SAMPLE_RATE);
        match &self.voice {
            Voice::Sound {
                partials,
                tremolo_hz,
            } => {
                let tone: f64 = partials.iter().map(|&(f, a)| a * (TAU * f * t).sin()).sum();
                let tremolo = 1.0 - 0.3 * (0.5 + 0.5 * (TAU * tremolo_hz * t).sin());
                tone * tremolo
            }
            Voice::Music { notes } => {
                let k = (t / NOTE_SECONDS) as usize;
                let f = notes[k % notes.len()];
                let tn = t - k as f64 * NOTE_SECONDS;
                // Short attack, exponential decay, short release: no clicks between notes.
                let attack = (tn / 0.01).min(1.0);
                let release = ((NOTE_SECONDS - tn) / 0.02).clamp(0.0, 1.0);
                let env = attack * release * (-4.0 * tn).exp();
                env * ((TAU * f * t).sin() + 0.3 * (TAU * 2.0 * f * t).sin()) / 1.3
            }
        }
    }

    /// Sample `i` as 16-bit PCM, with the fade in/out applied.
    pub fn sample(&self, i: u32) -> i16 {
        if i >= self.samples {
            return 0;
        }
        let edge = f64::from(i.min(self.samples - 1 - i));
        let fade = if self.fade_samples > 0.0 {
            (edge / self.fade_samples).min(1.0)
        } else {
            1.0
        };
        (self.raw(i) * fade * LEVEL)
            .round()
            .clamp(-32768.0, 32767.0) as i16
    }

    /// Little-endian PCM bytes of samples `start..end`.
    pub fn pcm(&self, start: u32, end: u32) -> Vec<u8> {
        let end = end.min(self.samples);
        let mut out = Vec::with_capacity(2 * end.saturating_sub(start) as usize);
        for i in start..end {
            out.extend_from_slice(&self.sample(i).to_le_bytes());
        }
        out
    }
}

/// The whole file in memory; handy for tests and small files.
pub fn render(prompt: &str, audio_type: &str, duration_s: f64) -> Vec<u8> {
    let synth = Synth::new(prompt, audio_type, sample_count(duration_s));
    let mut out = header(synth.samples()).to_vec();
    out.extend(synth.pcm(0, synth.samples()));
    out
}

fn midi_to_hz(note: f64) -> f64 {
    440.0 * 2f64.powf((note - 69.0) / 12.0)
}

/// FNV-1a: stable across Rust versions and platforms, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_sizes_match_sample_count() {
        let wav = render("rain on a tin roof", "sound", 1.0);
        assert_eq!(wav.len() as u64, file_len(22_050));
        assert_eq!(&wav[0..4], b"RIFF");
        let riff = u32::from_le_bytes([wav[4], wav[5], wav[6], wav[7]]);
        assert_eq!(riff as usize, wav.len() - 8);
    }

    #[test]
    fn prompts_change_the_audio_and_are_deterministic() {
        let a = render("rain", "sound", 0.2);
        assert_eq!(a, render("rain", "sound", 0.2));
        assert_ne!(a, render("thunder", "sound", 0.2));
        assert_ne!(a, render("rain", "music", 0.2));
    }

    #[test]
    fn audio_is_not_silent_and_fades() {
        let synth = Synth::new("birds", "music", sample_count(1.0));
        assert_eq!(synth.sample(0), 0);
        let peak = (0..synth.samples())
            .map(|i| synth.sample(i).unsigned_abs())
            .max();
        assert!(peak > Some(5000), "peak {peak:?}");
    }

    #[test]
    fn odd_durations_are_clamped() {
        assert_eq!(sample_count(f64::NAN), 0);
        assert_eq!(sample_count(-1.0), 0);
        assert_eq!(sample_count(1e12), sample_count(MAX_SECONDS));
        assert_eq!(render("x", "sound", 0.0).len(), HEADER_LEN);
    }
}
