//! Both forms of every operation, one meaning: each case of each operation's
//! table runs once as a blocking call and once as a job (made, submitted, taken
//! from its queue), each against a fresh emulator set up the same way, and both
//! must give the same result code, HTTP status, words, output and number of
//! requests. The batch's deadline case is here: bounded as a whole in both.

mod common;

use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::ptr;

use camb::ffi::audio::*;
use camb::ffi::batch::*;
use camb::ffi::builder::*;
use camb::ffi::cancel::*;
use camb::ffi::client::*;
use camb::ffi::create::*;
use camb::ffi::generate::*;
use camb::ffi::job::*;
use camb::ffi::queue::*;
use camb::ffi::result_code::camb_result;
use camb::ffi::string::camb_string_free;
use camb::ffi::task::*;
use camb::ffi::wait::*;
use common::*;

/// What one form of an operation gave: comparable across forms.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    result: camb_result,
    http_status: u16,
    /// The error's words (None on success).
    error: Option<String>,
    /// The output, written out (the task's status, the bytes, the URL...).
    output: String,
    /// Requests the emulator answered.
    requests: usize,
}

/// How a case sets up its emulator and client.
#[derive(Clone, Default)]
struct Setup {
    faults: Vec<Fault>,
    delay_ms: u64,
    timeout_ms: Option<u64>,
    max_retries: Option<u32>,
    cancelled: bool,
}

/// The world one form of one case runs in.
struct World {
    emulator: Emulator,
    client: *mut camb_client,
    /// Raised before the call when the case is about cancellation.
    token: *mut camb_cancel_token,
    dir: PathBuf,
}

