//! Virtual time: the clock, settling advance, clock modes.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use async_testkit::{Builder, Clock, FailureKind, spawn, time};

const S: Duration = Duration::from_secs(1);

/// Tasks sleeping 1, 2 and 3 s record the virtual time at which they woke.
fn sleepers(wakes: &Rc<RefCell<Vec<Duration>>>) -> Vec<async_testkit::JoinHandle<()>> {
    (1..=3)
        .map(|i| {
            let w = wakes.clone();
            spawn(async move {
                tokio::time::sleep(S * i).await;
                w.borrow_mut().push(time::elapsed());
            })
        })
        .collect()
}

#[test]
fn hours_of_sleep_take_no_wall_time_and_elapsed_is_exact() {
    let r = Builder::new()
        .try_run(|| async {
            for _ in 0..60 {
                tokio::time::sleep(Duration::from_secs(59)).await;
            }
            time::elapsed()
        })
        .unwrap();
    assert_eq!(*r.value(), Duration::from_secs(3540));
    assert_eq!(r.elapsed(), Duration::from_secs(3540));
}

#[test]
fn advance_settles_every_woken_task_at_its_own_instant() {
    for clock in [Clock::Manual, Clock::Auto] {
        Builder::new().clock(clock).run(|| async {
            let wakes = Rc::new(RefCell::new(Vec::new()));
            let hs = sleepers(&wakes);
            time::advance(S * 3).await;
            // All three ran before advance returned, each at its own deadline; the one
            // due exactly at the target ran too.
            assert_eq!(*wakes.borrow(), [S, S * 2, S * 3]);
            assert_eq!(time::elapsed(), S * 3);
            assert!(hs.iter().all(|h| h.is_finished()));
        });
    }
}

#[test]
fn tokios_own_advance_returns_before_the_woken_tasks_run() {
    // The same scenario on a plain paused tokio runtime, with tokio::time::advance.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let woken_when_advance_returned = rt.block_on(async {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for i in 1..=3 {
            let d = done.clone();
            tokio::spawn(async move {
                tokio::time::sleep(S * i).await;
                d.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        tokio::task::yield_now().await;
        tokio::time::advance(S * 3).await;
        done.load(std::sync::atomic::Ordering::SeqCst)
    });
    assert!(
        woken_when_advance_returned < 3,
        "tokio's advance settled everything ({woken_when_advance_returned})"
    );

    // The kit's advance, same shape: all three are done.
    let done = Builder::new().clock(Clock::Manual).run(|| async {
        let done = Rc::new(RefCell::new(0));
        for i in 1..=3 {
            let d = done.clone();
            spawn(async move {
                tokio::time::sleep(S * i).await;
                *d.borrow_mut() += 1;
            });
        }
        time::advance(S * 3).await;
        *done.borrow()
    });
    assert_eq!(done, 3);
}

#[test]
fn advance_runs_chains_of_work_started_at_the_target_instant() {
    Builder::new().clock(Clock::Manual).run(|| async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        spawn(async move {
            tokio::time::sleep(S).await;
            // Work woken at the target hands off through two more tasks at the same instant.
            let (tx2, mut rx2) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(async move {
                let v: u32 = rx2.recv().await.unwrap();
                tx.send(v + 1).unwrap();
            });
            tx2.send(41).unwrap();
        });
        time::advance(S).await;
        assert_eq!(rx.try_recv().unwrap(), 42);
    });
}

#[test]
fn advance_does_not_fire_timers_past_the_target() {
    Builder::new().clock(Clock::Manual).run(|| async {
        let wakes = Rc::new(RefCell::new(Vec::new()));
        let hs = sleepers(&wakes);
        time::advance(S * 2).await;
        assert_eq!(*wakes.borrow(), [S, S * 2]);
        time::advance(Duration::from_millis(999)).await;
        assert_eq!(wakes.borrow().len(), 2);
        time::advance(Duration::from_millis(1)).await;
        assert_eq!(*wakes.borrow(), [S, S * 2, S * 3]);
        for h in hs {
            h.await.unwrap();
        }
    });
}

#[test]
fn advance_to_and_zero_advance() {
    Builder::new().clock(Clock::Manual).run(|| async {
        let target = time::now() + S * 5;
        time::advance_to(target).await;
        assert_eq!(time::now(), target);
        // Advancing by zero settles without moving time.
        let h = spawn(async { 1 });
        time::advance(Duration::ZERO).await;
        assert!(h.is_finished());
        assert_eq!(time::elapsed(), S * 5);
        time::advance_to(target).await;
        assert_eq!(time::now(), target);
    });
}

