//! tokio's semantics, kept where a test can observe them: each case pins one behaviour of
//! tokio's paused current-thread runtime that a test migrated from
//! `#[tokio::test(start_paused = true)]` relies on. `both!` runs a case on tokio's own
//! paused runtime and under the kit (one schedule, and an exploration), so a case that
//! pinned a guess instead of tokio's behaviour fails on tokio's side.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use tokio::time::{Instant, sleep};

/// A tokio task that adds up what it receives on the returned sender; `got` is its sum.
fn consumer() -> (
    tokio::sync::mpsc::UnboundedSender<usize>,
    Arc<AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let got = Arc::new(AtomicUsize::new(0));
    let seen = got.clone();
    let consumer = tokio::spawn(async move {
        while let Some(v) = rx.recv().await {
            seen.fetch_add(v, SeqCst);
        }
    });
    (tx, got, consumer)
}

/// Runs `$body` as `#[tokio::test(start_paused = true)]`, `#[async_testkit::test]`, and
/// `#[async_testkit::test(explore = 20)]`.
macro_rules! both {
    ($(#[doc = $doc:literal])* $name:ident $([$(#[$attr:meta])*])? $(($($opt:tt)*))? $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(start_paused = true)]
            $($(#[$attr])*)?
            async fn on_tokio() $body
            #[async_testkit::test($($($opt)*)?)]
            $($(#[$attr])*)?
            async fn on_the_kit() $body
            #[async_testkit::test(explore = 20 $(, $($opt)*)?)]
            $($(#[$attr])*)?
            async fn explored() $body
        }
    };
}

both! {
    /// A `yield_now()` in the body lets a task just spawned on tokio run to completion.
    yield_now_lets_a_spawned_tokio_task_run {
        let h = tokio::spawn(async {});
        tokio::task::yield_now().await;
        assert!(h.is_finished());
    }
}

both! {
    /// All of tokio's ready tasks run during one yield.
    yield_now_lets_every_ready_tokio_task_run {
        let n = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let n = n.clone();
                tokio::spawn(async move {
                    n.fetch_add(1, SeqCst);
                })
            })
            .collect();
        tokio::task::yield_now().await;
        assert_eq!(n.load(SeqCst), 3);
        assert!(handles.iter().all(|h| h.is_finished()));
    }
}

both! {
    /// A yield lets a tokio task woken by the body (a channel send) run before the body
    /// goes on.
    yield_now_lets_a_woken_tokio_task_run {
        let (tx, got, consumer) = consumer();
        tokio::task::yield_now().await; // the consumer waits on the channel
        tx.send(5).unwrap();
        tokio::task::yield_now().await;
        assert_eq!(got.load(SeqCst), 5, "the consumer ran during the yield");
        drop(tx);
        consumer.await.unwrap();
    }
}

both! {
    /// A yield fires the timers due at the current instant that the driver has not
    /// fired yet (here: due after a `tokio::time::advance` from another task's view).
    yield_now_fires_due_timers {
        let mut s = tokio_test::task::spawn(sleep(Duration::from_millis(10)));
        assert!(s.poll().is_pending());
        tokio::time::advance(Duration::from_millis(10)).await;
        tokio::task::yield_now().await;
        assert!(s.is_woken());
        assert!(s.poll().is_ready());
    }
}

both! {
    /// `tokio::time::advance` returns after the timers due at the new instant have fired:
    /// a sleep polled by hand is woken by then.
    tokio_advance_fires_the_timers_it_reaches {
        let mut s = tokio_test::task::spawn(sleep(Duration::from_millis(10)));
        assert!(s.poll().is_pending());
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(s.is_woken(), "the sleep's timer fired within advance");
        assert!(s.poll().is_ready());
    }
}

both! {
    /// ... and a tokio task woken by such a timer runs at the next yield, at the instant
    /// its timer fired.
    tokio_advance_then_yield_runs_the_woken_task {
        let start = Instant::now();
        let h = tokio::spawn(async move {
            sleep(Duration::from_secs(3)).await;
            start.elapsed()
        });
        tokio::task::yield_now().await; // the task registers its timer
        tokio::time::advance(Duration::from_secs(3)).await;
        tokio::task::yield_now().await;
        assert!(h.is_finished());
        assert_eq!(h.await.unwrap(), Duration::from_secs(3));
    }
}

both! {
    /// `advance` fires no timer early.
    tokio_advance_fires_nothing_early {
        let mut s = tokio_test::task::spawn(sleep(Duration::from_millis(10)));
        assert!(s.poll().is_pending());
        tokio::time::advance(Duration::from_millis(9)).await;
        assert!(!s.is_woken());
        assert!(s.poll().is_pending());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(s.is_woken());
    }
}

both! {
    /// A yield turns tokio's I/O driver even when tokio has no task of its own: bytes
    /// written to a socket are seen as readable after one yield (the readiness
    /// `try_read` checks comes only from a turn of the driver).
    yield_now_turns_the_io_driver {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        a.writable().await.unwrap();
        assert_eq!(a.try_write(b"ping").unwrap(), 4);
        tokio::task::yield_now().await;
        let mut buf = [0u8; 8];
        assert_eq!(b.try_read(&mut buf).unwrap(), 4, "the driver turned during the yield");
    }
}

/// A kit task's yield lets tokio's woken tasks run too, as a tokio task's would.
#[async_testkit::test(explore = 20)]
async fn yield_in_a_kit_task_lets_a_woken_tokio_task_run() {
    let (tx, got, consumer) = consumer();
    async_testkit::spawn(async move {
        tokio::task::yield_now().await; // the consumer waits on the channel
        tx.send(5).unwrap();
        tokio::task::yield_now().await;
        assert_eq!(got.load(SeqCst), 5, "the consumer ran during the yield");
    })
    .await
    .unwrap();
    consumer.await.unwrap();
}

both! {
    /// tokio's cooperative budget applies to the body as to a tokio task: a loop over an
    /// always-ready tokio resource (a closed `watch` channel) yields once the budget is
    /// spent, so the task that ends the loop gets to run. Without the budget the loop
    /// would spin until the wall-clock limit.
    coop_budget_makes_a_busy_loop_yield (timeout = "20s") {
        let (tx, mut rx) = tokio::sync::watch::channel(());
        drop(tx);
        let stop = Arc::new(AtomicUsize::new(0));
        let setter = stop.clone();
        tokio::spawn(async move { setter.store(1, SeqCst) });
        let mut spins = 0u64;
        while stop.load(SeqCst) == 0 {
            assert!(rx.changed().await.is_err());
            spins += 1;
        }
        // The budget (128 units) ran out once: the loop went round about that many times.
        assert!(spins <= 129, "{spins} spins");
    }
}

both! {
    /// Each poll starts with a fresh budget, which `consume_budget` spends.
    coop_budget_is_fresh_at_each_poll {
        assert!(tokio::task::coop::has_budget_remaining());
        let mut polls = 0;
        for _ in 0..300 {
            tokio::task::coop::consume_budget().await;
            polls += 1;
        }
        assert_eq!(polls, 300);
        assert!(tokio::task::coop::has_budget_remaining());
    }
}

/// Polled by the kit's main loop or inside its wait, a kit task spends the budget alike.
#[async_testkit::test(explore = 20)]
async fn coop_budget_applies_to_spawned_kit_tasks() {
    let (tx, mut rx) = tokio::sync::watch::channel(());
    drop(tx);
    let stop = Arc::new(AtomicUsize::new(0));
    let setter = stop.clone();
    let spinner = async_testkit::spawn(async move {
        while stop.load(SeqCst) == 0 {
            assert!(rx.changed().await.is_err());
        }
    });
    tokio::spawn(async move { setter.store(1, SeqCst) });
    spinner.await.unwrap();
}

/// Kit tasks ready at once are polled one after another by the main loop, and each poll
/// has a whole budget of its own (128 units): a task that spends 120 units does so in its
/// first poll, whichever task went before it (here each then waits, so the main loop goes
/// straight on to the next).
#[async_testkit::test(explore = 20)]
async fn each_of_several_ready_kit_tasks_has_a_whole_budget() {
    let (tasks, gates): (Vec<_>, Vec<_>) = (0..4)
        .map(|_| {
            let polls = Arc::new(AtomicUsize::new(0));
            let counted = polls.clone();
            let (open, gate) = tokio::sync::oneshot::channel::<()>();
            let mut work = Box::pin(async move {
                for _ in 0..120 {
                    tokio::task::coop::consume_budget().await;
                }
                let spent_in = polls.load(SeqCst);
                gate.await.unwrap();
                spent_in
            });
            let task = async_testkit::spawn(std::future::poll_fn(move |cx| {
                counted.fetch_add(1, SeqCst);
                work.as_mut().poll(cx)
            }));
            (task, open)
        })
        .unzip();
    // Every task runs up to its gate meanwhile.
    sleep(Duration::from_millis(1)).await;
    for open in gates {
        open.send(()).unwrap();
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 1, "polls to spend 120 units");
    }
}

/// The same work with more than a budget's worth: the task is suspended when its budget
/// runs out, and goes on in a later poll with a fresh one.
#[async_testkit::test(explore = 20)]
async fn a_kit_task_that_spends_more_than_its_budget_is_polled_again() {
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let polls = Arc::new(AtomicUsize::new(0));
            let counted = polls.clone();
            let mut work = Box::pin(async {
                for _ in 0..200 {
                    tokio::task::coop::consume_budget().await;
                }
            });
            let task = async_testkit::spawn(std::future::poll_fn(move |cx| {
                counted.fetch_add(1, SeqCst);
                work.as_mut().poll(cx)
            }));
            (task, polls)
        })
        .collect();
    for (task, polls) in handles {
        task.await.unwrap();
        assert_eq!(polls.load(SeqCst), 2);
    }
}

both! {
    /// `blocking_recv` inside the runtime is refused with tokio's message.
    blocking_recv_is_refused [#[should_panic(expected = "Cannot block the current thread from within a runtime")]] {
        let (_tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        let _ = rx.blocking_recv();
    }
}

both! {
    /// `blocking_send` likewise.
    blocking_send_is_refused [#[should_panic(expected = "Cannot block the current thread from within a runtime")]] {
        let (tx, _rx) = tokio::sync::mpsc::channel::<()>(1);
        let _ = tx.blocking_send(());
    }
}

both! {
    /// `Handle::block_on` inside the runtime is refused with tokio's message.
    handle_block_on_is_refused [#[should_panic(expected = "Cannot start a runtime from within a runtime")]] {
        tokio::runtime::Handle::current().block_on(async {});
    }
}

/// `block_in_place` on tokio's current-thread runtime panics; under the kit the closure
/// runs in place (tokio gives no way to refuse it from outside its scheduler), a
/// difference the README lists. A long closure then shows as a slow poll.
#[tokio::test(start_paused = true)]
#[should_panic(expected = "can call blocking only when running on the multi-threaded runtime")]
async fn block_in_place_is_refused_by_tokio() {
    tokio::task::block_in_place(|| {});
}

#[async_testkit::test]
async fn block_in_place_runs_in_place_under_the_kit() {
    let thread = std::thread::current().id();
    let ran_on = tokio::task::block_in_place(|| std::thread::current().id());
    assert_eq!(ran_on, thread);
}

/// A test written for a plain `#[tokio::test]` that pauses the clock itself meets tokio's
/// panic (as it would under `start_paused = true`); the report says what to do.
#[test]
fn pausing_the_clock_again_says_to_remove_the_call() {
    let f = async_testkit::Builder::new()
        .try_run(|| async { tokio::time::pause() })
        .unwrap_err();
    assert_eq!(f.kind(), async_testkit::FailureKind::Panic);
    assert!(
        f.headline().ends_with(
            "time is already frozen (the kit's clock is always paused, as with \
             #[tokio::test(start_paused = true)]: remove the call to tokio::time::pause())"
        ),
        "{f}"
    );
}

both! {
    /// A task that can finish once the body closes a socket is not a leak: the settling at
    /// the body's end reads the I/O events that came in (tokio reads them when it parks,
    /// which the settling holds back).
    a_reader_the_body_lets_finish_by_closing_its_peer_is_no_leak {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 8];
            let n = tokio::io::AsyncReadExt::read(&mut server, &mut buf).await.unwrap();
            assert_eq!(n, 0);
        });
        tokio::task::yield_now().await;
        drop(client);
    }
}

