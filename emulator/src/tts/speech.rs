//! Deterministic, speech-like audio for a text: not words, but syllable-paced voiced and
//! unvoiced sounds with pauses where the text has them, so clients and people listening
//! get something that behaves like speech (loudness that comes and goes, a pitch per
//! voice).
//!
//! Like `wav::Synth`, every sample is a pure function of its index: the stream renders
//! any range without state and never holds the audio. The text is stretched over the
//! requested duration, one sound per character.

use std::f64::consts::{PI, TAU};

/// Harmonics summed for voiced sounds: enough for vowel colour, cheap per sample.
const HARMONICS: usize = 12;
/// Peak level before the final clamp, leaving headroom below full scale.
const LEVEL: f64 = 0.7;
/// Fade at both ends of the audio, in seconds, so it starts and ends without a click.
const EDGE_FADE_S: f64 = 0.01;
/// Share of a sound spent rising (and again falling), so sounds join without clicks.
const SOUND_RAMP: f64 = 0.2;
/// Slow pitch movement: depth (fraction of f0) and rate (Hz) of the intonation.
const INTONATION_DEPTH: f64 = 0.06;
const INTONATION_HZ: f64 = 1.7;

/// Vowel formants (F1, F2) in Hz: a, e, i, o, u, and a neutral schwa.
const VOWELS: [(f64, f64); 6] = [
    (730.0, 1090.0),
    (530.0, 1840.0),
    (270.0, 2290.0),
    (570.0, 840.0),
    (300.0, 870.0),
    (500.0, 1500.0),
];
/// Voiced consonants (l, m, n, r, ...): low, murmured formants.
const MURMUR: (f64, f64) = (250.0, 1200.0);

#[derive(Debug, Clone, Copy)]
enum Sound {
    /// Index into the harmonic amplitude tables: a vowel, or (`VOWELS.len()`) the murmur.
    Voiced {
        table: usize,
        gain: f64,
    },
    /// Hiss (s, f, t, k, ...).
    Noise,
    Silence,
}

/// The audio for one text, voice and sample rate.
pub struct Speech {
    rate: f64,
    samples: u64,
    sounds: Vec<Sound>,
    /// Samples per sound.
    sound_len: f64,
    f0: f64,
    /// Harmonic amplitudes per vowel, then the murmur; normalised to sum to `LEVEL`.
    tables: Vec<[f64; HARMONICS]>,
    seed: u64,
}

impl Speech {
    pub fn new(text: &str, voice_id: i64, sample_rate: u32, samples: u64) -> Speech {
        let seed = fnv1a(text.as_bytes()) ^ fnv1a(&voice_id.to_le_bytes());
        // Voices differ in pitch: 90..=230 Hz, picked by the voice id alone.
        let f0 = 90.0 + (fnv1a(&voice_id.to_le_bytes()) % 141) as f64;
        let mut sounds: Vec<Sound> = text.chars().map(sound_of).collect();
        if sounds.is_empty() {
            sounds.push(Sound::Silence);
        }
        let rate = f64::from(sample_rate);
        let nyquist_room = rate / 2.0 - 500.0;
        let tables = VOWELS
            .iter()
            .chain([&MURMUR])
            .map(|&(f1, f2)| harmonic_table(f0, f1, f2, nyquist_room))
            .collect();
        Speech {
            rate,
            samples,
            sound_len: (samples as f64 / sounds.len() as f64).max(1.0),
            sounds,
            f0,
            tables,
            seed,
        }
    }

    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Sample `i` in -1.0..=1.0 (0 past the end).
    pub fn sample(&self, i: u64) -> f64 {
        if i >= self.samples {
            return 0.0;
        }
        let position = i as f64 / self.sound_len;
        let index = (position as usize).min(self.sounds.len() - 1);
        let within = (position - index as f64).clamp(0.0, 1.0);
        let envelope = ramp(within.min(1.0 - within) / SOUND_RAMP) * self.edge_fade(i);
        if envelope == 0.0 {
            return 0.0;
        }
        let value = match self.sounds[index] {
            Sound::Silence => 0.0,
            Sound::Noise => 0.25 * LEVEL * (noise(self.seed, i) - noise(self.seed, i + 1)),
            Sound::Voiced { table, gain } => gain * self.voiced(i, &self.tables[table]),
        };
        (value * envelope).clamp(-1.0, 1.0)
    }

