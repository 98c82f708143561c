//! What enforcing a whole-call deadline costs per call.
//!
//! ureq's answer, `timeout_global`, makes its default resolver look the host up on
//! a new thread on every new connection. libcamb uses ureq with its own resolver
//! (src/resolver.rs: a cache, and no lookup at all for IP literals), and sets the
//! global timeout per call to what is left of the call's deadline.
//! This compares, against the in-process emulator on loopback, status calls made:
//!   libcamb            the Client as shipped (deadline enforced, retries on)
//!   ureq+global        a plain ureq agent with timeout_global (a thread per call)
//!   ureq, no timeout   a plain ureq agent with no timeout at all (the last column
//!                      is each p50 over this one's)
//!
//! Run: cargo bench --bench timeout_overhead   (CALLS=N to change the count)

use std::time::{Duration, Instant};

use camb::{Client, ClientConfig};
use camb_emulator::{Config, DEFAULT_API_KEY, Emulator};

fn main() {
    let calls: usize = std::env::var("CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let emulator = Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .unwrap();
    let base = emulator.base_url();
    let url = format!("{base}/text-to-sound/demo-success");

    let mut config = ClientConfig::default();
    config.set_base_url(&base).unwrap();
    config.set_api_key(DEFAULT_API_KEY).unwrap();
    let client = Client::new(config).unwrap();

    let plain = |global: Option<Duration>| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(global)
            .build()
            .new_agent()
    };
    let with_global = plain(Some(Duration::from_secs(60)));
    let without = plain(None);
    let ureq_call = |agent: &ureq::Agent| {
        let mut response = agent
            .get(&url)
            .header("x-api-key", DEFAULT_API_KEY)
            .call()
            .unwrap();
        response.body_mut().read_to_vec().unwrap();
    };

    type Call<'a> = Box<dyn Fn() + 'a>;
    let variants: Vec<(&str, Call)> = vec![
        (
            "libcamb",
            Box::new(|| drop(client.get_task_status("demo-success").unwrap())),
        ),
        ("ureq+global", Box::new(|| ureq_call(&with_global))),
        ("ureq, no timeout", Box::new(|| ureq_call(&without))),
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(calls); variants.len()];
    // Interleaved rounds, so that a noisy moment of the machine hits every variant.
    let rounds = 8;
    for round in 0..=rounds {
        for (i, (_, call)) in variants.iter().enumerate() {
            let count = if round == 0 { 200 } else { calls / rounds };
            for _ in 0..count {
                let started = Instant::now();
                call();
                if round > 0 {
                    samples[i].push(started.elapsed());
                }
            }
        }
    }
    let threads_after = std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0);

    println!("status calls against the emulator on loopback, {calls} per variant (after warm-up)");
    println!(
        "{:<18} {:>9} {:>9} {:>9}  {:>12}",
        "variant", "p50 us", "p99 us", "mean us", "p50 / ureq"
    );
    let p50 = |s: &mut Vec<Duration>| percentile(s, 0.50);
    let ureq_untimed = p50(&mut samples[2].clone());
    for ((name, _), s) in variants.iter().zip(samples.iter_mut()) {
        let mean = s.iter().sum::<Duration>() / s.len() as u32;
        println!(
            "{:<18} {:>9.1} {:>9.1} {:>9.1}  {:>11.2}x",
            name,
            micros(p50(s)),
            micros(percentile(s, 0.99)),
            micros(mean),
            micros(p50(s)) / micros(ureq_untimed)
        );
    }
    println!("threads in this process at the end: {threads_after} (emulator workers included)");
    println!(
        "emulator connections accepted: {}",
        emulator.stats().connections_accepted
    );
}

fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort_unstable();
    samples[((samples.len() - 1) as f64 * q) as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
