//! `cancel::after`, `cancel::at_poll` and `cancel::check_cancel_safety`: dropping futures
//! at virtual times and at suspension points, the checker on real tokio code (channels,
//! `Mutex`, `select!`), each failure message, boundaries and misuse.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use async_testkit::cancel::{self, check_cancel_safety};
use async_testkit::time::elapsed;
use support::panic_message;
use tokio::sync::{Mutex, mpsc};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn line_of(marker: &str) -> u32 {
    support::line_of(include_str!("cancel.rs"), marker)
}

/// Records when it is dropped.
struct DropClock(Rc<Cell<Option<Duration>>>);

impl Drop for DropClock {
    fn drop(&mut self) {
        self.0.set(Some(elapsed()));
    }
}

// ---- after -------------------------------------------------------------------------------

#[async_testkit::test]
async fn after_gives_the_output_when_the_future_finishes_first() {
    let out = cancel::after(secs(5), async {
        tokio::time::sleep(secs(2)).await;
        "done"
    })
    .await;
    assert_eq!(out, Some("done"));
    assert_eq!(elapsed(), secs(2));
}

#[async_testkit::test]
async fn after_drops_the_future_at_the_virtual_deadline() {
    let dropped = Rc::new(Cell::new(None));
    let guard = DropClock(dropped.clone());
    let out = cancel::after(secs(3), async move {
        let _guard = guard;
        tokio::time::sleep(secs(10)).await;
    })
    .await;
    assert_eq!(out, None);
    assert_eq!(dropped.get(), Some(secs(3)));
    assert_eq!(elapsed(), secs(3));
}

#[async_testkit::test]
async fn after_counts_completion_exactly_at_the_deadline_as_completed() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    async_testkit::spawn(async move {
        tokio::time::sleep(secs(3)).await;
        tx.send(1).unwrap();
    });
    assert_eq!(cancel::after(secs(3), rx).await, Some(Ok(1)));
}

#[async_testkit::test]
async fn after_zero_keeps_a_ready_future_and_drops_a_pending_one() {
    assert_eq!(cancel::after(Duration::ZERO, async { 1 }).await, Some(1));
    assert_eq!(
        cancel::after(Duration::ZERO, std::future::pending::<()>()).await,
        None
    );
    assert_eq!(elapsed(), Duration::ZERO);
}

#[test]
fn after_passes_a_panic_through() {
    let message = panic_message(|| async {
        cancel::after(secs(1), async { panic!("worker died") }).await;
    });
    assert_eq!(message, "worker died");
}

#[test]
#[should_panic(expected = "async_testkit::cancel::after was called outside an async-testkit run.")]
fn after_outside_a_run_panics() {
    drop(cancel::after(secs(1), async {}));
}

// ---- at_poll -----------------------------------------------------------------------------

/// A future that logs each step and yields after it (one suspension point per step).
async fn steps(log: &RefCell<Vec<u32>>, n: u32) -> u32 {
    for i in 1..=n {
        log.borrow_mut().push(i);
        tokio::task::yield_now().await;
    }
    n
}

#[async_testkit::test]
async fn at_poll_drops_the_future_after_its_nth_pending() {
    let log = RefCell::new(Vec::new());
    assert_eq!(cancel::at_poll(2, steps(&log, 5)).await, None);
    assert_eq!(*log.borrow(), [1, 2]);
}

#[async_testkit::test]
async fn at_poll_gives_the_output_if_the_future_finishes_first() {
    let log = RefCell::new(Vec::new());
    assert_eq!(cancel::at_poll(4, steps(&log, 3)).await, Some(3));
    // Exactly as many pendings as the limit is not enough to finish: dropped at the last.
    log.borrow_mut().clear();
    assert_eq!(cancel::at_poll(3, steps(&log, 3)).await, None);
    assert_eq!(*log.borrow(), [1, 2, 3]);
}

#[async_testkit::test]
async fn at_poll_zero_drops_without_polling() {
    let log = RefCell::new(Vec::new());
    assert_eq!(cancel::at_poll(0, steps(&log, 3)).await, None);
    assert!(log.borrow().is_empty());
    assert_eq!(cancel::at_poll(0, async { 1 }).await, None);
}

#[async_testkit::test]
async fn at_poll_keeps_a_future_that_is_never_pending() {
    assert_eq!(cancel::at_poll(1, async { 8 }).await, Some(8));
}

#[test]
fn at_poll_needs_no_kit_run() {
    let log = RefCell::new(Vec::new());
    let mut p = async_testkit::Probe::new(cancel::at_poll(1, async {
        log.borrow_mut().push(1);
        std::future::pending::<()>().await
    }));
    assert_eq!(p.poll(), std::task::Poll::Ready(None));
    assert_eq!(*log.borrow(), [1]);
}

// ---- check_cancel_safety -------------------------------------------------------------------

