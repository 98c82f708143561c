//! Every exported function through the rlib, as a C caller would use it: the happy
//! paths against the emulator, and every NULL and bad input.

mod common;

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use camb::ffi::builder::*;
use camb::ffi::client::*;
use camb::ffi::last_error::*;
use camb::ffi::result_code::*;
use camb::ffi::task::*;
use camb::ffi::version::camb_version;
use common::*;

/// Reads a (pointer, length) string of a camb_task.
fn text(ptr: *const c_char, len: usize) -> Option<Vec<u8>> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: libcamb guarantees `len` readable bytes plus a NUL at `ptr`.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len + 1) };
    assert_eq!(bytes[len], 0, "not NUL-terminated");
    Some(bytes[..len].to_vec())
}

/// A recognisable out-pointer value (never dereferenced), to prove a failed call
/// left it alone.
const SENTINEL: *mut camb_task = 0xdead0 as *mut camb_task;

fn builder_for(base_url: &str) -> *mut camb_client_builder {
    let builder = c_builder(DEFAULT_API_KEY, base_url);
    // SAFETY: a live builder.
    let set = unsafe { camb_client_builder_set_timeout_ms(builder, 10_000) };
    assert_eq!(set, camb_result::Ok);
    builder
}

fn client_for_url(base_url: &str) -> *mut camb_client {
    let mut client = ptr::null_mut();
    let result = unsafe { camb_client_builder_build(builder_for(base_url), &mut client) };
    assert_eq!(result, camb_result::Ok, "{}", last_error());
    assert!(!client.is_null());
    client
}

/// A status call: its result and the task it made (the caller frees it), or the
/// sentinel the out-pointer held, untouched, when it failed.
fn get_task(client: *const camb_client, id: &str) -> (camb_result, *mut camb_task) {
    let mut task = SENTINEL;
    let result =
        unsafe { camb_client_get_task_status(client, c(id).as_ptr(), ptr::null(), &mut task) };
    if result != camb_result::Ok {
        assert_eq!(task, SENTINEL, "out_task must be untouched on failure");
    }
    (result, task)
}

/// A status call, its task read and freed.
fn get_status(client: *const camb_client, id: &str) -> (camb_result, Option<TaskView>) {
    let (result, task) = get_task(client, id);
    if result != camb_result::Ok {
        return (result, None);
    }
    let view = read_task(task);
    unsafe { camb_task_free(task) };
    (result, Some(view))
}

#[test]
fn status_of_each_demo_task_through_the_c_api() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url());
    let cases = [
        ("demo-success", camb_status::Success, "SUCCESS", Some(4242)),
        ("demo-error", camb_status::Error, "ERROR", Some(4243)),
        ("demo-timeout", camb_status::Timeout, "TIMEOUT", None),
        (
            "demo-payment-required",
            camb_status::PaymentRequired,
            "PAYMENT_REQUIRED",
            None,
        ),
        ("demo-unknown", camb_status::Unknown, "QUEUED_FOR_GPU", None),
        ("demo-pending", camb_status::Pending, "PENDING", None),
    ];
    for (id, status, status_text, run_id) in cases {
        let (result, info) = get_status(client, id);
        assert_eq!(result, camb_result::Ok, "{id}: {}", last_error());
        assert_eq!(last_error(), "");
        assert_eq!(camb_last_http_status(), 0);
        let info = info.unwrap();
        assert_eq!(info.status, status, "{id}");
        assert_eq!(info.status_text.as_deref(), Some(status_text));
        assert_eq!(info.run_id, run_id, "{id}");
        assert_eq!(info.task_id, id);
        assert_eq!(
            (info.result, info.error, info.http_status),
            (camb_result::Ok, None, 0)
        );
    }
    let error = get_status(client, "demo-error").1.unwrap();
    assert_eq!(error.exception_reason.as_deref(), Some("PROCESSING_ERROR"));
    assert_eq!(
        error.message.as_deref(),
        Some("The audio model failed to render this prompt")
    );
    let success = get_status(client, "demo-success").1.unwrap();
    assert_eq!((success.exception_reason, success.message), (None, None));
    unsafe { camb_client_free(client) };
}