#[test]
fn run_until_idle_runs_everything_ready_without_moving_time() {
    Builder::new().clock(Clock::Manual).run(|| async {
        let wakes = Rc::new(RefCell::new(Vec::new()));
        let w = wakes.clone();
        let quick = spawn(async move { w.borrow_mut().push(Duration::ZERO) });
        let slow = spawn(async { tokio::time::sleep(S).await });
        time::run_until_idle().await;
        assert!(quick.is_finished());
        assert!(!slow.is_finished());
        assert_eq!(time::elapsed(), Duration::ZERO);
        slow.abort();
    });
}

#[test]
fn a_manual_clock_never_moves_by_itself() {
    Builder::new().clock(Clock::Manual).run(|| async {
        let h = spawn(async { tokio::time::sleep(S).await });
        for _ in 0..10 {
            tokio::task::yield_now().await;
            time::run_until_idle().await;
        }
        assert_eq!(time::elapsed(), Duration::ZERO);
        assert!(!h.is_finished());
        time::advance(S).await;
        assert!(h.is_finished());
    });
}

#[test]
fn a_manual_clock_with_every_task_waiting_is_reported_as_stalled() {
    let f = Builder::new()
        .clock(Clock::Manual)
        .name("stall")
        .try_run(|| async {
            spawn(async { tokio::time::sleep(S).await }).await.unwrap();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock);
    assert_eq!(
        f.headline(),
        "stalled: every task is waiting and the clock is manual, so nothing can move time (at +0s); \
         call async_testkit::time::advance from the test, or use clock = \"auto\""
    );
    assert!(f.to_string().contains("clock manual"), "{f}");
}

#[test]
fn advancing_past_the_virtual_limit_is_a_virtual_timeout() {
    let f = Builder::new()
        .clock(Clock::Manual)
        .virtual_timeout(S * 10)
        .try_run(|| async {
            time::advance(S * 11).await;
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::VirtualTimeout);
    assert_eq!(
        f.headline(),
        "virtual timeout: the test did not finish within its virtual time limit of +10.000s: \
         a task was still waiting on a timer past it, woken at +11.000s; raise the limit with \
         #[async_testkit::test(virtual_timeout = \"..\")] if the test really waits that long"
    );
}

#[test]
fn finishing_exactly_at_the_virtual_limit_passes() {
    let r = Builder::new()
        .virtual_timeout(S * 10)
        .try_run(|| async { tokio::time::sleep(S * 10).await })
        .unwrap();
    assert_eq!(r.elapsed(), S * 10);
}

#[test]
fn system_now_moves_with_the_virtual_clock_from_a_fixed_epoch() {
    async_testkit::run(async {
        assert_eq!(time::system_now(), time::epoch());
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(
            time::system_now().duration_since(time::epoch()).unwrap(),
            Duration::from_secs(90)
        );
    });
}

/// A loopback peer on a real OS thread that answers after `delay` of wall time.
fn slow_peer(delay: Duration) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1];
        s.read_exact(&mut buf).unwrap();
        std::thread::sleep(delay);
        let _ = s.write_all(b"!");
    });
    addr
}

/// The body: ask the real peer, with a 5 s virtual timeout around the answer.
async fn ask(addr: std::net::SocketAddr) -> Result<(), &'static str> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"?").await.unwrap();
    let mut buf = [0u8; 1];
    match tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut buf)).await {
        Ok(r) => r.map(|_| ()).map_err(|_| "io error"),
        Err(_) => Err("timed out"),
    }
}

#[test]
fn auto_clock_jumps_ahead_of_real_io_and_autojump_waits_for_it() {
    // Auto: nothing is ready and a timer is pending, so the clock jumps the 5 s at once,
    // long before the peer's answer arrives (the trap of tokio #4522).
    let addr = slow_peer(Duration::from_millis(50));
    let got = Builder::new().run(move || ask(addr));
    assert_eq!(got, Err("timed out"));

    // Autojump: the clock waits a wall-time cushion of idleness before jumping, so the
    // real answer arrives first and no virtual time passes.
    let addr = slow_peer(Duration::from_millis(10));
    let (got, elapsed) = Builder::new()
        .clock(Clock::AutoJump(Duration::from_secs(2)))
        .run(move || async move { (ask(addr).await, time::elapsed()) });
    assert_eq!(got, Ok(()));
    assert_eq!(elapsed, Duration::ZERO);
}