/// A queue consumer's state: an inbox, and where each message ended up.
struct Consumer {
    inbox: mpsc::Receiver<u32>,
    acked: Vec<u32>,
    held: Option<u32>,
}

fn consumer_with(messages: &[u32]) -> Consumer {
    let (tx, rx) = mpsc::channel(8);
    for m in messages {
        tx.try_send(*m).unwrap();
    }
    Consumer {
        inbox: rx,
        acked: Vec::new(),
        held: None,
    }
}

fn nothing_lost(c: &mut Consumer) {
    let accounted = c.acked.len() + c.inbox.len() + usize::from(c.held.is_some());
    // @lost-assert (the next line)
    assert_eq!(
        accounted,
        2,
        "a message was lost: acked {:?}, {} still queued",
        c.acked,
        c.inbox.len()
    );
}

#[async_testkit::test]
async fn the_checker_passes_a_cancel_safe_consumer_and_counts_its_points() {
    let report = check_cancel_safety(
        || consumer_with(&[1, 2]),
        async |c: &mut Consumer| {
            while let Ok(m) = c.inbox.try_recv() {
                c.held = Some(m);
                tokio::time::sleep(secs(1)).await; // processing
                c.acked.push(c.held.take().unwrap());
            }
        },
        nothing_lost,
    )
    .await;
    assert_eq!(report.points(), 2);
    assert_eq!(report.tried(), 2);
    assert!(report.not_reached().is_empty());
    assert_eq!(
        report.to_string(),
        "cancel-safe: the invariant held after a complete run and after a drop at each of 2 suspension points"
    );
}

#[test]
fn the_checker_finds_the_point_where_a_consumer_loses_a_message() {
    let message = panic_message(|| async {
        check_cancel_safety(
            || consumer_with(&[1, 2]), // @checker-site
            async |c: &mut Consumer| {
                while let Some(m) = c.inbox.recv().await {
                    tokio::time::sleep(secs(1)).await; // processing: the message is only in a local here
                    c.acked.push(m);
                    if c.inbox.is_empty() {
                        break;
                    }
                }
            },
            nothing_lost, // @invariant
        )
        .await;
    });
    let site = format!("{}:{}", file!(), line_of("@checker-site") - 1);
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "check_cancel_safety at {site}:9: the invariant broke when the operation was dropped at suspension \
             point 1 of 2, at virtual time +2.000s"
        )
    );
    assert_eq!(
        lines[1],
        format!(
            "the invariant panicked at {}:{}:5: assertion `left == right` failed: a message was lost: acked [], \
             1 still queued",
            file!(),
            line_of("@lost-assert") + 1
        )
    );
    assert_eq!(lines[2], "  left: 1");
    assert_eq!(lines[3], " right: 2");
    assert_eq!(lines[4], "points tried: 1 of 2");
    assert_eq!(
        lines[5],
        "timeline of this attempt up to the drop (virtual time):"
    );
    assert!(lines[6].ends_with(" earlier events not shown"), "{message}");
    assert!(lines[7].ends_with("  +2.000s  #0 test body: polled"), "{message}");
    let drop_line = "    the operation was dropped here, at its suspension point 1";
    assert!(
        message.contains(&format!("#0 test body: polled\n{drop_line}\n")),
        "{message}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("What to do: the operation is not cancel-safe at that await."),
        "{message}"
    );
}

#[async_testkit::test]
async fn the_checker_works_with_a_tokio_mutex_and_select() {
    struct Bank {
        accounts: Rc<Mutex<(i64, i64)>>,
        stop: tokio::sync::watch::Receiver<bool>,
        _stop_tx: tokio::sync::watch::Sender<bool>,
    }
    let report = check_cancel_safety(
        || {
            let (tx, rx) = tokio::sync::watch::channel(false);
            Bank {
                accounts: Rc::new(Mutex::new((100, 0))),
                stop: rx,
                _stop_tx: tx,
            }
        },
        async |b: &mut Bank| {
            // A transfer after a delay, unless stopped; the update itself never suspends.
            let mut accounts = b.accounts.lock().await;
            tokio::select! {
                biased;
                _ = b.stop.changed() => {}
                _ = tokio::time::sleep(secs(1)) => {
                    accounts.0 -= 10;
                    accounts.1 += 10;
                }
            }
            drop(accounts);
            tokio::task::yield_now().await; // a second suspension point, after the lock
        },
        |b: &mut Bank| {
            let accounts = b.accounts.try_lock().expect("the lock is released on drop");
            assert_eq!(accounts.0 + accounts.1, 100);
        },
    )
    .await;
    assert_eq!(report.points(), 2);
    assert_eq!(report.tried(), 2);
}