impl World {
    fn new(setup: &Setup, name: &str) -> World {
        let emulator = Emulator::start(Config {
            pending_ms: 0,
            request_delay_ms: setup.delay_ms,
            ..Config::default()
        })
        .unwrap();
        for fault in &setup.faults {
            emulator.push_fault(fault.clone());
        }
        let builder = c_builder(DEFAULT_API_KEY, &emulator.base_url());
        let mut client = ptr::null_mut();
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("forms-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // SAFETY: a live builder, consumed by the build; a live token.
        unsafe {
            if let Some(ms) = setup.timeout_ms {
                assert_eq!(
                    camb_client_builder_set_timeout_ms(builder, ms),
                    camb_result::Ok
                );
            }
            if let Some(n) = setup.max_retries {
                assert_eq!(
                    camb_client_builder_set_max_retries(builder, n),
                    camb_result::Ok
                );
            }
            assert_eq!(
                camb_client_builder_build(builder, &mut client),
                camb_result::Ok
            );
            let token = camb_cancel_token_new();
            if setup.cancelled {
                camb_cancel_token_cancel(token);
            }
            World {
                emulator,
                client,
                token,
                dir,
            }
        }
    }

    /// `text` without what differs from one world to the next: the emulator's
    /// address, the ids of the tasks it makes, its URLs' signatures, the
    /// world's directory.
    fn normalize(&self, text: &str) -> String {
        let text = text
            .replace(&self.emulator.base_url(), "{base}")
            .replace(self.dir.to_str().unwrap(), "{dir}");
        text.split(' ')
            .map(|word| {
                let hex_groups: Vec<usize> = word.split('-').map(str::len).collect();
                let is_uuid = hex_groups == [8, 4, 4, 4, 12]
                    && word.chars().all(|c| c == '-' || c.is_ascii_hexdigit());
                match word.split_once("signature=") {
                    _ if is_uuid => "{task}".to_owned(),
                    Some((url, _)) => format!("{url}signature={{signature}}"),
                    None => word.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn requests(&self) -> usize {
        self.emulator.stats().requests_total as usize
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // SAFETY: made in `new`, freed once.
        unsafe {
            camb_client_free(self.client);
            camb_cancel_token_free(self.token);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The outcome of a blocking call that returned `result`, with `output` read
/// from its out-parameters.
fn blocking_outcome(world: &World, result: camb_result, output: String) -> Outcome {
    let ok = result == camb_result::Ok;
    Outcome {
        result,
        http_status: if ok {
            0
        } else {
            camb::ffi::last_error::camb_last_http_status()
        },
        error: (!ok).then(|| world.normalize(&last_error())),
        output: if ok {
            world.normalize(&output)
        } else {
            String::new()
        },
        requests: world.requests(),
    }
}

/// The job form: `make` the job (its refusal is the outcome), cancel it first
/// when the case is about cancellation, submit it, take it back, read it.
fn job_outcome(
    world: &World,
    make: impl FnOnce(*mut *mut camb_job) -> camb_result,
    read: impl FnOnce(*const camb_job) -> String,
) -> Outcome {
    let mut job = ptr::null_mut();
    let made = make(&mut job);
    if made != camb_result::Ok {
        return blocking_outcome(world, made, String::new());
    }
    // SAFETY: a job just made, and a queue made and freed here.
    unsafe {
        // SAFETY: a live token.
        if camb_cancel_token_is_cancelled(world.token) {
            camb_job_cancel(job);
        }
        let mut queue = ptr::null_mut();
        assert_eq!(camb_queue_new(&mut queue), camb_result::Ok);
        assert_eq!(
            camb_job_submit(job, queue, ptr::null_mut()),
            camb_result::Ok
        );
        let (mut event, mut done) = (camb_event::JobData, ptr::null_mut());
        assert_eq!(
            camb_queue_wait(queue, 30_000, &mut event, &mut done),
            camb_result::Ok
        );
        assert_eq!((event, done), (camb_event::JobDone, job));
        let result = camb_job_result(job);
        let mut len = 0;
        let error = c_text(camb_job_error(job, &mut len), len);
        let outcome = Outcome {
            result,
            http_status: camb_job_http_status(job),
            error: error.map(|e| world.normalize(&e)),
            output: if result == camb_result::Ok {
                world.normalize(&read(job))
            } else {
                String::new()
            },
            requests: world.requests(),
        };
        camb_job_free(job);
        camb_queue_free(queue);
        outcome
    }
}

/// A task's status and run id, written out.
fn task_text(task: *const camb_task) -> String {
    let view = read_task(task);
    format!("{} {:?} {:?}", view.task_id, view.status, view.run_id)
}

fn list_text(list: *const camb_task_list) -> String {
    // SAFETY: a live list.
    unsafe {
        (0..camb_task_list_len(list))
            .map(|i| {
                let task = read_task(camb_task_list_get(list, i));
                format!("{} {:?} {:?}", task.task_id, task.result, task.status)
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn url_list_text(list: *const camb_audio_url_list) -> String {
    // SAFETY: a live list.
    unsafe {
        (0..camb_audio_url_list_len(list))
            .map(|i| {
                let (mut run, mut len) = (0, 0);
                let url = c_text(camb_audio_url_list_get(list, i, &mut run, &mut len), len);
                format!("{run} {url:?}")
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Both forms of `case` of `operation`: the same outcome, and the expected code.
fn both_forms(
    operation: &str,
    case: &str,
    setup: &Setup,
    expected: camb_result,
    blocking: impl Fn(&World) -> Outcome,
    job: impl Fn(&World) -> Outcome,
) -> Outcome {
    let name = format!("{operation}-{case}").replace(' ', "-");
    let here = blocking(&World::new(setup, &format!("{name}-blocking")));
    let queued = job(&World::new(setup, &format!("{name}-job")));
    assert_eq!(here, queued, "{operation}, {case}: the two forms differ");
    assert_eq!(here.result, expected, "{operation}, {case}: {here:?}");
    here
}

fn fault_on(prefix: &str, times: u32, status: u16, body: &str) -> Fault {
    Fault {
        path_prefix: Some(prefix.into()),
        times,
        respond: Some(FaultResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
            content_type: Some("application/json".into()),
        }),
        ..Fault::default()
    }
}

fn slow(prefix: &str, ms: u64) -> Fault {
    Fault {
        path_prefix: Some(prefix.into()),
        times: 100,
        delay_ms: ms,
        ..Fault::default()
    }
}

fn quick_wait(deadline_ms: u64) -> camb_wait_options {
    camb_wait_options {
        initial_interval_ms: 20,
        max_interval_ms: 50,
        deadline_ms,
        ..camb_wait_options_default()
    }
}

#[test]
fn a_status_query_means_the_same_in_both_forms() {
    let cases: Vec<(&str, &str, Setup, camb_result)> = vec![
        ("final", "demo-success", Setup::default(), camb_result::Ok),
        (
            "unknown",
            "no-such-task",
            Setup::default(),
            camb_result::NotFound,
        ),
        (
            "a bad id",
            "..",
            Setup::default(),
            camb_result::InvalidParameter,
        ),
        (
            "a 503 then an answer",
            "demo-success",
            Setup {
                faults: vec![fault_on("/text-to-sound/", 1, 503, r#"{"detail":"busy"}"#)],
                ..Setup::default()
            },
            camb_result::Ok,
        ),
        (
            "503s past the retries",
            "demo-success",
            Setup {
                faults: vec![fault_on("/text-to-sound/", 10, 503, r#"{"detail":"busy"}"#)],
                max_retries: Some(1),
                ..Setup::default()
            },
            camb_result::ServerError,
        ),
        (
            "a 401",
            "demo-success",
            Setup {
                faults: vec![fault_on(
                    "/text-to-sound/",
                    10,
                    401,
                    r#"{"detail":"no key"}"#,
                )],
                ..Setup::default()
            },
            camb_result::Unauthorized,
        ),
        (
            "too slow",
            "demo-success",
            Setup {
                faults: vec![slow("/text-to-sound/", 2_000)],
                timeout_ms: Some(300),
                ..Setup::default()
            },
            camb_result::Timeout,
        ),
        (
            "cancelled",
            "demo-success",
            Setup {
                cancelled: true,
                ..Setup::default()
            },
            camb_result::Cancelled,
        ),
    ];
    for (case, id, setup, expected) in cases {
        let outcome = both_forms(
            "status",
            case,
            &setup,
            expected,
            |w| {
                let mut task = ptr::null_mut();
                // SAFETY: live handles; the task is freed here.
                unsafe {
                    let r =
                        camb_client_get_task_status(w.client, c(id).as_ptr(), w.token, &mut task);
                    let out = if r == camb_result::Ok {
                        task_text(task)
                    } else {
                        String::new()
                    };
                    camb_task_free(task);
                    blocking_outcome(w, r, out)
                }
            },
            |w| {
                job_outcome(
                    w,
                    // SAFETY: live handles.
                    |job| unsafe { camb_client_job_get_task_status(w.client, c(id).as_ptr(), job) },
                    // SAFETY: a finished job.
                    |job| task_text(unsafe { camb_job_task(job) }),
                )
            },
        );
        if case == "final" {
            assert_eq!(outcome.output, "demo-success Success Some(4242)");
        }
        if case == "a 503 then an answer" {
            assert_eq!(outcome.requests, 2, "retried once");
        }
    }
}

#[test]
fn a_create_means_the_same_in_both_forms() {
    let cases: Vec<(&str, &str, Setup, camb_result)> = vec![
        ("created", "rain", Setup::default(), camb_result::Ok),
        (
            "an empty prompt",
            "",
            Setup::default(),
            camb_result::InvalidParameter,
        ),
        (
            "a 500 is not retried",
            "rain",
            Setup {
                faults: vec![fault_on("/text-to-sound", 5, 500, r#"{"detail":"down"}"#)],
                ..Setup::default()
            },
            camb_result::ServerError,
        ),
        (
            "a 422 in the server's words",
            "rain",
            Setup {
                faults: vec![fault_on(
                    "/text-to-sound",
                    5,
                    422,
                    r#"{"detail":[{"loc":["body","prompt"],"msg":"too loud"}]}"#,
                )],
                ..Setup::default()
            },
            camb_result::Validation,
        ),
    ];
    for (case, prompt, setup, expected) in cases {
        let outcome = both_forms(
            "create",
            case,
            &setup,
            expected,
            |w| {
                let mut id: *mut c_char = ptr::null_mut();
                // SAFETY: live handles; the id is freed here.
                unsafe {
                    let r = camb_client_create_task(
                        w.client,
                        c(prompt).as_ptr(),
                        ptr::null(),
                        w.token,
                        &mut id,
                        ptr::null_mut(),
                    );
                    let out = if r == camb_result::Ok {
                        "an id".to_owned()
                    } else {
                        String::new()
                    };
                    camb_string_free(id);
                    blocking_outcome(w, r, out)
                }
            },
            |w| {
                job_outcome(
                    w,
                    // SAFETY: live handles.
                    |job| unsafe {
                        camb_client_job_create_task(w.client, c(prompt).as_ptr(), ptr::null(), job)
                    },
                    |job| {
                        let mut len = 0;
                        // SAFETY: a finished job.
                        let id = c_text(unsafe { camb_job_task_id(job, &mut len) }, len);
                        if id.is_some_and(|id| !id.is_empty()) {
                            "an id".into()
                        } else {
                            String::new()
                        }
                    },
                )
            },
        );
        if case == "a 500 is not retried" {
            assert_eq!(outcome.requests, 1);
        }
        if case == "a 422 in the server's words" {
            assert!(outcome.error.unwrap().contains("body.prompt: too loud"));
        }
    }
}

#[test]
fn a_wait_means_the_same_in_both_forms() {
    let cases: Vec<(&str, &str, u64, Setup, camb_result)> = vec![
        (
            "success",
            "demo-success",
            10_000,
            Setup::default(),
            camb_result::Ok,
        ),
        (
            "a final error",
            "demo-error",
            10_000,
            Setup::default(),
            camb_result::Ok,
        ),
        (
            "unknown",
            "no-such-task",
            10_000,
            Setup::default(),
            camb_result::NotFound,
        ),
        (
            "past its deadline",
            "demo-pending",
            300,
            Setup::default(),
            camb_result::Timeout,
        ),
        (
            "cancelled",
            "demo-pending",
            10_000,
            Setup {
                cancelled: true,
                ..Setup::default()
            },
            camb_result::Cancelled,
        ),
    ];
    for (case, id, deadline_ms, setup, expected) in cases {
        let options = quick_wait(deadline_ms);
        let outcome = both_forms(
            "wait",
            case,
            &setup,
            expected,
            |w| {
                let mut task = ptr::null_mut();
                // SAFETY: live handles; the task is freed here.
                unsafe {
                    let r = camb_client_wait_for_task(
                        w.client,
                        c(id).as_ptr(),
                        &options,
                        w.token,
                        None,
                        ptr::null_mut(),
                        &mut task,
                    );
                    let out = if r == camb_result::Ok {
                        task_text(task)
                    } else {
                        String::new()
                    };
                    camb_task_free(task);
                    blocking_outcome(w, r, out)
                }
            },
            |w| {
                job_outcome(
                    w,
                    // SAFETY: live handles.
                    |job| unsafe {
                        camb_client_job_wait_for_task(w.client, c(id).as_ptr(), &options, job)
                    },
                    // SAFETY: a finished job.
                    |job| task_text(unsafe { camb_job_task(job) }),
                )
            },
        );
        if case == "past its deadline" {
            // The polls' count depends on timing; the words name the deadline.
            assert!(outcome.error.unwrap().contains("deadline of 300 ms"));
        }
    }
}

unsafe extern "C" fn collect(data: *const u8, len: usize, user_data: *mut c_void) -> bool {
    // SAFETY: libcamb passes `len` bytes; the test a live Vec<u8>.
    unsafe {
        (*user_data.cast::<Vec<u8>>()).extend_from_slice(std::slice::from_raw_parts(data, len));
    }
    true
}

#[test]
fn the_audio_calls_mean_the_same_in_both_forms() {
    for (case, run_id, expected) in [
        ("a run", 4242i64, camb_result::Ok),
        ("no such run", 999_999, camb_result::NotFound),
    ] {
        // The audio: to the caller's function here, into memory as a job.
        let outcome = both_forms(
            "download",
            case,
            &Setup::default(),
            expected,
            |w| {
                let mut audio = Vec::<u8>::new();
                // SAFETY: live handles; `audio` outlives the call.
                let r = unsafe {
                    camb_client_download_audio(
                        w.client,
                        run_id,
                        w.token,
                        Some(collect),
                        ptr::from_mut(&mut audio).cast(),
                        ptr::null_mut(),
                    )
                };
                blocking_outcome(
                    w,
                    r,
                    format!("{} bytes {:x}", audio.len(), checksum(&audio)),
                )
            },
            |w| {
                job_outcome(
                    w,
                    // SAFETY: a live client.
                    |job| unsafe { camb_client_job_download_audio(w.client, run_id, job) },
                    |job| {
                        let mut len = 0;
                        // SAFETY: a finished job; its audio lives as long as it.
                        let audio = unsafe {
                            std::slice::from_raw_parts(camb_job_audio(job, &mut len), len)
                        };
                        format!("{} bytes {:x}", audio.len(), checksum(audio))
                    },
                )
            },
        );
        if expected == camb_result::Ok {
            assert!(outcome.output.starts_with("88244 bytes"), "{outcome:?}");
        }
        // To a file.
        both_forms(
            "save",
            case,
            &Setup::default(),
            expected,
            |w| {
                let path = c(w.dir.join("a.wav").to_str().unwrap());
                let mut bytes = 0;
                // SAFETY: live handles.
                let r = unsafe {
                    camb_client_save_audio(w.client, run_id, path.as_ptr(), w.token, &mut bytes)
                };
                blocking_outcome(w, r, format!("{bytes} {}", file_len(&w.dir.join("a.wav"))))
            },
            |w| {
                let path = c(w.dir.join("a.wav").to_str().unwrap());
                job_outcome(
                    w,
                    // SAFETY: live handles.
                    |job| unsafe {
                        camb_client_job_save_audio(w.client, run_id, path.as_ptr(), job)
                    },
                    // SAFETY: a finished job.
                    |job| {
                        format!(
                            "{} {}",
                            unsafe { camb_job_bytes(job) },
                            file_len(&w.dir.join("a.wav"))
                        )
                    },
                )
            },
        );
        // Its URL.
        both_forms(
            "audio url",
            case,
            &Setup::default(),
            expected,
            |w| {
                let mut url: *mut c_char = ptr::null_mut();
                let mut len = 0;
                // SAFETY: live handles; the URL is freed here.
                unsafe {
                    let r =
                        camb_client_get_audio_url(w.client, run_id, w.token, &mut url, &mut len);
                    let out = c_text(url, if url.is_null() { 0 } else { len }).unwrap_or_default();
                    camb_string_free(url);
                    blocking_outcome(w, r, out)
                }
            },
            |w| {
                job_outcome(
                    w,
                    // SAFETY: a live client.
                    |job| unsafe { camb_client_job_get_audio_url(w.client, run_id, job) },
                    |job| {
                        let mut len = 0;
                        // SAFETY: a finished job.
                        c_text(unsafe { camb_job_audio_url(job, &mut len) }, len).unwrap()
                    },
                )
            },
        );
    }
    // A file that could never be saved: refused before the request, in both.
    let outcome = both_forms(
        "save",
        "no such directory",
        &Setup::default(),
        camb_result::Io,
        |w| {
            let path = c(w.dir.join("missing/a.wav").to_str().unwrap());
            // SAFETY: live handles.
            let r = unsafe {
                camb_client_save_audio(w.client, 4242, path.as_ptr(), w.token, ptr::null_mut())
            };
            blocking_outcome(w, r, String::new())
        },
        |w| {
            let path = c(w.dir.join("missing/a.wav").to_str().unwrap());
            job_outcome(
                w,
                // SAFETY: live handles.
                |job| unsafe { camb_client_job_save_audio(w.client, 4242, path.as_ptr(), job) },
                |_| String::new(),
            )
        },
    );
    assert_eq!(outcome.requests, 0);
    // Many URLs; and none, which sends nothing.
    for (case, runs) in [("two runs", vec![4242i64, 999_999]), ("none", vec![])] {
        let outcome = both_forms(
            "audio urls",
            case,
            &Setup::default(),
            camb_result::Ok,
            |w| {
                let mut list = ptr::null_mut();
                // SAFETY: live handles; the list is freed here.
                unsafe {
                    let r = camb_client_get_audio_urls(
                        w.client,
                        runs.as_ptr(),
                        runs.len(),
                        w.token,
                        &mut list,
                    );
                    let out = url_list_text(list);
                    camb_audio_url_list_free(list);
                    blocking_outcome(w, r, out)
                }
            },
            |w| {
                job_outcome(
                    w,
                    // SAFETY: a live client and `runs`.
                    |job| unsafe {
                        camb_client_job_get_audio_urls(w.client, runs.as_ptr(), runs.len(), job)
                    },
                    // SAFETY: a finished job.
                    |job| url_list_text(unsafe { camb_job_audio_url_list(job) }),
                )
            },
        );
        assert_eq!(outcome.requests, usize::from(!runs.is_empty()));
    }
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The batch, with the case that once told the forms apart: 10 ids on one
/// connection, a 1000 ms client timeout and 300 ms per reply. Both forms are
/// bounded as a whole: a few entries answered, the rest TIMEOUT (the job form
/// once answered all 10 after 3 s).
#[test]
fn a_batch_means_the_same_in_both_forms_and_is_bounded_as_a_whole() {
    let ids: Vec<String> = (0..10).map(|_| "demo-success".to_owned()).collect();
    let run = |setup: &Setup, ids: &[String], connections: u32, case: &str| {
        let c_ids: Vec<_> = ids.iter().map(|id| c(id)).collect();
        let pointers: Vec<*const c_char> = c_ids.iter().map(|id| id.as_ptr()).collect();
        both_forms(
            "batch",
            case,
            setup,
            camb_result::Ok,
            |w| {
                let mut list = ptr::null_mut();
                // SAFETY: live handles and ids; the list is freed here.
                unsafe {
                    let r = camb_client_get_task_statuses(
                        w.client,
                        pointers.as_ptr(),
                        pointers.len(),
                        connections,
                        w.token,
                        &mut list,
                    );
                    let out = list_text(list);
                    camb_task_list_free(list);
                    blocking_outcome(w, r, out)
                }
            },
            |w| {
                job_outcome(
                    w,
                    // SAFETY: live handles and ids.
                    |job| unsafe {
                        camb_client_job_get_task_statuses(
                            w.client,
                            pointers.as_ptr(),
                            pointers.len(),
                            connections,
                            job,
                        )
                    },
                    // SAFETY: a finished job.
                    |job| list_text(unsafe { camb_job_task_list(job) }),
                )
            },
        )
    };
    let mixed: Vec<String> = ["demo-success", "no-such-task", "", "demo-error"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let outcome = run(&Setup::default(), &mixed, 2, "mixed");
    assert_eq!(
        outcome.output,
        "demo-success Ok Success; no-such-task NotFound Unknown;  \
         InvalidParameter Unknown; demo-error Ok Error"
    );
    assert_eq!(outcome.requests, 3, "the bad id is not sent");
    let deadline_case = Setup {
        delay_ms: 300,
        timeout_ms: Some(1_000),
        ..Setup::default()
    };
    let outcome = run(&deadline_case, &ids, 1, "the deadline");
    let answered = outcome.output.matches(" Ok Success").count();
    let timed_out = outcome.output.matches(" Timeout ").count();
    assert_eq!(answered + timed_out, 10, "{}", outcome.output);
    assert!(
        (1..=4).contains(&answered),
        "{answered} of 10 answered within the batch's 1000 ms: {}",
        outcome.output
    );
}

#[test]
fn a_generation_means_the_same_in_both_forms() {
    let cases: Vec<(&str, &str, &str, camb_result)> = vec![
        (
            "a sound",
            "a bell [pending_ms:50]",
            "bell.wav",
            camb_result::Ok,
        ),
        (
            "a task that failed",
            "a bell [status:ERROR]",
            "bell.wav",
            camb_result::TaskFailed,
        ),
        // Refused before any task is created (and billed), in both forms.
        (
            "no such directory",
            "a bell",
            "missing/bell.wav",
            camb_result::Io,
        ),
        ("a directory", "a bell", ".", camb_result::Io),
    ];
    for (case, prompt, file, expected) in cases {
        let options = quick_wait(10_000);
        let outcome = both_forms(
            "generate",
            case,
            &Setup::default(),
            expected,
            |w| {
                let path = c(w.dir.join(file).to_str().unwrap());
                let (mut task, mut bytes) = (ptr::null_mut(), 0u64);
                // SAFETY: live handles; the task is freed here.
                unsafe {
                    let r = camb_client_generate(
                        w.client,
                        c(prompt).as_ptr(),
                        ptr::null(),
                        &options,
                        path.as_ptr(),
                        w.token,
                        None,
                        ptr::null_mut(),
                        &mut task,
                        &mut bytes,
                    );
                    let out = if r == camb_result::Ok {
                        format!(
                            "{:?} {bytes} {}",
                            read_task(task).status,
                            file_len(&w.dir.join(file))
                        )
                    } else {
                        String::new()
                    };
                    camb_task_free(task);
                    blocking_outcome(w, r, out)
                }
            },
            |w| {
                let path = c(w.dir.join(file).to_str().unwrap());
                job_outcome(
                    w,
                    // SAFETY: live handles.
                    |job| unsafe {
                        camb_client_job_generate(
                            w.client,
                            c(prompt).as_ptr(),
                            ptr::null(),
                            &options,
                            path.as_ptr(),
                            job,
                        )
                    },
                    |job| {
                        // SAFETY: a finished job.
                        let (task, bytes) = unsafe { (camb_job_task(job), camb_job_bytes(job)) };
                        format!(
                            "{:?} {bytes} {}",
                            read_task(task).status,
                            file_len(&w.dir.join(file))
                        )
                    },
                )
            },
        );
        match case {
            "a sound" => assert!(outcome.output.starts_with("Success "), "{outcome:?}"),
            "a task that failed" => assert!(outcome.error.unwrap().contains("ended ERROR")),
            _ => assert_eq!(outcome.requests, 0, "{case}: a request was sent"),
        }
    }
}