both! {
    /// A reader that ends, starting the next reader and closing its peer, and so on: the
    /// number of live tasks stays the same, and each can still finish at the body's end.
    a_chain_of_readers_each_closing_the_next_ones_peer_is_no_leak {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut pairs = Vec::new();
        for _ in 0..4 {
            let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            pairs.push((server, client));
        }
        fn reader(
            mut pairs: Vec<(tokio::net::TcpStream, tokio::net::TcpStream)>,
            mut mine: tokio::net::TcpStream,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
            Box::pin(async move {
                assert_eq!(mine.read(&mut [0u8; 8]).await.unwrap(), 0);
                if let Some((next, peer)) = pairs.pop() {
                    tokio::spawn(reader(pairs, next));
                    tokio::task::yield_now().await;
                    drop(peer);
                }
            })
        }
        let (first, peer) = pairs.pop().unwrap();
        tokio::spawn(reader(pairs, first));
        tokio::task::yield_now().await;
        drop(peer);
    }
}

/// Runs `$body` as `#[tokio::test(start_paused = true)]` and `#[async_testkit::test]`
/// (one schedule, in the kit's default order): for cases whose outcome is an order that
/// tokio's scheduler picks, where an exploration tries the other orders too.
macro_rules! in_tokio_order {
    ($(#[doc = $doc:literal])* $name:ident $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(start_paused = true)]
            async fn on_tokio() $body
            #[async_testkit::test]
            async fn on_the_kit() $body
        }
    };
}

