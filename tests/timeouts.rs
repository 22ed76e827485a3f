//! `within`, `TimedOut`, `assert_elapsed!`, `assert_completes_within!`,
//! `assert_pending_for!` and `eventually`, on virtual time: the happy paths, the
//! boundaries (zero limits, deadlines hit exactly, futures that are never pending,
//! futures that panic), each failure message, and misuse.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

mod support;

use async_testkit::time::elapsed;
use support::panic_message;

use async_testkit::{
    Builder, Clock, assert_completes_within, assert_elapsed, assert_pending_for, eventually, within,
};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn line_of(marker: &str) -> u32 {
    support::line_of(include_str!("timeouts.rs"), marker)
}

/// A task that sleeps `d` then sends `v`.
fn send_after<T: 'static>(d: Duration, v: T) -> tokio::sync::oneshot::Receiver<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    async_testkit::spawn(async move {
        tokio::time::sleep(d).await;
        let _ = tx.send(v);
    });
    rx
}

// ---- within ----------------------------------------------------------------------------

#[async_testkit::test]
async fn within_gives_the_output_of_a_future_that_finishes_in_time() {
    let rx = send_after(secs(1), "ok");
    assert_eq!(within(secs(2), rx).await.unwrap().unwrap(), "ok");
    assert_eq!(elapsed(), secs(1));
}

#[async_testkit::test]
async fn within_is_ok_when_a_task_completes_it_exactly_at_the_deadline() {
    // The sender's timer is registered before the deadline's.
    let rx = send_after(secs(2), 1);
    assert_eq!(within(secs(2), rx).await.unwrap().unwrap(), 1);
    assert_eq!(elapsed(), secs(2));
}

#[async_testkit::test]
async fn within_is_ok_at_the_deadline_whichever_timer_was_registered_first() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let race = within(secs(2), rx);
    // The sender is spawned after the deadline was set, and takes several steps at +2s.
    async_testkit::spawn(async move {
        tokio::time::sleep(secs(2)).await;
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        tx.send(2).unwrap();
    });
    assert_eq!(race.await.unwrap().unwrap(), 2);
    assert_eq!(elapsed(), secs(2));
}

#[async_testkit::test]
async fn within_is_ok_at_the_deadline_when_a_tokio_task_completes_it() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let race = within(secs(3), rx);
    let sender = tokio::spawn(async move {
        tokio::time::sleep(secs(3)).await;
        tx.send(3).unwrap();
    });
    assert_eq!(race.await.unwrap().unwrap(), 3);
    sender.await.unwrap();
}

#[async_testkit::test]
async fn within_times_out_one_timer_tick_after_the_deadline() {
    let rx = send_after(secs(2) + ms(1), ());
    let err = within(secs(2), rx).await.unwrap_err();
    assert_eq!(err.deadline(), secs(2));
    assert_eq!(err.elapsed(), secs(2));
    assert_eq!(elapsed(), secs(2));
    tokio::time::sleep(secs(1)).await; // let the sender finish
}

#[async_testkit::test]
async fn within_rounds_a_deadline_between_milliseconds_up_like_tokios_timers() {
    let started = async_testkit::time::now();
    let err = within(ms(1500) + Duration::from_nanos(1), std::future::pending::<()>())
        .await
        .unwrap_err();
    assert_eq!(err.deadline(), ms(1501));
    assert_eq!(async_testkit::time::now() - started, ms(1501));
    assert!(
        !err.to_string().contains("first polled after the deadline"),
        "{err}"
    );
}

#[async_testkit::test]
async fn within_a_zero_limit_takes_a_ready_future() {
    assert_eq!(within(Duration::ZERO, async { 5 }).await.unwrap(), 5);
    assert_eq!(within(Duration::ZERO, std::future::ready(6)).await.unwrap(), 6);
    assert_eq!(elapsed(), Duration::ZERO);
}

#[async_testkit::test]
async fn within_a_zero_limit_takes_work_that_finishes_at_this_instant() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    async_testkit::spawn(async move {
        tokio::task::yield_now().await;
        tx.send("now").unwrap();
    });
    assert_eq!(within(Duration::ZERO, rx).await.unwrap().unwrap(), "now");
}