#[test]
fn a_task_keeps_its_strings_whole_until_it_is_freed() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url());
    let id = emulator.add_task(TaskSpec {
        final_status: "WEIRD\u{0}STATUS".into(),
        message: Some("line one\u{0}after a NUL".into()),
        ..TaskSpec::default()
    });
    let (result, task) = get_task(client, &id);
    assert_eq!(result, camb_result::Ok);
    let message = |task| {
        let mut len = 0;
        text(unsafe { camb_task_message(task, &mut len) }, len).unwrap()
    };
    unsafe {
        assert_eq!(camb_task_status(task), camb_status::Unknown);
        // Nothing is cut at the embedded NUL: the length covers it all.
        let mut len = 0;
        assert_eq!(
            text(camb_task_status_text(task, &mut len), len).unwrap(),
            b"WEIRD\0STATUS"
        );
    }
    assert_eq!(message(task), b"line one\0after a NUL");
    // Later calls, failed or not, on this thread or another, leave it alone.
    assert_eq!(get_task(client, "no-such-task").0, camb_result::NotFound);
    let (ok, other) = get_task(client, "demo-error");
    assert_eq!(ok, camb_result::Ok);
    let shared = task as usize;
    std::thread::spawn(move || {
        assert_eq!(message(shared as *mut camb_task), b"line one\0after a NUL");
    })
    .join()
    .unwrap();
    assert_eq!(message(task), b"line one\0after a NUL");
    assert_eq!(
        message(other),
        b"The audio model failed to render this prompt"
    );
    unsafe {
        camb_task_free(task);
        camb_task_free(other);
    }
    unsafe { camb_client_free(client) };
}

#[test]
fn errors_carry_codes_words_and_http_status() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url());
    let (result, info) = get_status(client, "no-such-task");
    assert_eq!(result, camb_result::NotFound);
    assert!(info.is_none());
    assert_eq!(
        last_error(),
        "HTTP 404 Not Found: Task not found: no-such-task"
    );
    assert_eq!(camb_last_http_status(), 404);
    emulator.push_fault(status_fault(1, 400, &[], r#"{"detail":"bad request"}"#));
    let (result, _) = get_status(client, "demo-success");
    assert_eq!(result, camb_result::HttpStatus);
    assert_eq!(camb_last_http_status(), 400);
    // A success clears both.
    let (result, _) = get_status(client, "demo-success");
    assert_eq!(result, camb_result::Ok);
    assert_eq!((last_error(), camb_last_http_status()), (String::new(), 0));
    unsafe { camb_client_free(client) };
}

#[test]
fn each_thread_keeps_its_own_last_error() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url()) as usize;
    let (tx, rx) = std::sync::mpsc::channel();
    let failing = std::thread::spawn(move || {
        let (result, _) = get_status(client as *const camb_client, "missing-in-thread-a");
        assert_eq!(result, camb_result::NotFound);
        tx.send(()).unwrap();
        // Let the other thread succeed meanwhile, then check ours is intact.
        std::thread::sleep(std::time::Duration::from_millis(200));
        last_error()
    });
    rx.recv().unwrap();
    let (result, _) = get_status(client as *const camb_client, "demo-success");
    assert_eq!(result, camb_result::Ok);
    assert_eq!(last_error(), "");
    let theirs = failing.join().unwrap();
    assert!(theirs.contains("missing-in-thread-a"), "{theirs}");
    unsafe { camb_client_free(client as *mut camb_client) };
}