#[test]
fn autojump_still_jumps_once_the_runtime_has_been_idle() {
    let r = Builder::new()
        .clock(Clock::AutoJump(Duration::from_millis(5)))
        .try_run(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            time::elapsed()
        })
        .unwrap();
    assert_eq!(*r.value(), Duration::from_secs(3600));
}

#[test]
fn spawn_blocking_holds_the_clock_until_it_returns() {
    let elapsed = async_testkit::run(async {
        let t = tokio::spawn(async { tokio::time::sleep(Duration::from_secs(30)).await });
        // While the blocking closure runs, the clock must not jump to the 30 s timer.
        let seen = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(20)))
            .await
            .map(|_| ());
        assert!(seen.is_ok());
        let at = time::elapsed();
        t.await.unwrap();
        at
    });
    assert_eq!(elapsed, Duration::ZERO);
}

#[test]
fn a_virtual_timeout_of_duration_max_sets_no_limit_and_deadlocks_are_still_found() {
    let r = Builder::new()
        .virtual_timeout(Duration::MAX)
        .try_run(|| async {
            tokio::time::sleep(Duration::from_secs(3 * 365 * 86_400)).await;
            time::elapsed()
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(*r.value(), Duration::from_secs(3 * 365 * 86_400));

    let f = Builder::new()
        .virtual_timeout(Duration::MAX)
        .try_run(|| async {
            let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
            rx.await.unwrap();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock, "{f}");
}

/// With a manual clock, an `advance` awaited in a tokio task: the wait that began before it
/// must follow (let time move), not report a stall.
#[test]
fn a_manual_clock_advanced_from_a_tokio_task_moves() {
    let r = Builder::new()
        .clock(Clock::Manual)
        .timeout(Duration::from_secs(20))
        .try_run(|| async {
            let h = tokio::spawn(async {
                time::advance(Duration::from_secs(5)).await;
                time::elapsed()
            });
            h.await.unwrap()
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(*r.value(), Duration::from_secs(5));
}

#[test]
fn tokio_time_resume_in_a_test_fails_it_instead_of_turning_virtual_time_off() {
    let f = async_testkit::Builder::new()
        .try_run(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            tokio::time::resume();
            // Would wait an hour of real time.
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        })
        .unwrap_err();
    assert_eq!(f.kind(), async_testkit::FailureKind::Expectation, "{f}");
    assert_eq!(
        f.headline(),
        "virtual time was turned off: tokio::time::resume() was called in a poll of task #0 test body at \
         +1.000s, so tokio's clock ran in real time and every sleep would really wait; remove the call (to \
         move virtual time, await async_testkit::time::advance, or use clock = \"manual\")"
    );
    // In a task the kit does not poll: found when the run next looks, and said so.
    let f = async_testkit::Builder::new()
        .try_run(|| async {
            tokio::spawn(async { tokio::time::resume() }).await.unwrap();
        })
        .unwrap_err();
    assert_eq!(
        f.headline(),
        "virtual time was turned off: tokio::time::resume() was called outside the kit's polls (in a task \
         started with tokio::spawn, or a blocking closure), so tokio's clock ran in real time and every sleep \
         would really wait; remove the call (to move virtual time, await async_testkit::time::advance, or use \
         clock = \"manual\")"
    );
}

const YEAR: Duration = Duration::from_secs(365 * 86_400);

/// A timer past the reach of tokio's wheel (about 2.2 years) is still a timer: with a
/// limit it is a virtual timeout, never a deadlock.
#[test]
fn a_timer_years_away_is_a_virtual_timeout_not_a_deadlock() {
    let f = Builder::new()
        .try_run(|| async { tokio::time::sleep(YEAR * 3).await })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::VirtualTimeout, "{f}");
    assert_eq!(
        f.headline(),
        "virtual timeout: the test did not finish within its virtual time limit of +1h00m00.000s: \
         a task was still waiting on a timer past it, woken at +3y0d00h00m00.000s; raise the limit with \
         #[async_testkit::test(virtual_timeout = \"..\")] if the test really waits that long"
    );
}

/// tokio cuts a sleep to 30 years; `advance` is not cut, and a settling advance a
/// century away passes the kit's far sentinel without a deadlock.
#[test]
fn far_timers_without_a_limit_are_waited_for() {
    let r = Builder::new()
        .virtual_timeout(Duration::MAX)
        .try_run(|| async {
            tokio::time::sleep(YEAR * 100).await;
            let slept = time::elapsed();
            time::advance(YEAR * 100).await;
            (slept, time::elapsed())
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(*r.value(), (YEAR * 30, YEAR * 130));
}

/// `advance` moves the clock by exactly its duration, though tokio's timers count whole
/// milliseconds; timers on the way still fire at their own instants.
#[test]
fn advance_is_exact_to_the_nanosecond() {
    let (first, seen, last) = async_testkit::run(async {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        spawn(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            s.borrow_mut().push(time::elapsed());
        });
        time::advance(Duration::from_micros(1500)).await;
        let first = time::elapsed();
        time::advance(Duration::from_nanos(1)).await;
        let last = time::elapsed();
        (first, seen.take(), last)
    });
    assert_eq!(first, Duration::from_micros(1500));
    assert_eq!(seen, vec![Duration::from_millis(1)]);
    assert_eq!(last, Duration::from_nanos(1_500_001));
}

#[test]
fn try_elapsed_is_none_outside_a_run() {
    assert_eq!(time::try_elapsed(), None);
    // Nor after one: a thread that outlives its run does not read a finished clock.
    let late = async_testkit::run(async {
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(1));
        })
    });
    late.join().unwrap();
    assert_eq!(time::try_elapsed(), None);
}

#[test]
fn try_elapsed_reads_the_virtual_clock_on_the_run_thread() {
    async_testkit::run(async {
        assert_eq!(time::try_elapsed(), Some(Duration::ZERO));
        tokio::time::sleep(S * 3600).await;
        assert_eq!(time::try_elapsed(), Some(S * 3600));
    });
}

#[test]
fn try_elapsed_reads_the_virtual_clock_in_a_blocking_closure() {
    async_testkit::run(async {
        tokio::time::sleep(S * 90).await;
        let seen = tokio::task::spawn_blocking(time::try_elapsed).await.unwrap();
        assert_eq!(seen, Some(S * 90));
    });
}

#[test]
fn elapsed_in_a_blocking_closure_fails_the_test_and_says_to_use_try_elapsed() {
    let failure = Builder::new()
        .try_run(|| async {
            tokio::task::spawn_blocking(time::elapsed).await.ok();
        })
        .unwrap_err();
    assert_eq!(failure.kind(), FailureKind::Panic);
    let message = &failure.panic_messages()[0];
    assert!(
        message.contains("async_testkit::time::elapsed was called outside an async-testkit run"),
        "{message}"
    );
    assert!(
        message.contains("To read the virtual clock from another thread of the run (a spawn_blocking closure, a thread the test started), use async_testkit::time::try_elapsed()"),
        "{message}"
    );
}

#[cfg(target_os = "linux")]
#[test]
// Its name's first 15 bytes (all the kernel keeps) are its own: a thread is matched to
// the one live run whose thread has its name.
fn thread_started_by_the_test_reads_try_elapsed() {
    // The body waits for the threads in its poll (join), so the clock cannot move
    // meanwhile, however slowly they start: the poll's wall time is not the test's point.
    Builder::new()
        .slow_poll_policy(async_testkit::Policy::Ignore)
        .run(|| async {
            tokio::time::sleep(S * 5).await;
            let seen = std::thread::spawn(time::try_elapsed).join().unwrap();
            assert_eq!(seen, Some(S * 5));
            // A thread with a name of its own is not recognised.
            let named = std::thread::Builder::new()
                .name("named-by-the-test".into())
                .spawn(time::try_elapsed)
                .unwrap();
            assert_eq!(named.join().unwrap(), None);
        });
}

#[cfg(target_os = "linux")]
#[test]
fn deadlocked_runs_threads_read_the_instant_it_was_found_at() {
    struct OnDrop(std::sync::Arc<std::sync::Mutex<Option<Option<Duration>>>>);
    impl Drop for OnDrop {
        // Runs when the kit cancels the deadlocked body, after the deadlock probe moved
        // tokio's clock far on.
        fn drop(&mut self) {
            let seen = std::thread::spawn(time::try_elapsed).join().unwrap();
            *self.0.lock().unwrap() = Some(seen);
        }
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let failure = {
        let seen = seen.clone();
        Builder::new()
            .try_run(move || {
                let guard = OnDrop(seen.clone());
                async move {
                    let _guard = guard;
                    tokio::time::sleep(S * 5).await;
                    let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
                    rx.await.unwrap();
                }
            })
            .unwrap_err()
    };
    assert_eq!(failure.kind(), FailureKind::Deadlock);
    // The run thread reads it too: the body's cancellation is at the deadlock's instant.
    let report = failure.to_string();
    assert!(report.contains("+5.000s  #0 test body: cancelled"), "{report}");
    assert_eq!(*seen.lock().unwrap(), Some(Some(S * 5)));
}
