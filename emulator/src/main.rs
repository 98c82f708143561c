//! `camb-emulator`: runs the emulator until killed.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use camb_emulator::{Config, Emulator};

const USAGE: &str = "\
Usage: camb-emulator [--port N] [--api-key KEY]... [--pending-ms N] [--delay-ms N]
                     [--no-demo-tasks]

Serves an emulation of CAMB.AI's text-to-sound API on 127.0.0.1 until killed.

  --port N          port to listen on (default 0: any free port)
  --api-key KEY     accepted x-api-key value; repeat for several
                    (default: camb-emulator-key)
  --pending-ms N    how long new tasks stay PENDING (default 3000)
  --delay-ms N      wait N ms before answering each API request (not the
                    /_emulator control calls); requests wait concurrently
                    (default 0)
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
            "--no-demo-tasks" => config.demo_tasks = false,
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if !keys.is_empty() {
        config.api_keys = keys;
    }
    Ok(Some((config, port)))
}
