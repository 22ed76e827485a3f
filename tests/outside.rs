//! Work outside the runtime under the default clock: OS threads, child processes and
//! blocking closures that will wake a task are waited for; a real deadlock is still one.

use std::time::Duration;

use async_testkit::{Builder, Clock, FailureKind, time};

/// An OS thread replies on a tokio oneshot at once; repeated, as the wake races the
/// clock's jump to the kit's deadline sentinel.
#[test]
fn a_thread_replying_on_a_oneshot_is_waited_for() {
    for run in 0..30 {
        let r = Builder::new().try_run(|| async {
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || tx.send(7).unwrap());
            (rx.await.unwrap(), time::elapsed())
        });
        match r {
            Ok(r) => assert_eq!(*r.value(), (7, Duration::ZERO), "run {run}"),
            Err(f) => panic!("run {run}: {f}"),
        }
    }
}

/// A child process's exit reaches the run through tokio's I/O driver.
#[test]
fn a_child_process_is_waited_for() {
    for run in 0..10 {
        let r = Builder::new().try_run(|| async {
            let status = tokio::process::Command::new("sh")
                .args(["-c", "exit 0"])
                .status()
                .await
                .unwrap();
            (status.success(), time::elapsed())
        });
        match r {
            Ok(r) => assert_eq!(*r.value(), (true, Duration::ZERO), "run {run}"),
            Err(f) => panic!("run {run}: {f}"),
        }
    }
}

/// While the thread is on its way, a pending virtual hour must not be jumped to.
#[test]
fn a_pending_timer_is_not_jumped_to_while_a_thread_may_still_reply() {
    let r = Builder::new().try_run(|| async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(7).unwrap();
        });
        tokio::select! {
            biased;
            v = rx => Ok((v.unwrap(), time::elapsed())),
            _ = tokio::time::sleep(Duration::from_secs(3600)) => Err("the clock jumped to the timer first"),
        }
    });
    match r {
        Ok(r) => assert_eq!(*r.value(), Ok((7, Duration::ZERO))),
        Err(f) => panic!("{f}"),
    }
}

/// A manual clock's stall waits for outside work too.
#[test]
fn a_manual_clock_waits_for_a_thread_before_calling_it_a_stall() {
    let r = Builder::new().clock(Clock::Manual).try_run(|| async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            // Well inside the 200 ms grace, even when a loaded machine wakes it late.
            std::thread::sleep(Duration::from_millis(10));
            tx.send(7).unwrap();
        });
        rx.await.unwrap()
    });
    assert_eq!(*r.unwrap_or_else(|f| panic!("{f}")).value(), 7);
}

/// Nothing outside, nothing pending: a deadlock, reported without waiting on real time.
#[test]
fn a_real_deadlock_is_still_a_deadlock() {
    let f = Builder::new()
        .try_run(|| async {
            let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
            let _ = rx.await;
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock);
    assert_eq!(
        f.headline(),
        "deadlock: every task is waiting and no timer is pending (nothing has run since +0s)"
    );
}

/// A thread that never answers: after the grace the run is a deadlock, and the report
/// says what was still running and what to do.
#[test]
fn a_deadlock_while_a_thread_runs_says_so_and_names_the_cure() {
    let (release, parked) = std::sync::mpsc::channel::<()>();
    let parked = std::sync::Mutex::new(Some(parked));
    let f = Builder::new()
        .try_run(move || {
            let parked = parked.lock().unwrap().take().unwrap();
            async move {
                let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
                std::thread::spawn(move || {
                    let _ = parked.recv();
                });
                let _ = rx.await;
            }
        })
        .unwrap_err();
    drop(release);
    assert_eq!(f.kind(), FailureKind::Deadlock);
    assert_eq!(
        f.headline(),
        "deadlock: every task is waiting and no timer is pending (nothing has run since +0s); \
         1 OS thread the test started still running after 0.200s of real time: if a task waits for it, \
         it did not wake one in that time; let it answer sooner, or use clock = \"autojump(5s)\" to wait \
         longer before the clock moves"
    );
}

/// A reply over a socket from a thread the kit cannot see (another name), a moment after
/// every task waits with no timer: the run turns the I/O driver for a while before it
/// judges, as tokio would block on the socket, and the reply arrives.
#[test]
fn a_socket_reply_from_an_unseen_thread_is_waited_for() {
    let r = Builder::new().try_run(|| async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::Builder::new()
            .name("unseen server".into())
            .spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                std::thread::sleep(Duration::from_millis(2));
                std::io::Write::write_all(&mut s, b"7").unwrap();
            })
            .unwrap();
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 1];
        tokio::io::AsyncReadExt::read_exact(&mut c, &mut buf)
            .await
            .unwrap();
        buf[0]
    });
    assert_eq!(*r.unwrap_or_else(|f| panic!("{f}")).value(), b'7');
}

/// The schedules of an exploration that start within one tick of the coarse clock share
/// one reading of where thread ids stood: each schedule's own thread is still waited for.
#[test]
fn every_schedule_of_an_exploration_waits_for_the_thread_it_started() {
    let r = Builder::new().explore(200).try_run(|| async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || tx.send(7).unwrap());
        let other = async_testkit::spawn(async { async_testkit::yield_point().await });
        async_testkit::yield_point().await;
        other.await.unwrap();
        assert_eq!((rx.await.unwrap(), time::elapsed()), (7, Duration::ZERO));
    });
    match r {
        Ok(r) => assert!(r.schedules() > 1, "{} schedules", r.schedules()),
        Err(f) => panic!("{f}"),
    }
}
