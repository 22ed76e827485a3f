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

/// tokio-test's `task::spawn` gives `Poll`s: the kit's macros take them as tokio-test's do.
#[test]
fn the_macros_take_a_poll_from_tokio_test_task_spawn() {
    let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
    let mut t = tokio_test::task::spawn(rx);
    assert_pending!(t.poll());
    assert_pending!(t.poll(), "nothing sent yet");
    tx.send(4).unwrap();
    assert!(t.is_woken());
    assert_eq!(assert_ready_ok!(t.poll()), 4);

    let mut t = tokio_test::task::spawn(async { Err::<(), _>("refused") });
    assert_eq!(assert_ready_err!(t.poll()), "refused");
    let mut t = tokio_test::task::spawn(async { 7 });
    assert_ready_eq!(t.poll(), 7);
    let mut t = tokio_test::task::spawn(async { "v" });
    assert_eq!(assert_ready!(t.poll(), "at once"), "v");
    // Any `Poll` does, as with tokio-test.
    assert_ready_eq!(Poll::Ready(1), 1);
    assert_pending!(Poll::<u8>::Pending);
}

#[test]
fn a_poll_that_is_pending_fails_assert_ready_naming_the_site() {
    let message = support::caught_panic(|| {
        let mut t = tokio_test::task::spawn(std::future::pending::<()>());
        assert_ready!(t.poll(), "the reply is {}", "missing"); // @poll-ready
    });
    assert_eq!(
        message,
        format!(
            "assert_ready! failed at {}: the poll returned Pending, expected Ready: the reply is missing",
            site("@poll-ready", 9)
        )
    );
}

#[test]
fn every_poll_assertion_says_what_the_poll_returned() {
    let pending = support::caught_panic(|| {
        assert_pending!(Poll::Ready(3)); // @poll-pending
    });
    assert_eq!(
        pending,
        format!(
            "assert_pending! failed at {}: the poll returned Ready, expected Pending",
            site("@poll-pending", 9)
        )
    );
    let eq = support::caught_panic(|| {
        assert_ready_eq!(Poll::Ready(3), 4, "sum"); // @poll-eq
    });
    assert_eq!(
        eq,
        format!(
            "assert_ready_eq! failed at {}: the poll returned Ready(3), expected Ready(4): sum",
            site("@poll-eq", 9)
        )
    );
    let eq_pending = support::caught_panic(|| {
        assert_ready_eq!(Poll::<u8>::Pending, 4); // @pending-poll-eq
    });
    assert_eq!(
        eq_pending,
        format!(
            "assert_ready_eq! failed at {}: the poll returned Pending, expected Ready",
            site("@pending-poll-eq", 9)
        )
    );
    let ok = support::caught_panic(|| {
        assert_ready_ok!(Poll::Ready(Err::<u8, _>("refused"))); // @poll-ok
    });
    assert_eq!(
        ok,
        format!(
            "assert_ready_ok! failed at {}: the poll returned Ready(Err(\"refused\")), expected Ready(Ok(_))",
            site("@poll-ok", 9)
        )
    );
    let err = support::caught_panic(|| {
        assert_ready_err!(Poll::Ready(Ok::<u8, ()>(1))); // @poll-err
    });
    assert_eq!(
        err,
        format!(
            "assert_ready_err! failed at {}: the poll returned Ready(Ok(1)), expected Ready(Err(_))",
            site("@poll-err", 9)
        )
    );
}