#[test]
fn null_pointers_are_refused_with_their_names() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url());
    let id = c("demo-success");
    let mut info = SENTINEL;
    unsafe {
        assert_eq!(
            camb_client_get_task_status(ptr::null(), id.as_ptr(), ptr::null(), &mut info),
            camb_result::NullParameter
        );
        assert!(last_error().contains("client is NULL"), "{}", last_error());
        assert_eq!(
            camb_client_get_task_status(client, ptr::null(), ptr::null(), &mut info),
            camb_result::NullParameter
        );
        assert!(last_error().contains("task_id is NULL"));
        assert_eq!(
            camb_client_get_task_status(client, id.as_ptr(), ptr::null(), ptr::null_mut()),
            camb_result::NullParameter
        );
        assert!(last_error().contains("out_task is NULL"));
        assert_eq!(info, SENTINEL);

        let key = c("k");
        assert_eq!(
            camb_client_new(key.as_ptr(), ptr::null_mut()),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_builder_set_api_key(ptr::null_mut(), key.as_ptr()),
            camb_result::NullParameter
        );
        assert!(last_error().contains("builder is NULL"));
        assert_eq!(
            camb_client_builder_set_base_url(ptr::null_mut(), key.as_ptr()),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_builder_set_timeout_ms(ptr::null_mut(), 5),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_builder_set_max_retries(ptr::null_mut(), 1),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_builder_set_allow_insecure_http(ptr::null_mut(), true),
            camb_result::NullParameter
        );
        let mut out = ptr::null_mut();
        assert_eq!(
            camb_client_builder_build(ptr::null_mut(), &mut out),
            camb_result::NullParameter
        );
        assert!(out.is_null());

        let builder = camb_client_builder_new();
        assert_eq!(
            camb_client_builder_set_api_key(builder, ptr::null()),
            camb_result::NullParameter
        );
        assert!(last_error().contains("api_key is NULL"));
        assert_eq!(
            camb_client_builder_set_base_url(builder, ptr::null()),
            camb_result::NullParameter
        );
        assert!(last_error().contains("base_url is NULL"));
        camb_client_builder_free(builder);

        // NULL is a no-op for both frees.
        camb_client_builder_free(ptr::null_mut());
        camb_client_free(ptr::null_mut());
        camb_client_free(client);
    }
}

#[test]
fn bad_strings_and_values_are_invalid_parameters() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url());
    let not_utf8 = CString::new(vec![b'a', 0xff, b'b']).unwrap();
    let long_id = c(&"x".repeat(1025));
    unsafe {
        let mut info = SENTINEL;
        for id in [
            not_utf8.as_ptr(),
            c("").as_ptr(),
            c("..").as_ptr(),
            long_id.as_ptr(),
        ] {
            assert_eq!(
                camb_client_get_task_status(client, id, ptr::null(), &mut info),
                camb_result::InvalidParameter
            );
            assert!(!last_error().is_empty());
        }
        assert_eq!(info, SENTINEL);

        let builder = camb_client_builder_new();
        assert_eq!(
            camb_client_builder_set_api_key(builder, not_utf8.as_ptr()),
            camb_result::InvalidParameter
        );
        assert!(last_error().contains("not valid UTF-8"), "{}", last_error());
        assert_eq!(
            camb_client_builder_set_api_key(builder, c("").as_ptr()),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_builder_set_api_key(builder, c("key\n").as_ptr()),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_builder_set_base_url(builder, c("not a url").as_ptr()),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_builder_set_base_url(builder, c("ftp://h/").as_ptr()),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_builder_set_timeout_ms(builder, 0),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_builder_set_timeout_ms(builder, u64::MAX),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_builder_set_max_retries(builder, u32::MAX),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_builder_set_timeout_ms(builder, 1),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_builder_set_max_retries(builder, 0),
            camb_result::Ok
        );
        // Refused settings are remembered: the build fails with the first one.
        let mut out = ptr::null_mut();
        assert_eq!(
            camb_client_builder_build(builder, &mut out),
            camb_result::InvalidParameter
        );
        assert!(
            last_error().contains("camb_client_builder_set_api_key() refused")
                && last_error().contains("not valid UTF-8"),
            "{}",
            last_error()
        );
        assert!(out.is_null());
        // Plain http to a non-loopback host is refused at build time without opt-in.
        let builder = camb_client_builder_new();
        assert_eq!(
            camb_client_builder_set_api_key(builder, c("k").as_ptr()),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_builder_set_base_url(builder, c("http://example.com").as_ptr()),
            camb_result::Ok
        );
        let mut out = ptr::null_mut();
        assert_eq!(
            camb_client_builder_build(builder, &mut out),
            camb_result::InvalidParameter
        );
        assert!(last_error().contains("clear text"), "{}", last_error());
        assert!(out.is_null());
        camb_client_free(client);
    }
}

#[test]
fn opting_in_allows_plain_http_to_other_hosts() {
    let builder = builder_for("http://example.invalid/apis");
    let mut client = ptr::null_mut();
    unsafe {
        assert_eq!(
            camb_client_builder_set_allow_insecure_http(builder, true),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::Ok
        );
        camb_client_free(client);
    }
}