    /// Harmonics of a gliding fundamental. The phase is the closed-form integral of
    /// f0 * (1 + d sin(2 pi r t)), so the pitch moves without any state.
    fn voiced(&self, i: u64, table: &[f64; HARMONICS]) -> f64 {
        let t = i as f64 / self.rate;
        let w = TAU * INTONATION_HZ;
        let phase = TAU * self.f0 * (t + INTONATION_DEPTH * (1.0 - (w * t).cos()) / w);
        table
            .iter()
            .enumerate()
            .filter(|(_, a)| **a != 0.0)
            .map(|(k, a)| a * ((k + 1) as f64 * phase).sin())
            .sum()
    }

    fn edge_fade(&self, i: u64) -> f64 {
        let fade = EDGE_FADE_S * self.rate;
        let edge = i.min(self.samples - 1 - i) as f64;
        (edge / fade).min(1.0)
    }
}

/// Amplitudes of harmonics 1..=HARMONICS of `f0` shaped by two formant resonances and a
/// falling tilt; harmonics above `max_hz` are left out so nothing aliases.
fn harmonic_table(f0: f64, f1: f64, f2: f64, max_hz: f64) -> [f64; HARMONICS] {
    let resonance = |f: f64, centre: f64, width: f64| 1.0 / (1.0 + ((f - centre) / width).powi(2));
    let mut table = [0.0; HARMONICS];
    for (k, a) in table.iter_mut().enumerate() {
        let f = (k + 1) as f64 * f0;
        if f < max_hz {
            *a = resonance(f, f1, 90.0) + 0.6 * resonance(f, f2, 120.0) + 0.15 / (k + 1) as f64;
        }
    }
    let sum: f64 = table.iter().sum();
    if sum > 0.0 {
        table.iter_mut().for_each(|a| *a *= LEVEL / sum);
    }
    table
}

fn sound_of(c: char) -> Sound {
    let voiced = |table: usize| Sound::Voiced { table, gain: 1.0 };
    match c.to_ascii_lowercase() {
        'a' => voiced(0),
        'e' => voiced(1),
        'i' | 'y' => voiced(2),
        'o' => voiced(3),
        'u' | 'w' => voiced(4),
        'l' | 'm' | 'n' | 'r' | 'v' | 'z' | 'b' | 'd' | 'g' | 'j' => Sound::Voiced {
            table: VOWELS.len(),
            gain: 0.6,
        },
        's' | 'f' | 'h' | 'c' | 'x' | 't' | 'k' | 'p' | 'q' => Sound::Noise,
        c if c.is_alphanumeric() => voiced(fnv1a(c.to_string().as_bytes()) as usize % VOWELS.len()),
        _ => Sound::Silence,
    }
}

/// 0 at 0, 1 from 1 on, smooth in between.
fn ramp(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    0.5 - 0.5 * (PI * x).cos()
}

/// White noise in -1.0..=1.0 as a pure function of (seed, index).
fn noise(seed: u64, i: u64) -> f64 {
    let mut x = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64's finaliser.
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
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

    fn render(speech: &Speech) -> Vec<f64> {
        (0..speech.samples()).map(|i| speech.sample(i)).collect()
    }

    #[test]
    fn deterministic_and_depends_on_text_and_voice() {
        let a = render(&Speech::new("Hello world", 1, 22_050, 22_050));
        assert_eq!(a, render(&Speech::new("Hello world", 1, 22_050, 22_050)));
        assert_ne!(a, render(&Speech::new("Hello there", 1, 22_050, 22_050)));
        assert_ne!(a, render(&Speech::new("Hello world", 2, 22_050, 22_050)));
    }

    #[test]
    fn speech_is_audible_bounded_and_pauses_at_spaces() {
        let speech = Speech::new("aaaa    aaaa", 147_320, 48_000, 48_000);
        let samples = render(&speech);
        assert!(samples.iter().all(|s| s.abs() <= 1.0));
        assert_eq!(samples[0], 0.0);
        let peak = samples.iter().fold(0.0f64, |m, s| m.max(s.abs()));
        assert!(peak > 0.3, "peak {peak}");
        // The middle third is the run of spaces: silence.
        assert!(samples[20_000..28_000].iter().all(|s| *s == 0.0));
    }

    #[test]
    fn noise_is_in_range() {
        for i in 0..10_000 {
            let n = noise(42, i);
            assert!((-1.0..=1.0).contains(&n));
        }
    }
}