#[async_testkit::test]
async fn within_a_zero_limit_times_out_a_pending_future_at_once() {
    let err = within(Duration::ZERO, std::future::pending::<()>())
        .await
        .unwrap_err();
    assert_eq!(err.limit(), Duration::ZERO);
    assert_eq!(err.deadline(), Duration::ZERO);
    assert_eq!(elapsed(), Duration::ZERO);
}

#[async_testkit::test]
async fn within_drops_the_future_at_the_deadline() {
    struct Guard(Rc<Cell<Option<Duration>>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.set(Some(elapsed()));
        }
    }
    let dropped_at = Rc::new(Cell::new(None));
    let guard = Guard(dropped_at.clone());
    let race = within(secs(4), async move {
        let _guard = guard;
        std::future::pending::<()>().await
    });
    assert!(race.await.is_err());
    assert_eq!(dropped_at.get(), Some(secs(4)));
}

#[async_testkit::test(clock = "manual")]
async fn within_works_with_the_manual_clock() {
    let race = async_testkit::spawn(within(secs(5), std::future::pending::<()>()));
    async_testkit::time::advance(secs(4)).await;
    assert!(!race.is_finished());
    async_testkit::time::advance(secs(1)).await;
    assert!(race.is_finished());
    assert_eq!(race.await.unwrap().unwrap_err().deadline(), secs(5));
}

#[test]
fn timed_out_says_where_when_and_what_was_pending() {
    let (text, line) = Builder::new().run(|| async {
        let server = async_testkit::task::Builder::new()
            .name("server")
            .spawn(std::future::pending::<()>());
        tokio::time::sleep(secs(1)).await;
        let line = line!() + 1;
        let err = within(ms(1500), std::future::pending::<()>()).await.unwrap_err();
        server.abort();
        (err.to_string(), line)
    });
    let site = format!("{}:{line}:19", file!());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "within(1.500s) at {site} timed out: the future was still pending at its deadline +2.500s, \
             1.500s after it started at +1.000s"
        )
    );
    assert_eq!(lines[1], "tasks still pending:");
    assert!(
        lines[2].starts_with(&format!("  #0 test body spawned at {}:", file!())),
        "{text}"
    );
    assert!(
        lines[2].ends_with(
            ": waiting, 4 polls, last polled +2.500s (this task is the one awaiting the deadline)"
        ),
        "{text}"
    );
    assert!(
        lines[3].starts_with(&format!("  #1 \"server\" spawned at {}:", file!())),
        "{text}"
    );
    assert!(lines[3].ends_with(": waiting, 1 poll, last polled +0s"), "{text}");
    assert_eq!(
        lines[4],
        "If the future should have finished by then, look at what the tasks above wait for; \
         if it may take longer, raise the limit."
    );
    assert_eq!(lines.len(), 5, "{text}");
}

#[async_testkit::test]
async fn timed_out_debug_is_its_display_so_unwrap_reads_well() {
    let err = within(Duration::ZERO, std::future::pending::<()>())
        .await
        .unwrap_err();
    assert_eq!(format!("{err:?}"), err.to_string());
    assert_eq!(err.location().file(), file!());
    assert_eq!(err.pending_tasks().len(), 1);
}

#[async_testkit::test]
async fn timed_out_says_when_the_future_was_first_polled_after_its_deadline() {
    let race = within(secs(1), std::future::pending::<()>());
    tokio::time::sleep(secs(3)).await;
    let err = race.await.unwrap_err();
    assert_eq!(err.deadline(), secs(1));
    assert_eq!(err.elapsed(), secs(3));
    assert!(
        err.to_string()
            .contains("after it started at +0s (it was first polled after the deadline, at +3.000s)"),
        "{err}"
    );
}

#[test]
fn timed_out_awaited_on_a_tokio_task_marks_no_kit_task_as_the_awaiter() {
    let text = Builder::new().run(|| async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Awaited on a tokio task: no kit task is pending while it waits.
        let h = tokio::spawn(async move {
            let r = within(secs(1), std::future::pending::<()>()).await;
            tx.send(r.unwrap_err().to_string()).unwrap();
        });
        let text = rx.await.unwrap();
        h.await.unwrap();
        text
    });
    // The body waits on the receiver, so it is pending; the tokio task is not a kit task.
    assert!(text.contains("tasks still pending:\n  #0 test body"), "{text}");
    assert!(!text.contains("this task is the one awaiting"), "{text}");
}