/// A task's handle as code under test gets it from `tokio::spawn` where spawns are routed
/// to the kit (`async-testkit-tokio`): a kit task's inside a run, tokio's outside one. Its
/// output is unwrapped.
enum Handle<T> {
    Kit(async_testkit::JoinHandle<T>),
    Tokio(tokio::task::JoinHandle<T>),
}

fn spawn<F>(fut: F) -> Handle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    if async_testkit::task::try_id().is_some() {
        Handle::Kit(async_testkit::spawn(fut))
    } else {
        Handle::Tokio(tokio::spawn(fut))
    }
}

impl<T> std::future::Future for Handle<T> {
    type Output = T;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<T> {
        match self.get_mut() {
            Handle::Kit(h) => std::pin::Pin::new(h).poll(cx).map(Result::unwrap),
            Handle::Tokio(h) => std::pin::Pin::new(h).poll(cx).map(Result::unwrap),
        }
    }
}

/// A task that sleeps `ms` and then sends on the returned receiver.
fn sends_after(ms: u64) -> tokio::sync::oneshot::Receiver<u8> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    drop(spawn(async move {
        sleep(Duration::from_millis(ms)).await;
        let _ = tx.send(1); // the receiver is gone when the body took the timeout
    }));
    rx
}

/// The body's `biased` select over a task's message and its own sleep, both due at the
/// same instant: tokio polls its `block_on` future first when a timer woke it, before the
/// tasks the same turn of the timer woke.
async fn message_or_timeout() -> &'static str {
    let rx = sends_after(10);
    tokio::select! {
        biased;
        _ = rx => "message",
        _ = sleep(Duration::from_millis(10)) => "timeout",
    }
}

