//! A task that wakes alone while the kit waits inside tokio's `block_on` is polled right
//! there (or right after tokio's park, from its unpark hook) instead of by the main loop.
//! These tests pin down that such a poll behaves exactly as the main loop's would: the
//! clock, tokio's own tasks, its drivers and its cooperative budget see no difference.

use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

use async_testkit::Builder;

/// A connected loopback pair: the server end as a tokio stream, the client end blocking.
fn pair() -> (tokio::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    (tokio::net::TcpStream::from_std(server).unwrap(), client)
}

/// tokio turns its I/O driver before it moves the paused clock to the next timer; a task
/// woken by an I/O event in that turn must stop the move, as a wake of `block_on` does.
#[test]
fn an_io_event_during_the_park_does_not_let_the_clock_jump() {
    let r = Builder::new()
        .try_run(|| async {
            let (server, mut client) = pair();
            let sleeper = async_testkit::spawn(tokio::time::sleep(Duration::from_secs(10)));
            client.write_all(b"x").unwrap();
            server.readable().await.unwrap();
            let seen_at = async_testkit::time::elapsed();
            sleeper.await.unwrap();
            seen_at
        })
        .unwrap();
    assert_eq!(*r.value(), Duration::ZERO);
}

/// The same with only the kit's own deadline timer pending: the clock used to jump to the
/// virtual limit and the run to fail as a virtual timeout.
#[test]
fn an_io_event_with_only_the_deadline_pending_is_seen_at_once() {
    let r = Builder::new()
        .virtual_timeout(Duration::from_secs(60))
        .try_run(|| async {
            let (server, mut client) = pair();
            client.write_all(b"x").unwrap();
            server.readable().await.unwrap();
            let seen_at = async_testkit::time::elapsed();
            tokio::time::sleep(Duration::from_secs(30)).await;
            seen_at
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(*r.value(), Duration::ZERO);
}

/// A task polled inside the wait spawns a tokio task: `run_until_idle` must not see the
/// runtime as idle until that task has run.
#[test]
fn run_until_idle_waits_for_a_tokio_task_spawned_by_a_task_polled_inside_the_wait() {
    let r = Builder::new()
        .try_run(|| async {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let spawner = async_testkit::spawn(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                tokio::spawn(async move { f.store(true, SeqCst) });
            });
            tokio::task::yield_now().await; // the spawner registers its timer
            tokio::time::advance(Duration::from_secs(5)).await;
            async_testkit::time::run_until_idle().await;
            let seen = flag.load(SeqCst);
            spawner.await.unwrap();
            seen
        })
        .unwrap();
    assert!(*r.value(), "run_until_idle returned before the tokio task ran");
}

/// Drains 300 buffered messages after waking a task; returns how many that task saw
/// drained when it ran. With `yield_first`, the body yields with tokio's `yield_now`
/// after its timer, so that it is polled again inside the wait.
fn drained_before_the_other_task_ran(yield_first: bool) -> usize {
    Builder::new().run(move || async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..300 {
            tx.send(i).unwrap();
        }
        let seen = Rc::new(Cell::new(0usize));
        let notify = Rc::new(tokio::sync::Notify::new());
        let (s, n) = (seen.clone(), notify.clone());
        let other = async_testkit::spawn(async move {
            n.notified().await;
            s.get()
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        if yield_first {
            tokio::task::yield_now().await;
        }
        notify.notify_one();
        for _ in 0..300 {
            rx.recv().await.unwrap();
            seen.set(seen.get() + 1);
        }
        other.await.unwrap()
    })
}

/// tokio's cooperative budget (128 operations per poll of `block_on`'s future) does not
/// apply to kit tasks, wherever they are polled: a budget there would make a task yield
/// inside a wait and not in the main loop.
#[test]
fn kit_tasks_never_run_out_of_tokio_budget() {
    assert_eq!(drained_before_the_other_task_ran(false), 300);
    assert_eq!(drained_before_the_other_task_ran(true), 300);
}

/// A task that keeps waking itself while it is the only one ready is polled inside the
/// wait again and again; tokio still turns its I/O driver now and then, so the I/O the
/// task polls for arrives.
#[test]
fn a_task_spinning_inside_the_wait_still_lets_io_in() {
    let r = Builder::new()
        .timeout(Duration::from_secs(20))
        .try_run(|| async {
            let (server, mut client) = pair();
            let writer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                client.write_all(b"hi").unwrap();
                client
            });
            tokio::time::sleep(Duration::from_secs(1)).await; // woken alone, in the park
            let mut buf = [0u8; 8];
            let n = loop {
                match server.try_read(&mut buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        async_testkit::yield_point().await;
                    }
                    Err(e) => panic!("{e}"),
                }
            };
            drop(writer.join().unwrap());
            n
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(*r.value(), 2);
}
