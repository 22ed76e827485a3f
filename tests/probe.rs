//! `Probe` and its assertions: polling by hand, wake counting, virtual timers, each
//! failure message with its call sites, polling after completion, panicking futures,
//! and use outside a kit run.

mod support;

use std::task::Poll;
use std::time::Duration;

use async_testkit::{
    Probe, assert_pending, assert_ready, assert_ready_eq, assert_ready_err, assert_ready_ok,
};

fn line_of(marker: &str) -> u32 {
    support::line_of(include_str!("probe.rs"), marker)
}

/// `tests/probe.rs:<line of marker>:<column>`.
fn site(marker: &str, column: u32) -> String {
    format!("{}:{}:{column}", file!(), line_of(marker))
}

#[test]
fn a_probe_needs_no_kit_run() {
    let mut p = Probe::new(async { 1 });
    assert_eq!(p.poll_count(), 0);
    assert_eq!(p.poll(), Poll::Ready(1));
    assert_eq!(p.poll_count(), 1);
    assert!(p.is_finished());
    assert_eq!(p.wake_count(), 0);
}

#[async_testkit::test]
async fn a_probe_counts_wakes_and_clears_is_woken_on_each_poll() {
    let notify = tokio::sync::Notify::new();
    let mut p = Probe::new(async {
        notify.notified().await;
        notify.notified().await;
    });
    assert_pending!(p);
    assert!(!p.is_woken());
    notify.notify_one();
    assert!(p.is_woken());
    assert_eq!(p.wake_count(), 1);
    assert_pending!(p); // waits on the second notification
    assert!(!p.is_woken());
    notify.notify_one();
    assert!(p.is_woken());
    assert_eq!(p.wake_count(), 2);
    assert_ready!(p);
    assert_eq!(p.poll_count(), 3);
}

#[async_testkit::test]
async fn a_probe_sees_virtual_timers_fire() {
    let mut p = Probe::new(tokio::time::sleep(Duration::from_secs(30)));
    assert_pending!(p);
    async_testkit::time::advance(Duration::from_secs(29)).await;
    assert!(!p.is_woken());
    assert_pending!(p);
    async_testkit::time::advance(Duration::from_secs(1)).await;
    assert!(p.is_woken());
    assert_ready!(p);
}

#[test]
fn the_ready_family_gives_back_values() {
    assert_eq!(assert_ready!(Probe::new(async { 'a' })), 'a');
    let mut eq = Probe::new(async { vec![1, 2] });
    assert_ready_eq!(eq, vec![1, 2]);
    let mut ok = Probe::new(async { Ok::<_, String>(3) });
    assert_eq!(assert_ready_ok!(ok), 3);
    let mut err = Probe::new(async { Err::<(), _>("no") });
    assert_eq!(assert_ready_err!(err, "with a {}", "message"), "no");
}

#[test]
fn assert_ready_fails_on_a_pending_future_naming_both_sites() {
    let mut p = Probe::new(std::future::pending::<()>()); // @probe-pending
    let message = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_ready!(p, "the reply is {}", "missing"); // @assert-ready
    }))
    .unwrap_err();
    assert_eq!(
        message.downcast_ref::<String>().unwrap(),
        &format!(
            "assert_ready! failed at {}: the future is pending, expected it to be ready (the probe created at \
             {} was polled 1 time and woken 0 times): the reply is missing",
            site("@assert-ready", 9),
            site("@probe-pending", 17)
        )
    );
}

#[test]
#[should_panic(expected = "assert_pending! failed at tests/probe.rs:")]
fn assert_pending_fails_on_a_ready_future() {
    let mut p = Probe::new(async {});
    assert_pending!(p);
}

#[test]
fn assert_pending_failure_says_what_happened() {
    let message = std::panic::catch_unwind(|| {
        let mut p = Probe::new(async { 5 }); // @probe-ready
        assert_pending!(p); // @assert-pending
    })
    .unwrap_err();
    assert_eq!(
        message.downcast_ref::<String>().unwrap(),
        &format!(
            "assert_pending! failed at {}: the future completed, expected it to be pending (the probe created \
             at {} was polled 1 time and woken 0 times)",
            site("@assert-pending", 9),
            site("@probe-ready", 21)
        )
    );
}

#[test]
fn assert_ready_eq_failure_shows_both_values() {
    let message = std::panic::catch_unwind(|| {
        let mut p = Probe::new(async { "pong" });
        assert_ready_eq!(p, "ping", "after {} tries", 1); // @assert-eq
    })
    .unwrap_err();
    let text = message.downcast_ref::<String>().unwrap();
    assert!(
        text.starts_with(&format!(
            "assert_ready_eq! failed at {}: the future completed with \"pong\", expected \"ping\" (the probe",
            site("@assert-eq", 9)
        )),
        "{text}"
    );
    assert!(
        text.ends_with("polled 1 time and woken 0 times): after 1 tries"),
        "{text}"
    );
}

#[test]
#[should_panic(expected = "assert_ready_eq! failed at")]
fn assert_ready_eq_fails_on_a_pending_future() {
    let mut p = Probe::new(std::future::pending::<u8>());
    assert_ready_eq!(p, 1);
}

#[test]
#[should_panic(expected = "the future completed with Err(\"refused\"), expected Ok (the probe created at")]
fn assert_ready_ok_fails_on_an_error() {
    let mut p = Probe::new(async { Err::<u8, _>("refused") });
    assert_ready_ok!(p);
}

#[test]
#[should_panic(expected = "the future completed with Ok(7), expected Err (the probe created at")]
fn assert_ready_err_fails_on_a_value() {
    let mut p = Probe::new(async { Ok::<_, ()>(7) });
    assert_ready_err!(p);
}

#[test]
#[should_panic(expected = "assert_ready_ok! failed at tests/probe.rs:")]
fn assert_ready_ok_fails_on_a_pending_future() {
    let mut p = Probe::new(std::future::pending::<Result<(), ()>>());
    assert_ready_ok!(p);
}

#[test]
fn polling_after_completion_is_refused_with_both_sites() {
    let mut p = Probe::new(async {}); // @probe-done
    assert!(p.poll().is_ready()); // @first-ready
    let message = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = p.poll(); // @poll-again
    }))
    .unwrap_err();
    assert_eq!(
        message.downcast_ref::<String>().unwrap(),
        &format!(
            "the Probe created at {} was polled at {} after its future completed (at {}); a future must not \
             be polled again after it returned Ready",
            site("@probe-done", 17),
            site("@poll-again", 19),
            site("@first-ready", 15)
        )
    );
}

#[test]
fn a_panic_in_the_future_reaches_the_test() {
    let message = support::panic_message(|| async {
        let mut p = Probe::new(async { panic!("the parser choked") });
        let _ = p.poll();
    });
    assert_eq!(message, "the parser choked");
}

#[test]
fn a_probe_works_with_tokio_test_style_channels_outside_a_kit_run() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u8>();
    let mut recv = Probe::new(rx.recv());
    assert_pending!(recv);
    tx.send(4).unwrap();
    assert!(recv.is_woken());
    assert_ready_eq!(recv, Some(4));
}