in_tokio_order! {
    /// A timer that wakes the body and a task at once: the body runs first.
    a_timer_waking_the_body_and_a_task_runs_the_body_first {
        assert_eq!(message_or_timeout().await, "timeout");
    }
}

in_tokio_order! {
    /// `timeout` on a task's handle, the task finishing at the deadline: the body runs
    /// first and the timeout expires, whichever timer was registered first (the task's:
    /// it ran during the yield; the timeout's: the task had not run yet), and when the task
    /// finishes through a child it waits for.
    a_timeout_on_a_handle_expires_when_the_task_finishes_at_the_deadline {
        let ms = Duration::from_millis(10);
        let task = spawn(async move {
            sleep(ms).await;
            1
        });
        tokio::task::yield_now().await;
        assert!(tokio::time::timeout(ms, task).await.is_err());
        let task = spawn(async move {
            sleep(ms).await;
            2
        });
        assert!(tokio::time::timeout(ms, task).await.is_err());
        let task = spawn(async move {
            spawn(async move {
                sleep(ms).await;
                3
            })
            .await
        });
        assert!(tokio::time::timeout(ms, task).await.is_err());
    }
}

/// A task (started by `spawn`, so a kit task under the kit, or always tokio's) that, woken
/// by its timer, wakes the body and then another task; what ran first, the body or the
/// other task.
async fn woken_by_a_task(waker_on_tokio: bool) -> Vec<&'static str> {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (to_body, body_rx) = tokio::sync::oneshot::channel::<()>();
    let (to_other, other_rx) = tokio::sync::oneshot::channel::<()>();
    let l = log.clone();
    let other = spawn(async move {
        other_rx.await.unwrap();
        l.lock().unwrap().push("other");
    });
    let wakes = async move {
        sleep(Duration::from_millis(10)).await;
        to_body.send(()).unwrap();
        to_other.send(()).unwrap();
    };
    let waker = if waker_on_tokio {
        Handle::Tokio(tokio::spawn(wakes))
    } else {
        spawn(wakes)
    };
    body_rx.await.unwrap();
    log.lock().unwrap().push("body");
    waker.await;
    other.await;
    log.lock().unwrap().clone()
}