/// A build consumes its builder whatever happens: with a NULL out-pointer, or
/// when it fails. (Using it after that is undefined, as for every freed handle;
/// memcheck runs these under valgrind and ASan, which would report a leak or a
/// double free.)
#[test]
fn a_build_consumes_its_builder_even_when_it_fails() {
    unsafe {
        let consumed = builder_for("http://127.0.0.1:1");
        assert_eq!(
            camb_client_builder_build(consumed, ptr::null_mut()),
            camb_result::NullParameter
        );
        let failing = camb_client_builder_new();
        camb_client_builder_set_api_key(failing, c("k").as_ptr());
        camb_client_builder_set_base_url(failing, c("http://example.com").as_ptr());
        let mut client = ptr::null_mut();
        assert_eq!(
            camb_client_builder_build(failing, &mut client),
            camb_result::InvalidParameter
        );
        assert!(client.is_null());
        assert_eq!(
            camb_client_builder_build(ptr::null_mut(), &mut client),
            camb_result::NullParameter
        );
    }
}

#[test]
fn camb_client_new_uses_the_default_base_url_and_given_key() {
    let mut client = ptr::null_mut();
    unsafe {
        assert_eq!(
            camb_client_new(c("sk-some-key").as_ptr(), &mut client),
            camb_result::Ok
        );
        assert!(!client.is_null());
        assert_eq!(last_error(), "");
        camb_client_free(client);
        let before = client;
        assert_eq!(
            camb_client_new(c("bad\nkey").as_ptr(), &mut client),
            camb_result::InvalidParameter
        );
        assert_eq!(client, before, "out_client must be untouched on failure");
    }
}

#[test]
fn timeouts_and_refusals_have_their_codes() {
    let emulator = emulator();
    emulator.push_fault(Fault {
        times: 5,
        delay_ms: 3_000,
        ..Fault::default()
    });
    let builder = builder_for(&emulator.base_url());
    let mut client = ptr::null_mut();
    unsafe {
        camb_client_builder_set_timeout_ms(builder, 200);
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::Ok
        );
    }
    let (result, _) = get_status(client, "demo-success");
    assert_eq!(result, camb_result::Timeout, "{}", last_error());
    assert!(last_error().contains("200 ms"));
    assert_eq!(camb_last_http_status(), 0);
    unsafe { camb_client_free(client) };

    let refused = client_for_url(&format!("http://127.0.0.1:{}", closed_port()));
    let (result, _) = get_status(refused, "demo-success");
    assert_eq!(result, camb_result::Connect, "{}", last_error());
    unsafe { camb_client_free(refused) };
}

#[test]
fn names_for_every_value_known_or_not() {
    let name = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
    let expected = [
        (0, "CAMB_RESULT_OK"),
        (1, "CAMB_RESULT_NULL_PARAMETER"),
        (2, "CAMB_RESULT_INVALID_PARAMETER"),
        (3, "CAMB_RESULT_MISSING_API_KEY"),
        (5, "CAMB_RESULT_CANCELLED"),
        (6, "CAMB_RESULT_PANIC"),
        (7, "CAMB_RESULT_IO"),
        (100, "CAMB_RESULT_CONNECT"),
        (101, "CAMB_RESULT_TIMEOUT"),
        (102, "CAMB_RESULT_BAD_RESPONSE"),
        (103, "CAMB_RESULT_HTTP_STATUS"),
        (401, "CAMB_RESULT_UNAUTHORIZED"),
        (402, "CAMB_RESULT_PAYMENT_REQUIRED"),
        (403, "CAMB_RESULT_FORBIDDEN"),
        (404, "CAMB_RESULT_NOT_FOUND"),
        (422, "CAMB_RESULT_VALIDATION"),
        (429, "CAMB_RESULT_RATE_LIMITED"),
        (500, "CAMB_RESULT_SERVER_ERROR"),
        (8, "CAMB_RESULT_NOT_READY"),
        (9, "CAMB_RESULT_TASK_FAILED"),
    ];
    for (value, text) in expected {
        assert_eq!(name(camb_result_name(value)), text);
    }
    // The header spells the same names with the same values.
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/camb.h")).unwrap();
    for (value, text) in expected {
        assert!(
            header.contains(&format!("{text} = {value},")),
            "{text} = {value} not in camb.h"
        );
    }
    // 4 was BUFFER_TOO_SMALL until 0.2: retired, never reused.
    for value in [4, 10, 99, 104, 200, 600, u32::MAX] {
        assert_eq!(name(camb_result_name(value)), "CAMB_RESULT_UNKNOWN_VALUE");
    }
    let statuses = [
        (0, "CAMB_STATUS_UNKNOWN", true),
        (1, "CAMB_STATUS_PENDING", false),
        (2, "CAMB_STATUS_SUCCESS", true),
        (3, "CAMB_STATUS_TIMEOUT", true),
        (4, "CAMB_STATUS_ERROR", true),
        (5, "CAMB_STATUS_PAYMENT_REQUIRED", true),
    ];
    for (value, text, is_final) in statuses {
        assert_eq!(name(camb_status_name(value)), text);
        assert_eq!(camb_status_is_final(value), is_final);
        assert!(
            header.contains(&format!("{text} = {value},")),
            "{text} not in camb.h"
        );
    }
    assert_eq!(name(camb_status_name(6)), "CAMB_STATUS_UNKNOWN_VALUE");
    assert!(camb_status_is_final(u32::MAX));
}

