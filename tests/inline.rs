//! A task that wakes alone while the kit waits inside tokio's `block_on` is polled right
//! there instead of by the main loop.
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
/// after its timer, so that it is polled by the main loop, not inside the wait.
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

/// The same program on tokio's own paused runtime, the other task a tokio task.
fn drained_on_tokio(yield_first: bool) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..300 {
            tx.send(i).unwrap();
        }
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let notify = Arc::new(tokio::sync::Notify::new());
        let (s, n) = (seen.clone(), notify.clone());
        let other = tokio::spawn(async move {
            n.notified().await;
            s.load(SeqCst)
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        if yield_first {
            tokio::task::yield_now().await;
        }
        notify.notify_one();
        for _ in 0..300 {
            rx.recv().await.unwrap();
            seen.fetch_add(1, SeqCst);
        }
        other.await.unwrap()
    })
}

/// tokio's cooperative budget (128 operations per poll) applies to kit tasks wherever
/// they are polled, as to tokio's: the draining task yields when it is spent, and the
/// other task runs then, having seen as many messages as on tokio (the sleep that ends
/// in the same poll spends one unit too).
#[test]
fn kit_tasks_have_tokio_s_budget_wherever_they_are_polled() {
    for yield_first in [false, true] {
        let kit = drained_before_the_other_task_ran(yield_first);
        assert_eq!(kit, drained_on_tokio(yield_first), "yield_first = {yield_first}");
        assert!(kit < 300, "{kit}");
    }
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

/// A child's waker, as a combinator (`FuturesUnordered`, a select) keeps one per child.
struct ChildWaker {
    woken: AtomicBool,
    parent: std::sync::Mutex<Option<std::task::Waker>>,
}

impl std::task::Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, SeqCst);
        if let Some(w) = self.parent.lock().unwrap().take() {
            w.wake();
        }
    }
}

/// Polls a child that yields with tokio's `yield_now` under its own waker; on its first
/// poll also wakes `other` and itself, so that its task ends the poll queued.
async fn child_yields_while_its_task_requeues(other: Rc<tokio::sync::Notify>) -> u32 {
    use std::task::{Context, Poll};
    let child_waker = Arc::new(ChildWaker {
        woken: AtomicBool::new(true),
        parent: std::sync::Mutex::new(None),
    });
    let waker = std::task::Waker::from(child_waker.clone());
    let mut child = Box::pin(async {
        tokio::task::yield_now().await;
        7
    });
    let mut first = true;
    std::future::poll_fn(move |cx| {
        *child_waker.parent.lock().unwrap() = Some(cx.waker().clone());
        if child_waker.woken.swap(false, SeqCst) {
            if let Poll::Ready(v) = child.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Poll::Ready(v);
            }
        }
        if std::mem::take(&mut first) {
            other.notify_one();
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    })
    .await
}

/// A poll inside the wait can leave a deferred `yield_now` wake for another waker than its
/// task's own, while the task itself ends the poll ready again; tokio drops such wakes when
/// `block_on` returns, so the wait must let tokio come round first. (The same body from
/// the main loop, without the first sleep, is the control.)
#[test]
fn a_deferred_wake_of_a_child_waker_is_not_lost() {
    for sleep_first in [false, true] {
        let r = Builder::new()
            .timeout(Duration::from_secs(20))
            .try_run(move || async move {
                let notify = Rc::new(tokio::sync::Notify::new());
                let n = notify.clone();
                let other = async_testkit::spawn(async move { n.notified().await });
                if sleep_first {
                    // Woken alone in tokio's park: polled inside the wait.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let v = child_yields_while_its_task_requeues(notify).await;
                other.await.unwrap();
                v
            })
            .unwrap_or_else(|f| panic!("sleep first: {sleep_first}: {f}"));
        assert_eq!(*r.value(), 7);
    }
}

/// How many of 40 seeds of PCT-with-yields ran A, which yields at +1 ms (with tokio's
/// `yield_now`, or the kit's `yield_point`), before B, which wakes at +2 ms like A.
fn yielder_first(tokio_yield: bool) -> usize {
    (0..40u64)
        .filter(|&seed| {
            let order = Builder::new()
                .strategy(async_testkit::Strategy::PctYield { depth: 1 })
                .seed(seed)
                .run(move || async move {
                    let order = Rc::new(std::cell::RefCell::new(Vec::new()));
                    let (oa, ob) = (order.clone(), order.clone());
                    let a = async_testkit::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        if tokio_yield {
                            tokio::task::yield_now().await;
                        } else {
                            async_testkit::yield_point().await;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        oa.borrow_mut().push('A');
                    });
                    let b = async_testkit::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        ob.borrow_mut().push('B');
                    });
                    a.await.unwrap();
                    b.await.unwrap();
                    order.take()
                });
            order[0] == 'A'
        })
        .count()
}

/// PCT-with-yields drops a yielding task behind the others: it must see a
/// `tokio::task::yield_now()` even when the task woke alone (inside a wait, tokio defers
/// that wake, so such runs poll every task from the main loop).
#[test]
fn pct_with_yields_sees_tokio_yields_of_a_task_that_woke_alone() {
    assert_eq!(yielder_first(false), 0);
    assert_eq!(yielder_first(true), 0);
}

/// A finished task woken again (a waker it left behind) is not an option of the next choice.
#[test]
fn a_finished_task_woken_again_is_not_an_option() {
    let timeline = |wake_the_finished: bool| {
        Builder::new()
            .try_run(move || async move {
                let left: Rc<std::cell::RefCell<Option<std::task::Waker>>> = Rc::default();
                let l = left.clone();
                let a = async_testkit::spawn(std::future::poll_fn(move |cx| {
                    *l.borrow_mut() = Some(cx.waker().clone());
                    std::task::Poll::Ready(())
                }));
                a.await.unwrap();
                let b = async_testkit::spawn(async {});
                if wake_the_finished {
                    left.borrow().as_ref().unwrap().wake_by_ref();
                }
                b.await.unwrap();
            })
            .unwrap()
            .timeline()
            .to_string()
    };
    assert_eq!(timeline(true), timeline(false));
}