#[test]
fn within_passes_a_panic_of_the_future_through() {
    let message = panic_message(|| async {
        let _ = within(secs(1), async {
            tokio::time::sleep(ms(10)).await;
            panic!("the server crashed");
        })
        .await;
    });
    assert_eq!(message, "the server crashed");
}

#[test]
fn within_polled_again_after_it_finished_says_so() {
    let message = panic_message(|| async {
        let mut race = std::pin::pin!(within(secs(1), async { 1 })); // @polled-again
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(race.as_mut().poll(&mut cx).is_ready());
        let _ = race.as_mut().poll(&mut cx);
    });
    assert_eq!(
        message,
        format!(
            "within created at {}:{}:39 was polled again after it finished",
            file!(),
            line_of("@polled-again")
        )
    );
}

#[test]
#[should_panic(expected = "async_testkit::within was called outside an async-testkit run.")]
fn within_outside_a_run_panics_at_the_call() {
    drop(within(secs(1), async {}));
}

#[test]
fn within_awaited_in_another_run_panics() {
    let race = Builder::new().run(|| async { Cell::new(Some(within(secs(1), async { 1 }))) });
    let message = panic_message(move || {
        let race = race.take();
        async move {
            let _ = race.expect("taken once").await;
        }
    });
    assert!(
        message.starts_with(&format!("within created at {}:", file!())),
        "{message}"
    );
    assert!(
        message.ends_with(
            "was awaited outside the async-testkit run that created it; await it inside the same test"
        ),
        "{message}"
    );
}

// ---- assert_elapsed! ------------------------------------------------------------------------

#[async_testkit::test]
async fn assert_elapsed_passes_on_the_exact_virtual_time_and_gives_the_value_back() {
    tokio::time::sleep(secs(1)).await;
    let v = assert_elapsed!(ms(2500), {
        tokio::time::sleep(secs(2)).await;
        tokio::time::sleep(ms(500)).await;
        7
    });
    assert_eq!(v, 7);
    assert_elapsed!(ms(3500));
}

#[async_testkit::test]
async fn assert_elapsed_of_a_block_that_never_waits_is_zero() {
    assert_elapsed!(Duration::ZERO, {});
    assert_elapsed!(Duration::ZERO);
}

/// tokio-test's form: an `Instant` and a duration, with tokio-test's millisecond of slack.
#[async_testkit::test]
async fn assert_elapsed_takes_tokio_tests_instant_form() {
    let start = tokio::time::Instant::now();
    tokio::time::sleep(ms(250)).await;
    assert_elapsed!(start, ms(250));
    let std_start = std::time::Instant::now();
    assert_elapsed!(std_start, Duration::ZERO);
}

#[test]
fn assert_elapsed_in_tokio_tests_form_works_on_a_plain_paused_runtime_too() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let start = tokio::time::Instant::now();
        tokio::time::sleep(secs(3)).await;
        assert_elapsed!(start, secs(3));
    });
}

#[test]
fn assert_elapsed_in_tokio_tests_form_fails_with_both_times() {
    for (slept, why) in [(100, "0.050s too short"), (160, "0.009s too long")] {
        let message = panic_message(move || async move {
            let start = tokio::time::Instant::now();
            tokio::time::sleep(ms(slept)).await;
            assert_elapsed!(start, ms(150)); // @instant-form
        });
        assert_eq!(
            message,
            format!(
                "assert_elapsed! failed at {}:{}:13: 0.{slept}s passed since the start instant, expected 0.150s \
                 to 0.151s (tokio-test's form allows a millisecond more; {why})",
                file!(),
                line_of("@instant-form")
            )
        );
    }
}

