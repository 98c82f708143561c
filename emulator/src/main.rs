//! `camb-emulator`: runs the emulator until killed.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use camb_emulator::{Config, Emulator};

const USAGE: &str = "\
Usage: camb-emulator [--port N] [--api-key KEY]... [--pending-ms N] [--delay-ms N]
                     [--tts-first-chunk-ms N] [--tts-pace X] [--tts-chunk-ms N]
                     [--no-demo-tasks]

Serves an emulation of CAMB.AI's text-to-sound and streaming text-to-speech
APIs on 127.0.0.1 until killed.

  --port N          port to listen on (default 0: any free port)
  --api-key KEY     accepted x-api-key value; repeat for several
                    (default: camb-emulator-key)
  --pending-ms N    how long new tasks stay PENDING (default 3000)
  --delay-ms N      wait N ms before answering each API request (not the
                    /_emulator control calls); requests wait concurrently
                    (default 0)
  --tts-first-chunk-ms N
                    /tts-stream: delay before the first audio chunk
                    (default 150)
  --tts-pace X      /tts-stream: audio produced per second of wall time after
                    the first chunk; 1 = real time, 2 = twice as fast,
                    0 = as fast as the client reads (default 1)
  --tts-chunk-ms N  /tts-stream: milliseconds of audio per chunk (default 20)
  --no-demo-tasks   do not seed the demo-* tasks
  -h, --help        show this help

Prints one line, `listening on http://127.0.0.1:PORT`, once ready.";

fn main() -> ExitCode {
    let (config, port) = match parse_args(std::env::args().skip(1)) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("camb-emulator: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let emulator = match Emulator::start_on(config, SocketAddr::from((Ipv4Addr::LOCALHOST, port))) {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("camb-emulator: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Scripts read this line to learn the port, so it must be flushed right away.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on {}", emulator.base_url());
    let _ = stdout.flush();
    // Serve until a signal's default action ends the process.
    loop {
        std::thread::park();
    }
}

/// `Ok(None)` means help was asked for.
fn parse_args(args: impl Iterator<Item = String>) -> Result<Option<(Config, u16)>, String> {
    let mut config = Config::default();
    let mut keys = Vec::new();
    let mut port = 0;
    let mut args = args;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => {
                let v = value("--port")?;
                port = v.parse().map_err(|_| format!("invalid port: {v}"))?;
            }
            "--api-key" => keys.push(value("--api-key")?),
            "--pending-ms" => {
                let v = value("--pending-ms")?;
                config.pending_ms = v
                    .parse()
                    .map_err(|_| format!("invalid --pending-ms: {v}"))?;
            }
            "--delay-ms" => {
                let v = value("--delay-ms")?;
                config.request_delay_ms =
                    v.parse().map_err(|_| format!("invalid --delay-ms: {v}"))?;
            }
            "--tts-first-chunk-ms" => {
                let v = value("--tts-first-chunk-ms")?;
                config.tts_first_chunk_ms = v
                    .parse()
                    .map_err(|_| format!("invalid --tts-first-chunk-ms: {v}"))?;
            }
            "--tts-pace" => {
                let v = value("--tts-pace")?;
                config.tts_pace = v
                    .parse()
                    .ok()
                    .filter(|p: &f64| p.is_finite() && *p >= 0.0)
                    .ok_or(format!("invalid --tts-pace (a number >= 0): {v}"))?;
            }
            "--tts-chunk-ms" => {
                let v = value("--tts-chunk-ms")?;
                config.tts_chunk_ms = v
                    .parse()
                    .ok()
                    .filter(|ms| *ms > 0)
                    .ok_or(format!("invalid --tts-chunk-ms (1 or more): {v}"))?;
            }
            "--no-demo-tasks" => config.demo_tasks = false,
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if !keys.is_empty() {
        config.api_keys = keys;
    }
    Ok(Some((config, port)))
}