#[test]
fn the_version_matches_cargo_toml_and_the_header() {
    let version = unsafe { CStr::from_ptr(camb_version()) }.to_str().unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/camb.h")).unwrap();
    let define = |name: &str| {
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("{name} missing from camb.h"))
            .to_owned()
    };
    assert_eq!(define("CAMB_VERSION_STRING"), format!("\"{version}\""));
    assert_eq!(
        define("CAMB_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        define("CAMB_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        define("CAMB_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION_PATCH")
    );
}

#[test]
fn the_header_declares_only_camb_names() {
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/camb.h")).unwrap();
    let mut defines = 0;
    for line in header.lines() {
        if let Some(rest) = line.strip_prefix("#define ") {
            defines += 1;
            assert!(
                rest.starts_with("CAMB_"),
                "a macro without the CAMB_ prefix: {line}"
            );
        }
        if let Some(name) = line.strip_prefix("typedef struct ") {
            assert!(name.starts_with("camb_"), "{line}");
        }
        // Function declarations: `type name(` at the start of a line.
        if !line.starts_with(' ')
            && !line.starts_with('#')
            && line.contains('(')
            && !line.starts_with("typedef")
        {
            let before_paren = &line[..line.find('(').unwrap()];
            let name = before_paren.rsplit([' ', '*']).next().unwrap();
            assert!(
                name.starts_with("camb_"),
                "a function without the camb_ prefix: {line}"
            );
        }
    }
    assert!(
        defines >= 6,
        "the version macros and the include guard are missing"
    );
}