#[test]
fn assert_elapsed_fails_when_the_block_takes_longer() {
    let message = panic_message(|| async {
        tokio::time::sleep(secs(1)).await;
        // @site-0
        assert_elapsed!(secs(2), {
            tokio::time::sleep(ms(2001)).await;
        });
    });
    assert_eq!(
        message,
        format!(
            "assert_elapsed! failed at {}:{}:9: the block took 2.001s of virtual time, expected exactly 2.000s \
             (0.001s too long); it ran from +1.000s to +3.001s",
            file!(),
            line_of("@site-0") + 1
        )
    );
}

#[test]
fn assert_elapsed_fails_when_the_block_is_shorter() {
    let message = panic_message(|| async {
        // @site-1
        assert_elapsed!(secs(60), {
            tokio::time::sleep(secs(59)).await;
        });
    });
    assert_eq!(
        message,
        format!(
            "assert_elapsed! failed at {}:{}:9: the block took 59.000s of virtual time, expected exactly \
             1m00.000s (1.000s too short); it ran from +0s to +59.000s",
            file!(),
            line_of("@site-1") + 1
        )
    );
}

#[test]
fn assert_elapsed_since_the_start_fails_with_both_times() {
    let message = panic_message(|| async {
        tokio::time::sleep(ms(1500)).await;
        assert_elapsed!(secs(1)); // @site-2
    });
    assert_eq!(
        message,
        format!(
            "assert_elapsed! failed at {}:{}:9: the virtual clock is at +1.500s since the run started, \
             expected exactly +1.000s (0.500s too long)",
            file!(),
            line_of("@site-2")
        )
    );
}

#[test]
#[should_panic(expected = "assert_elapsed! was called outside an async-testkit run.")]
fn assert_elapsed_outside_a_run_panics() {
    assert_elapsed!(secs(1), {});
}

// ---- assert_completes_within! ------------------------------------------------------------------

#[async_testkit::test]
async fn assert_completes_within_gives_back_the_output() {
    let v = assert_completes_within!(send_after(secs(1), 9), secs(5));
    assert_eq!(v.unwrap(), 9);
    assert_eq!(elapsed(), secs(1));
}

#[async_testkit::test]
async fn assert_completes_within_accepts_completion_exactly_at_the_limit() {
    let v = assert_completes_within!(send_after(secs(5), 9), secs(5));
    assert_eq!(v.unwrap(), 9);
}

#[async_testkit::test]
async fn assert_completes_within_a_zero_limit_accepts_a_ready_future() {
    assert_eq!(assert_completes_within!(async { 1 }, Duration::ZERO), 1);
}

#[test]
fn assert_completes_within_fails_with_expected_and_actual_times() {
    let message = panic_message(|| async {
        assert_completes_within!(tokio::time::sleep(secs(3)), secs(2)); // @site-3
    });
    let first = message.lines().next().unwrap().to_string();
    assert_eq!(
        first,
        format!(
            "assert_completes_within! failed at {}:{}:9: the future was still pending at its deadline +2.000s, \
             2.000s after it started at +0s; expected it to complete within 2.000s",
            file!(),
            line_of("@site-3")
        )
    );
    assert!(
        message.contains("\ntasks still pending:\n  #0 test body"),
        "{message}"
    );
}

#[test]
#[should_panic(expected = "assert_completes_within! was called outside an async-testkit run.")]
fn assert_completes_within_outside_a_run_panics() {
    let _ = async_testkit::Probe::new(async { assert_completes_within!(async {}, secs(1)) }).poll();
}

// ---- assert_pending_for! ----------------------------------------------------------------------

#[async_testkit::test]
async fn assert_pending_for_hands_the_future_back_to_continue() {
    let rx = send_after(secs(10), "late");
    let rx = assert_pending_for!(rx, secs(4));
    let rx = assert_pending_for!(rx, secs(5));
    assert_eq!(elapsed(), secs(9));
    assert_eq!(rx.await.unwrap(), "late");
    assert_eq!(elapsed(), secs(10));
}

#[async_testkit::test]
async fn assert_pending_for_zero_checks_this_instant() {
    let fut = assert_pending_for!(tokio::time::sleep(ms(1)), Duration::ZERO);
    fut.await;
    assert_eq!(elapsed(), ms(1));
}

