//! Many statuses in one call: order kept, each entry its own result, bounded
//! connections reused across batches.

mod common;

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use camb::ErrorKind;
use camb::ffi::batch::*;
use camb::ffi::builder::*;
use camb::ffi::client::*;
use camb::ffi::result_code::{camb_result, camb_status};
use common::*;

#[test]
fn every_entry_in_order_with_its_own_result() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let mut ids = Vec::new();
    for i in 0..300 {
        ids.push(match i % 3 {
            0 => "demo-success".to_string(),
            1 => format!("missing-{i}"),
            _ => "demo-unknown".to_string(),
        });
    }
    let results = client.get_task_statuses(&ids, 8).unwrap();
    assert_eq!(results.len(), ids.len());
    for (i, result) in results.iter().enumerate() {
        match i % 3 {
            0 => assert_eq!(result.as_ref().unwrap().run_id, Some(4242)),
            1 => {
                let err = result.as_ref().unwrap_err();
                assert_eq!(err.kind(), ErrorKind::NotFound);
                assert!(err.message().ends_with(&format!("missing-{i}")), "{err}");
            }
            _ => assert_eq!(result.as_ref().unwrap().status_text, "QUEUED_FOR_GPU"),
        }
    }
    let first_batch = emulator.stats().connections_accepted;
    assert!((2..=8).contains(&first_batch), "{first_batch} connections");
    // A second batch reuses the pooled connections.
    client.get_task_statuses(&ids, 8).unwrap();
    assert_eq!(emulator.stats().connections_accepted, first_batch);
    assert_eq!(emulator.stats().requests_total, 600);
}

#[test]
fn batch_limits() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let none: [&str; 0] = [];
    assert!(client.get_task_statuses(&none, 0).unwrap().is_empty());
    let one = client.get_task_statuses(&["demo-success"], 0).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(
        client.get_task_statuses(&["x"], 33).unwrap_err().kind(),
        ErrorKind::InvalidParameter
    );
    let bad = client.get_task_statuses(&["", "demo-success"], 2).unwrap();
    assert_eq!(
        bad[0].as_ref().unwrap_err().kind(),
        ErrorKind::InvalidParameter
    );
    assert!(bad[1].is_ok());
}

#[test]
fn through_the_c_abi() {
    let emulator = emulator();
    let key = CString::new(DEFAULT_API_KEY).unwrap();
    let url = CString::new(emulator.base_url()).unwrap();
    let ids: Vec<CString> = ["demo-success", "no-such", "demo-error"]
        .iter()
        .map(|s| CString::new(*s).unwrap())
        .collect();
    let not_utf8 = CString::new(vec![0xffu8]).unwrap();
    let mut pointers: Vec<*const c_char> = ids.iter().map(|s| s.as_ptr()).collect();
    pointers.push(ptr::null());
    pointers.push(not_utf8.as_ptr());
    unsafe {
        let builder = camb_client_builder_new();
        camb_client_builder_set_api_key(builder, key.as_ptr());
        camb_client_builder_set_base_url(builder, url.as_ptr());
        let mut client = ptr::null_mut();
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::Ok
        );
        let mut entries: Vec<camb_task_status_entry> = Vec::with_capacity(pointers.len());
        let result = camb_client_get_task_statuses(
            client,
            pointers.as_ptr(),
            pointers.len(),
            4,
            entries.as_mut_ptr(),
        );
        assert_eq!(result, camb_result::Ok);
        entries.set_len(pointers.len());
        let text = |p: *const c_char| CStr::from_ptr(p).to_string_lossy().into_owned();
        assert_eq!(entries[0].result, camb_result::Ok as u32);
        assert_eq!(entries[0].info.status, camb_status::Success as u32);
        assert_eq!(entries[0].info.run_id, 4242);
        assert!(entries[0].error_message.is_null());
        assert_eq!(
            (entries[1].result, entries[1].http_status),
            (camb_result::NotFound as u32, 404)
        );
        assert!(text(entries[1].error_message).contains("no-such"));
        assert_eq!(entries[2].info.status, camb_status::Error as u32);
        assert_eq!(
            text(entries[2].info.message),
            "The audio model failed to render this prompt"
        );
        assert_eq!(entries[3].result, camb_result::NullParameter as u32);
        assert_eq!(entries[4].result, camb_result::InvalidParameter as u32);
        assert_eq!(emulator.stats().requests_total, 3, "bad ids are not sent");

        // Empty batches, NULLs and limits.
        assert_eq!(
            camb_client_get_task_statuses(client, ptr::null(), 0, 0, ptr::null_mut()),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_get_task_statuses(client, ptr::null(), 2, 0, entries.as_mut_ptr()),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_get_task_statuses(client, pointers.as_ptr(), 2, 0, ptr::null_mut()),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_get_task_statuses(
                ptr::null(),
                pointers.as_ptr(),
                2,
                0,
                entries.as_mut_ptr()
            ),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_get_task_statuses(client, pointers.as_ptr(), 2, 33, entries.as_mut_ptr()),
            camb_result::InvalidParameter
        );
        camb_client_free(client);
    }
}