#[test]
fn the_checker_finds_a_suspension_inside_a_select_branch() {
    let message = panic_message(|| async {
        check_cancel_safety(
            || Rc::new(Mutex::new((100i64, 0i64))),
            async |accounts: &mut Rc<Mutex<(i64, i64)>>| {
                let mut a = accounts.lock().await;
                tokio::select! {
                    biased;
                    _ = tokio::time::sleep(secs(5)) => {}
                    _ = tokio::time::sleep(secs(1)) => {
                        a.0 -= 10;
                        tokio::task::yield_now().await; // a drop here loses the money
                        a.1 += 10;
                    }
                }
            },
            |accounts: &mut Rc<Mutex<(i64, i64)>>| {
                let a = accounts.try_lock().unwrap();
                assert_eq!(a.0 + a.1, 100, "money was created or destroyed");
            },
        )
        .await;
    });
    assert!(
        message.contains("dropped at suspension point 2 of 2, at virtual time +2.000s\n"),
        "{message}"
    );
    assert!(
        message.contains("\npoints tried: 2 of 2 (point 1 held)\n"),
        "{message}"
    );
}

#[test]
fn the_checker_says_which_earlier_points_held() {
    let message = panic_message(|| async {
        check_cancel_safety(
            Vec::<u8>::new,
            async |v: &mut Vec<u8>| {
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
                v.push(1);
                tokio::task::yield_now().await;
                v.push(2);
            },
            |v: &mut Vec<u8>| assert!(v.len() != 1, "half done"),
        )
        .await;
    });
    assert!(
        message.contains("point 3 of 3, at virtual time +0s\n"),
        "{message}"
    );
    assert!(
        message.contains("\npoints tried: 3 of 3 (points 1 to 2 held)\n"),
        "{message}"
    );
}

#[test]
fn the_checker_rejects_an_invariant_broken_without_cancellation() {
    let message = panic_message(|| async {
        check_cancel_safety(
            || 0u32, // @complete-site
            async |n: &mut u32| {
                tokio::task::yield_now().await;
                *n += 2;
            },
            |n: &mut u32| assert!(*n < 2, "n grew to {n}"),
        )
        .await;
    });
    assert_eq!(
        message,
        format!(
            "check_cancel_safety at {}:{}:9: the invariant broke after the operation ran to completion, without \
             any cancellation (at +0s)\nthe invariant panicked at {}:{}:27: n grew to 2\nFix the operation or the \
             invariant first: the check assumes a complete run keeps the invariant.",
            file!(),
            line_of("@complete-site") - 1,
            file!(),
            line_of("@complete-site") + 5
        )
    );
}

#[async_testkit::test]
async fn the_checker_tries_nothing_on_an_operation_that_never_suspends() {
    let report = check_cancel_safety(|| 0, async |n: &mut i32| *n += 1, |n: &mut i32| assert!(*n <= 1)).await;
    assert_eq!((report.points(), report.tried()), (0, 0));
    assert!(report.to_string().contains("never suspended"));
}

#[async_testkit::test]
async fn the_checker_notes_points_a_fresh_run_does_not_reach() {
    let first = Cell::new(true);
    let report = check_cancel_safety(
        || (),
        async |_: &mut ()| {
            if first.replace(false) {
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
            }
            tokio::task::yield_now().await;
        },
        |_: &mut ()| {},
    )
    .await;
    assert_eq!(report.points(), 3);
    assert_eq!(report.not_reached(), [2, 3]);
    assert_eq!(report.tried(), 1);
    assert!(
        report.to_string().ends_with(
            " tried (1 of 3; points [2, 3] were not reached: the operation suspended fewer times on a fresh run)"
        ),
        "{report}"
    );
}

#[test]
fn a_panic_in_the_operation_fails_the_test_as_a_panic() {
    let message = panic_message(|| async {
        check_cancel_safety(
            || (),
            async |_: &mut ()| {
                tokio::task::yield_now().await;
                panic!("the operation itself is broken");
            },
            |_: &mut ()| {},
        )
        .await;
    });
    assert_eq!(message, "the operation itself is broken");
}

#[test]
#[should_panic(
    expected = "async_testkit::cancel::check_cancel_safety was called outside an async-testkit run."
)]
fn the_checker_outside_a_run_panics() {
    drop(check_cancel_safety(|| (), async |_: &mut ()| {}, |_: &mut ()| {}));
}

#[test]
fn the_checker_on_a_tokio_task_is_refused() {
    let message = panic_message(|| async {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            let check = check_cancel_safety(|| (), async |_: &mut ()| {}, |_: &mut ()| {});
            check.await;
            let _ = tx.send(());
        });
        let _ = rx.await;
        let _ = handle.await;
    });
    assert!(
        message.ends_with(
            "was awaited outside a kit task (in a task started with tokio::spawn?); await it in the test body \
             or in a task started with async_testkit::spawn"
        ),
        "{message}"
    );
}
