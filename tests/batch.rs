//! Many statuses in one call: order kept, each entry its own result, bounded
//! connections reused across batches.

mod common;

use std::ffi::{CString, c_char};
use std::ptr;

use camb::ErrorKind;
use camb::ffi::batch::*;
use camb::ffi::builder::*;
use camb::ffi::client::*;
use camb::ffi::result_code::{camb_result, camb_status};
use camb::ffi::task::*;
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
        let mut list: *mut camb_task_list = ptr::null_mut();
        let result = camb_client_get_task_statuses(
            client,
            pointers.as_ptr(),
            pointers.len(),
            4,
            ptr::null(),
            &mut list,
        );
        assert_eq!(result, camb_result::Ok);
        assert_eq!(camb_task_list_len(list), pointers.len());
        let entry = |i| read_task(camb_task_list_get(list, i));
        assert_eq!(entry(0).result, camb_result::Ok);
        assert_eq!(entry(0).status, camb_status::Success);
        assert_eq!(entry(0).run_id, Some(4242));
        assert_eq!(
            (entry(0).task_id.as_str(), entry(0).error),
            ("demo-success", None)
        );
        assert_eq!(
            (entry(1).result, entry(1).http_status),
            (camb_result::NotFound, 404)
        );
        assert!(entry(1).error.unwrap().contains("no-such"));
        assert_eq!(
            (entry(1).status, entry(1).status_text),
            (camb_status::Unknown, None)
        );
        assert_eq!(entry(2).status, camb_status::Error);
        assert_eq!(
            entry(2).message.as_deref(),
            Some("The audio model failed to render this prompt")
        );
        assert_eq!(entry(3).result, camb_result::NullParameter);
        assert_eq!(entry(3).task_id, "");
        assert_eq!(entry(4).result, camb_result::InvalidParameter);
        assert_eq!(
            entry(4).task_id,
            "\u{fffd}",
            "the id as given, made readable"
        );
        assert!(camb_task_list_get(list, 5).is_null());
        assert_eq!(emulator.stats().requests_total, 3, "bad ids are not sent");

        // The list's strings are its own: a status call made while reading them
        // (on this thread, and on another) changes none of them.
        let reason = camb_task_list_get(list, 2);
        let mut len = 0;
        let message = camb_task_message(reason, &mut len);
        let mut single = ptr::null_mut();
        assert_eq!(
            camb_client_get_task_status(
                client,
                c("demo-success").as_ptr(),
                ptr::null(),
                &mut single
            ),
            camb_result::Ok
        );
        let shared = client as usize;
        std::thread::spawn(move || {
            let mut other = ptr::null_mut();
            let client = shared as *const camb_client;
            camb_client_get_task_status(
                client,
                c("demo-timeout").as_ptr(),
                ptr::null(),
                &mut other,
            );
            camb_task_free(other);
        })
        .join()
        .unwrap();
        camb_task_free(single);
        assert_eq!(
            c_text(message, len).as_deref(),
            Some("The audio model failed to render this prompt")
        );
        assert_eq!(entry(0).status_text.as_deref(), Some("SUCCESS"));
        assert!(entry(1).error.unwrap().contains("no-such"));
        camb_task_list_free(list);
        camb_task_list_free(ptr::null_mut());
        assert_eq!(camb_task_list_len(ptr::null()), 0);
        assert!(camb_task_list_get(ptr::null(), 0).is_null());

        // Empty batches, NULLs and limits.
        let mut list = ptr::null_mut();
        assert_eq!(
            camb_client_get_task_statuses(client, ptr::null(), 0, 0, ptr::null(), &mut list),
            camb_result::Ok
        );
        assert_eq!(camb_task_list_len(list), 0);
        camb_task_list_free(list);
        let mut list = ptr::null_mut();
        assert_eq!(
            camb_client_get_task_statuses(client, ptr::null(), 2, 0, ptr::null(), &mut list),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_get_task_statuses(
                client,
                pointers.as_ptr(),
                2,
                0,
                ptr::null(),
                ptr::null_mut()
            ),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_get_task_statuses(
                ptr::null(),
                pointers.as_ptr(),
                2,
                0,
                ptr::null(),
                &mut list
            ),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_get_task_statuses(client, pointers.as_ptr(), 2, 33, ptr::null(), &mut list),
            camb_result::InvalidParameter
        );
        assert!(list.is_null());
        camb_client_free(client);
    }
}