#[test]
fn a_refused_setting_fails_the_build_for_every_setter() {
    let emulator = emulator();
    let url = emulator.base_url();
    let garbage_pem = b"-----BEGIN CERTIFICATE-----\nnot base64\n";
    type Setter = Box<dyn Fn(*mut camb_client_builder) -> camb_result>;
    let cases: Vec<(&str, camb_result, Setter)> = vec![
        (
            "camb_client_builder_set_api_key",
            camb_result::InvalidParameter,
            Box::new(|b| unsafe { camb_client_builder_set_api_key(b, c("").as_ptr()) }),
        ),
        (
            "camb_client_builder_set_api_key",
            camb_result::NullParameter,
            Box::new(|b| unsafe { camb_client_builder_set_api_key(b, ptr::null()) }),
        ),
        (
            "camb_client_builder_set_base_url",
            camb_result::InvalidParameter,
            Box::new(|b| unsafe {
                camb_client_builder_set_base_url(b, c("https://elsewhere.example/x?y=1").as_ptr())
            }),
        ),
        (
            "camb_client_builder_set_timeout_ms",
            camb_result::InvalidParameter,
            Box::new(|b| unsafe { camb_client_builder_set_timeout_ms(b, 0) }),
        ),
        (
            "camb_client_builder_set_max_retries",
            camb_result::InvalidParameter,
            Box::new(|b| unsafe { camb_client_builder_set_max_retries(b, 11) }),
        ),
        (
            "camb_client_builder_set_ca_bundle_file",
            camb_result::InvalidParameter,
            Box::new(|b| unsafe {
                camb_client_builder_set_ca_bundle_file(b, c("/no/such/bundle.pem").as_ptr())
            }),
        ),
        (
            "camb_client_builder_set_ca_bundle_pem",
            camb_result::InvalidParameter,
            Box::new(move |b| unsafe {
                camb_client_builder_set_ca_bundle_pem(b, garbage_pem.as_ptr(), garbage_pem.len())
            }),
        ),
        (
            "camb_client_builder_set_proxy",
            camb_result::InvalidParameter,
            Box::new(|b| unsafe { camb_client_builder_set_proxy(b, c("socks5://h:1").as_ptr()) }),
        ),
    ];
    for (setter, code, refuse) in cases {
        // A good builder, then one refused setting, then good settings after it:
        // the build still fails with the refusal, naming the setter.
        let builder = builder_for(&url);
        assert_eq!(refuse(builder), code, "{setter}");
        unsafe {
            assert_eq!(
                camb_client_builder_set_base_url(builder, c(&url).as_ptr()),
                camb_result::Ok
            );
            assert_eq!(
                camb_client_builder_set_api_key(builder, c(DEFAULT_API_KEY).as_ptr()),
                camb_result::Ok
            );
            let mut client = ptr::null_mut();
            assert_eq!(
                camb_client_builder_build(builder, &mut client),
                code,
                "{setter}"
            );
            assert!(client.is_null(), "{setter}");
            let message = last_error();
            assert!(
                message.starts_with(&format!("not built: {setter}() refused its value")),
                "{setter}: {message}"
            );
            // Consumed all the same (memcheck would report a leak otherwise).
        }
    }
    assert_eq!(emulator.stats().requests_total, 0, "nothing was sent");
}

#[test]
fn the_free_functions_and_accessors_accept_null() {
    use camb::ffi::audio::*;
    use camb::ffi::string::camb_string_free;
    let mut len = 7usize;
    let mut run_id = 7i64;
    unsafe {
        camb_task_free(ptr::null_mut());
        camb_task_list_free(ptr::null_mut());
        camb_audio_url_list_free(ptr::null_mut());
        camb_string_free(ptr::null_mut());
        assert_eq!(camb_task_result(ptr::null()), camb_result::NullParameter);
        assert!(camb_task_error(ptr::null(), &mut len).is_null());
        assert_eq!(len, 0);
        assert_eq!(camb_task_http_status(ptr::null()), 0);
        len = 7;
        assert_eq!(
            CStr::from_ptr(camb_task_id(ptr::null(), &mut len)).to_bytes(),
            b""
        );
        assert_eq!(len, 0);
        assert_eq!(camb_task_status(ptr::null()), camb_status::Unknown);
        assert!(camb_task_status_text(ptr::null(), ptr::null_mut()).is_null());
        assert!(!camb_task_run_id(ptr::null(), &mut run_id));
        assert_eq!(run_id, 7, "left alone");
        assert!(camb_task_exception_reason(ptr::null(), ptr::null_mut()).is_null());
        assert!(camb_task_message(ptr::null(), ptr::null_mut()).is_null());
        assert_eq!(camb_task_list_len(ptr::null()), 0);
        assert!(camb_task_list_get(ptr::null(), 0).is_null());
        assert_eq!(camb_audio_url_list_len(ptr::null()), 0);
    }
}

/// camb.h reads in the order a user meets the functions: versioning, errors,
/// strings, builder, client, status, create, wait, audio, batch, cancellation.
/// (cbindgen follows src/ffi/mod.rs's module order; rustfmt.toml keeps rustfmt
/// from sorting it.)
#[test]
fn the_header_reads_in_the_order_a_user_meets_it() {
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/camb.h")).unwrap();
    let first_declaration = |name: &str| {
        header
            .lines()
            .position(|line| {
                !line.starts_with(' ')
                    && line.contains(&format!("{name}("))
                    && !line.starts_with("typedef")
            })
            .unwrap_or_else(|| panic!("{name} is not declared"))
    };
    let order = [
        "camb_version",
        "camb_result_name",
        "camb_last_error",
        "camb_string_free",
        "camb_client_builder_new",
        "camb_client_new",
        "camb_client_get_task_status",
        "camb_client_create_task",
        "camb_client_wait_for_task",
        "camb_client_download_audio",
        "camb_client_get_task_statuses",
        "camb_cancel_token_new",
    ];
    let lines: Vec<usize> = order.iter().map(|name| first_declaration(name)).collect();
    for (pair, names) in lines.windows(2).zip(order.windows(2)) {
        assert!(pair[0] < pair[1], "{} comes after {}", names[0], names[1]);
    }
}