in_tokio_order! {
    /// A task's poll that wakes the body and then another task: the other task runs
    /// first, as tokio polls its `block_on` future only once its run queue is empty.
    a_task_waking_the_body_and_another_task_runs_that_task_first {
        assert_eq!(woken_by_a_task(false).await, ["other", "body"]);
    }
}

in_tokio_order! {
    /// Likewise when the waking task is one of tokio's own, run inside the kit's wait.
    a_tokio_task_waking_the_body_and_a_kit_task_runs_the_kit_task_first {
        assert_eq!(woken_by_a_task(true).await, ["other", "body"]);
    }
}

/// What `program` gave in each schedule of an exhaustive DFS exploration (up to two
/// preemptions), sorted.
fn outcomes_explored<F, Fut>(program: F) -> Vec<String>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = String> + 'static,
{
    let seen = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let s = seen.clone();
    let report = async_testkit::Builder::new()
        .strategy(async_testkit::Strategy::Dfs { max_preemptions: 2 })
        .explore(50)
        .try_run(move || {
            let (s, program) = (s.clone(), program.clone());
            async move {
                let got = program().await;
                s.lock().unwrap().insert(got);
            }
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(report.exhausted());
    seen.lock().unwrap().iter().cloned().collect()
}

/// An exploration still tries both orders of the timer case: the task first too.
#[test]
fn an_exploration_tries_the_task_before_the_body_at_a_shared_timer() {
    let seen = outcomes_explored(|| async { message_or_timeout().await.to_string() });
    assert_eq!(seen, ["message", "timeout"]);
}

in_tokio_order! {
    /// Awaiting a task's handle spends a unit of the cooperative budget, as tokio's
    /// `JoinHandle` does: a loop that joins 300 finished tasks yields when the budget
    /// (128 units, one of them spent by the sleep) runs out, and a task spawned before
    /// the loop then runs, having seen 127 joins.
    joining_finished_tasks_spends_the_budget {
        let handles: Vec<_> = (0..300).map(|i| spawn(async move { i })).collect();
        sleep(Duration::from_millis(1)).await; // every task finishes meanwhile
        let joined = Arc::new(AtomicUsize::new(0));
        let seen = joined.clone();
        let sibling = spawn(async move { seen.load(SeqCst) });
        for h in handles {
            h.await;
            joined.fetch_add(1, SeqCst);
        }
        assert_eq!(sibling.await, 127);
    }
}

/// A task writes to a socket and then wakes the body: tokio polls its `block_on` future
/// only after its queue ran and its drivers turned, so the body's `try_read` finds the
/// bytes; the kit turns tokio's loop once before such a body too.
async fn try_read_after_a_task_wrote() -> Result<usize, std::io::ErrorKind> {
    let (a, b) = tokio::net::UnixStream::pair().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let writer = spawn(async move {
        a.writable().await.unwrap();
        a.try_write(b"hello").unwrap();
        tx.send(()).unwrap();
        a
    });
    rx.await.unwrap();
    let mut buf = [0u8; 16];
    let read = b.try_read(&mut buf).map_err(|e| e.kind());
    drop(writer.await);
    read
}

in_tokio_order! {
    /// I/O readiness that a task's write made is known to the body it then wakes.
    a_body_woken_by_a_task_sees_the_readiness_its_write_made {
        assert_eq!(try_read_after_a_task_wrote().await, Ok(5));
    }
}

/// The wrong belief (the bytes are not there yet) fails under every exploration too: no
/// schedule polls the body before tokio's drivers turned.
#[test]
fn expecting_would_block_after_the_write_fails_in_every_schedule() {
    for builder in [
        async_testkit::Builder::new(),
        async_testkit::Builder::new().explore(100),
        async_testkit::Builder::new()
            .strategy(async_testkit::Strategy::Dfs { max_preemptions: 3 })
            .explore(100),
    ] {
        let f = builder
            .try_run(|| async {
                assert_eq!(
                    try_read_after_a_task_wrote().await,
                    Err(std::io::ErrorKind::WouldBlock),
                    "the bytes were there"
                );
            })
            .unwrap_err();
        assert!(f.panic_messages()[0].contains("the bytes were there"), "{f}");
    }
}

in_tokio_order! {
    /// A task polled alone at an earlier instant, where it armed the timer it sends at,
    /// does not make the timer's later wake of the body a task's doing: that timer wakes
    /// the body and the task at once, and the body runs first.
    a_timer_waking_the_body_after_a_task_ran_alone_runs_the_body_first {
        let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
        drop(spawn(async move {
            sleep(Duration::from_millis(2)).await;
            sleep(Duration::from_millis(1)).await;
            let _ = tx.send(1); // the receiver is gone when the body took the timeout
        }));
        let got = tokio::select! {
            biased;
            _ = rx => "message",
            _ = sleep(Duration::from_millis(3)) => "timeout",
        };
        assert_eq!(got, "timeout");
    }
}

in_tokio_order! {
    /// Tasks that take a semaphore's permit in turn, each holding it for 1 ms: the last
    /// one gives it back at the instant the body's timer fires, and the body, woken by
    /// that timer, runs first and times out.
    a_permit_given_back_at_the_body_deadline_comes_after_the_timer {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sem = Arc::new(tokio::sync::Semaphore::new(1));
        let permit = sem.clone().acquire_owned().await.unwrap();
        let tasks: Vec<_> = (0..3)
            .map(|i| {
                let (sem, log) = (sem.clone(), log.clone());
                spawn(async move {
                    let _permit = sem.acquire().await.unwrap();
                    log.lock().unwrap().push(format!("t{i}"));
                    sleep(Duration::from_millis(1)).await;
                })
            })
            .collect();
        tokio::task::yield_now().await;
        let timer = sleep(Duration::from_millis(3));
        drop(permit);
        let got = tokio::select! {
            biased;
            _ = sem.acquire() => "body got",
            _ = timer => "body timed",
        };
        log.lock().unwrap().push(got.to_string());
        for t in tasks {
            t.await;
        }
        assert_eq!(*log.lock().unwrap(), ["t0", "t1", "t2", "body timed"]);
    }
}

/// A task woken by its timer that wakes the body (a send), and `also` another task, and
/// then yields before it sends again: what ran in which order.
async fn wakes_the_body_then_yields(also: bool) -> Vec<String> {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u8>();
    let (to_other, other_rx) = tokio::sync::oneshot::channel::<()>();
    let l = log.clone();
    let other = spawn(async move {
        if other_rx.await.is_ok() {
            l.lock().unwrap().push("other".to_string());
        }
    });
    let l = log.clone();
    let sender = spawn(async move {
        sleep(Duration::from_millis(5)).await;
        tx.send(1).unwrap();
        l.lock().unwrap().push("sent 1".to_string());
        if also {
            to_other.send(()).unwrap();
        } else {
            drop(to_other);
        }
        tokio::task::yield_now().await;
        tx.send(2).unwrap();
        l.lock().unwrap().push("sent 2".to_string());
    });
    let got = rx.recv().await.unwrap();
    log.lock().unwrap().push(format!("body got {got}"));
    sender.await;
    other.await;
    log.lock().unwrap().clone()
}

in_tokio_order! {
    /// A task that wakes the body and then yields: the body runs before the task resumes,
    /// as tokio polls its `block_on` future before the yields its loop's turn releases.
    a_task_waking_the_body_and_then_yielding_resumes_after_the_body {
        assert_eq!(wakes_the_body_then_yields(false).await, ["sent 1", "body got 1", "sent 2"]);
    }
}

in_tokio_order! {
    /// Likewise when it woke another task too: that task runs first, then the body, then
    /// the yielded task.
    a_task_waking_the_body_and_a_task_and_then_yielding_resumes_last {
        assert_eq!(
            wakes_the_body_then_yields(true).await,
            ["sent 1", "other", "body got 1", "sent 2"]
        );
    }
}

/// An exploration still tries the yielded task before the body as well.
#[test]
fn an_exploration_tries_the_yielded_task_before_the_body() {
    let seen = outcomes_explored(|| async { wakes_the_body_then_yields(false).await.join(", ") });
    assert_eq!(seen, ["sent 1, body got 1, sent 2", "sent 1, sent 2, body got 1"]);
}