#[test]
fn assert_pending_for_fails_when_the_future_completes_exactly_at_the_limit() {
    let message = panic_message(|| async {
        tokio::time::sleep(secs(1)).await;
        drop(assert_pending_for!(send_after(secs(2), ()), secs(2))); // @site-4
    });
    assert_eq!(
        message,
        format!(
            "assert_pending_for! failed at {}:{}:14: the future completed at +3.000s, 2.000s after it started \
             at +1.000s; expected it to stay pending for 2.000s (past +3.000s)",
            file!(),
            line_of("@site-4")
        )
    );
}

#[test]
fn assert_pending_for_fails_for_a_future_that_is_never_pending() {
    let message = panic_message(|| async {
        drop(assert_pending_for!(async { 1 }, secs(2)));
    });
    assert!(
        message.ends_with(
            "the future completed at +0s, 0s after it started at +0s; expected it to stay pending for 2.000s \
             (past +2.000s)"
        ),
        "{message}"
    );
}

#[test]
#[should_panic(expected = "assert_pending_for! was called outside an async-testkit run.")]
fn assert_pending_for_outside_a_run_panics() {
    let _ = async_testkit::Probe::new(async {
        drop(assert_pending_for!(async {}, secs(1)));
    })
    .poll();
}

// ---- eventually --------------------------------------------------------------------------------

#[async_testkit::test]
async fn eventually_returns_at_once_when_the_condition_already_holds() {
    eventually(|| true).await;
    assert_eq!(eventually(|| Some(3)).await, 3);
    assert_eq!(eventually(|| Ok::<_, ()>("v")).await, "v");
    assert_eq!(elapsed(), Duration::ZERO);
}

#[async_testkit::test]
async fn eventually_sees_the_condition_at_the_first_check_after_it_holds() {
    let flag = Rc::new(Cell::new(false));
    let f = flag.clone();
    async_testkit::spawn(async move {
        tokio::time::sleep(ms(1234)).await;
        f.set(true);
    });
    eventually(|| flag.get()).poll_every(ms(100)).await;
    assert_eq!(elapsed(), ms(1300));
}

#[async_testkit::test]
async fn eventually_is_met_when_the_condition_holds_exactly_at_the_limit() {
    let rx = Rc::new(std::cell::RefCell::new(send_after(secs(3), 1)));
    let n = eventually(|| rx.borrow_mut().try_recv().ok())
        .within(secs(3))
        .poll_every(secs(2))
        .await;
    assert_eq!(n, 1);
    assert_eq!(elapsed(), secs(3));
}

#[async_testkit::test]
async fn eventually_with_a_zero_limit_checks_this_instant_after_settling() {
    let flag = Rc::new(Cell::new(false));
    let f = flag.clone();
    async_testkit::spawn(async move {
        tokio::task::yield_now().await;
        f.set(true);
    });
    eventually(|| flag.get()).within(Duration::ZERO).await;
    assert_eq!(elapsed(), Duration::ZERO);
}

#[test]
fn eventually_fails_with_the_description_and_the_last_observed_value() {
    let message = panic_message(|| async {
        let count = Rc::new(Cell::new(0));
        let c = count.clone();
        async_testkit::spawn_background(async move {
            loop {
                tokio::time::sleep(ms(300)).await;
                c.set(c.get() + 1);
            }
        });
        // @site-5
        eventually(|| {
            if count.get() >= 10 {
                Ok(())
            } else {
                Err(count.get())
            }
        })
        .within(secs(1))
        .poll_every(ms(250))
        .describe("ten heartbeats")
        .await;
    });
    assert_eq!(
        message,
        format!(
            "eventually at {}:{}:9: \"ten heartbeats\" was not met within 1.000s: checked 5 times, every 0.250s, \
             from +0s to +1.000s; last observed: 3",
            file!(),
            line_of("@site-5") + 1
        )
    );
}

#[test]
fn eventually_without_a_description_names_the_condition() {
    let message = panic_message(|| async {
        eventually(|| false).within(ms(20)).await;
    });
    assert!(
        message.ends_with(
            "the condition was not met within 0.020s: checked 3 times, every 0.010s, from +0s to +0.020s; \
             last observed: false"
        ),
        "{message}"
    );
}