/// Lines the C log callback received: (level, text).
static C_LOG_LINES: std::sync::Mutex<Vec<(u32, String)>> = std::sync::Mutex::new(Vec::new());

unsafe extern "C" fn collect_line(
    level: u32,
    line: *const c_char,
    len: usize,
    user_data: *mut std::ffi::c_void,
) {
    assert_eq!(user_data as usize, 0x5eed, "user_data passed back as given");
    // SAFETY: libcamb passes `len` bytes and a NUL, valid during the call.
    let bytes = unsafe { std::slice::from_raw_parts(line.cast::<u8>(), len + 1) };
    assert_eq!(bytes[len], 0);
    let text = String::from_utf8(bytes[..len].to_vec()).unwrap();
    C_LOG_LINES.lock().unwrap().push((level, text));
}

#[test]
fn the_log_callback_and_the_callers_headers_through_the_c_abi() {
    let emulator = emulator();
    let builder = builder_for(&emulator.base_url());
    unsafe {
        assert_eq!(
            camb_client_builder_set_log(
                builder,
                4,
                Some(collect_line),
                0x5eed as *mut std::ffi::c_void,
                None,
            ),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_builder_add_header(
                builder,
                c("traceparent").as_ptr(),
                c("00-1-2-01").as_ptr(),
                false
            ),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_builder_add_header(
                builder,
                c("x-gateway-key").as_ptr(),
                c("gw-SECRET-1").as_ptr(),
                true
            ),
            camb_result::Ok
        );
        let mut client = ptr::null_mut();
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::Ok,
            "{}",
            last_error()
        );
        assert_eq!(get_status(client, "demo-success").0, camb_result::Ok);
        camb_client_free(client);
    }
    let request = emulator.stats().requests.last().cloned().unwrap();
    assert_eq!(header(&request, "traceparent"), Some("00-1-2-01"));
    assert_eq!(header(&request, "x-gateway-key"), Some("gw-SECRET-1"));
    let lines = C_LOG_LINES.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|(level, l)| *level == 4
                && l.ends_with("/text-to-sound/demo-success sent (attempt 1)")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .all(|(_, l)| !l.contains("gw-SECRET-1") && !l.contains(DEFAULT_API_KEY))
    );

    // Refusals: each one named, and remembered by the build.
    unsafe {
        for (name, value, code) in [
            (c("x-api-key"), c("k"), camb_result::InvalidParameter),
            (c("x-ok"), c("a\r\nb"), camb_result::InvalidParameter),
            (c("bad name"), c("v"), camb_result::InvalidParameter),
        ] {
            let builder = builder_for(&emulator.base_url());
            assert_eq!(
                camb_client_builder_add_header(builder, name.as_ptr(), value.as_ptr(), false),
                code
            );
            let mut client = ptr::null_mut();
            assert_eq!(camb_client_builder_build(builder, &mut client), code);
            assert!(
                last_error().contains("camb_client_builder_add_header() refused"),
                "{}",
                last_error()
            );
        }
        let builder = builder_for(&emulator.base_url());
        assert_eq!(
            camb_client_builder_add_header(builder, ptr::null(), c("v").as_ptr(), false),
            camb_result::NullParameter
        );
        camb_client_builder_free(builder);
        let builder = builder_for(&emulator.base_url());
        assert_eq!(
            camb_client_builder_set_log(builder, 4, None, ptr::null_mut(), None),
            camb_result::NullParameter
        );
        camb_client_builder_free(builder);
        let builder = builder_for(&emulator.base_url());
        assert_eq!(
            camb_client_builder_set_log(builder, 5, Some(collect_line), ptr::null_mut(), None),
            camb_result::InvalidParameter
        );
        assert!(
            last_error().contains("not a CAMB_LOG_LEVEL_"),
            "{}",
            last_error()
        );
        camb_client_builder_free(builder);
    }
}