#[async_testkit::test]
async fn eventually_during_passes_when_the_condition_holds_for_the_whole_span() {
    let value = Rc::new(Cell::new(0));
    let v = value.clone();
    async_testkit::spawn(async move {
        tokio::time::sleep(secs(1)).await;
        v.set(1);
    });
    // Becomes true at +1s (seen at the +1s check), then must hold 2s in a row.
    eventually(|| value.get() == 1)
        .during(secs(2))
        .within(secs(5))
        .poll_every(ms(500))
        .await;
    assert_eq!(elapsed(), secs(3));
}

#[test]
fn eventually_during_fails_when_the_condition_breaks_in_the_span() {
    let message = panic_message(|| async {
        let value = Rc::new(Cell::new(true));
        let v = value.clone();
        async_testkit::spawn(async move {
            tokio::time::sleep(ms(1500)).await;
            v.set(false);
        });
        eventually(|| if value.get() { Ok(()) } else { Err("down") }) // @site-6
            .during(secs(2))
            .within(secs(3))
            .poll_every(ms(500))
            .describe("the link stays up")
            .await;
    });
    assert_eq!(
        message,
        format!(
            "eventually at {}:{}:9: \"the link stays up\" did not hold for 2.000s in a row within 3.000s: it last \
             held from +0s until +1.500s; checked 7 times, every 0.500s, from +0s to +3.000s; last observed when it \
             failed: \"down\"",
            file!(),
            line_of("@site-6")
        )
    );
}

#[test]
fn eventually_during_says_when_the_span_was_still_running_at_the_limit() {
    let message = panic_message(|| async {
        let value = Rc::new(Cell::new(false));
        let v = value.clone();
        async_testkit::spawn(async move {
            tokio::time::sleep(secs(2)).await;
            v.set(true);
        });
        eventually(|| value.get())
            .during(secs(2))
            .within(secs(3))
            .poll_every(secs(1))
            .await;
    });
    assert!(
        message.contains(
            "the condition did not hold for 2.000s in a row within 3.000s: it had held since +2.000s when the \
             limit came; checked 4 times, every 1.000s, from +0s to +3.000s; last observed when it failed: false"
        ),
        "{message}"
    );
}

#[test]
fn eventually_during_that_never_holds_says_so() {
    let message = panic_message(|| async {
        eventually(|| false).during(ms(10)).within(ms(10)).await;
    });
    assert!(message.contains("it never held; checked 2 times"), "{message}");
}

#[test]
fn eventually_rejects_a_span_longer_than_its_limit() {
    let message = panic_message(|| async {
        eventually(|| true).during(secs(5)).within(secs(2)).await; // @site-7
    });
    assert_eq!(
        message,
        format!(
            "eventually at {}:{}:9: .during(5.000s) is longer than .within(2.000s), so it can never be met; \
             raise .within to at least the span",
            file!(),
            line_of("@site-7")
        )
    );
}

#[test]
fn eventually_rejects_a_zero_polling_interval_at_the_call() {
    let message = panic_message(|| async {
        drop(eventually(|| true).poll_every(Duration::ZERO)); // @site-8
    });
    assert_eq!(
        message,
        format!(
            "eventually(..).poll_every(0s) at {}:{}:34: the interval must be longer than zero, or virtual time \
             could never move between checks; use Duration::from_millis(1) for the finest polling",
            file!(),
            line_of("@site-8")
        )
    );
}

#[test]
fn eventually_passes_a_panic_of_the_condition_through() {
    let message = panic_message(|| async {
        eventually(|| -> bool { panic!("the condition itself is broken") }).await;
    });
    assert_eq!(message, "the condition itself is broken");
}

#[test]
#[should_panic(expected = "async_testkit::eventually was called outside an async-testkit run.")]
fn eventually_outside_a_run_panics() {
    drop(eventually(|| true));
}

#[test]
fn all_of_it_is_deterministic() {
    let run = || {
        Builder::new()
            .clock(Clock::Auto)
            .try_run(|| async {
                let rx = send_after(secs(2), 1);
                let _ = within(secs(1), std::future::pending::<()>()).await;
                eventually(|| elapsed() >= secs(2)).await;
                rx.await.unwrap()
            })
            .unwrap()
    };
    assert_eq!(run().trace_hash(), run().trace_hash());
}
