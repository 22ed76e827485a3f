//! The kit's bug corpus (`tests/corpus/mod.rs`), ported to shuttle: the buggy body of each
//! program that ports faithfully, written against shuttle's API.
//!
//! The rules of the port:
//!
//! - Tasks are `shuttle::future::spawn_local` (shuttle's `spawn` without the `Send` bound,
//!   like the kit's own tasks), so state the kit keeps in `Rc<Cell<..>>` or
//!   `Rc<RefCell<..>>` stays exactly that: touching it is not a scheduling point under
//!   either tool.
//! - Every `async_testkit::yield_point().await` becomes `shuttle::future::point().await`.
//! - `tokio::sync` primitives become shuttle primitives: `Mutex` and `Semaphore` (both
//!   built on a fair batch semaphore in tokio) become shuttle's
//!   `future::batch_semaphore::BatchSemaphore` with `Fairness::StrictlyFair`;
//!   an unbounded `mpsc` channel becomes a queue counted by a zero-permit semaphore
//!   ([`Queue`]; shuttle's own `sync::mpsc` puts a scheduling point before the enqueue,
//!   which tokio's unbounded send does not have); a `oneshot`
//!   used as a stop signal becomes a zero-permit semaphore; `Notify::notify_waiters`
//!   (wakes the waiters registered at the call, stores nothing) becomes
//!   `shuttle::sync::Condvar::notify_all`, which has the same semantics (shuttle's condvar
//!   has no spurious wake-ups); `Notify::notify_one` (wakes a waiter or stores one
//!   permit) becomes a zero-permit semaphore released only when it holds no permit.
//! - Assertion messages are the kit's, so both tools' failures are checked against the
//!   same symptom.
//!
//! Shuttle adds scheduling points the kit does not have (spawning, releasing a permit,
//! sending on a channel are each a switch under shuttle); the ports keep the kit's
//! awaits and add none of their own.
//!
//! Two programs are not portable: `futurelock` (its interleaving is driven by virtual
//! timers at 100 ms and 250 ms and tokio's mutex handing the lock to a queued future;
//! shuttle has no clock, and a sleep would become a yield that loses the ordering) and
//! `double_close` (two timers due at the same instant are what make both handlers ready
//! together; shuttle has no timers).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

use shuttle::future::batch_semaphore::{BatchSemaphore, Fairness};
use shuttle::future::{spawn_local as spawn, yield_now};
use std::sync::atomic::Ordering;

/// One program as shuttle sees it.
pub struct Port {
    /// The kit's name of the program.
    pub name: &'static str,
    /// The buggy body as a shuttle test (it calls `block_on` itself), or why it does not
    /// port.
    pub body: Result<fn(), &'static str>,
    /// The fixed twin as a shuttle test (or why it does not port).
    pub fixed: Result<fn(), &'static str>,
    /// Whether a plain scheduling point may stand in for `yield_point` (see
    /// [`use_switch_points`]): not where a `yield_point` is where a `select!` may drop a
    /// future, because a synchronous scheduling point never returns to the `select!`.
    pub switch_ok: bool,
}

/// Every program of the kit's corpus, in the kit's order.
pub fn all() -> Vec<Port> {
    fn port(name: &'static str, buggy: fn(), fixed: fn()) -> Port {
        Port {
            name,
            body: Ok(buggy),
            fixed: Ok(fixed),
            switch_ok: true,
        }
    }
    fn not(name: &'static str, why: &'static str) -> Port {
        Port {
            name,
            body: Err(why),
            fixed: Err(why),
            switch_ok: false,
        }
    }
    use shuttle::future::block_on;
    macro_rules! port {
        ($name:ident) => {
            port(
                stringify!($name),
                || block_on($name(false)),
                || block_on($name(true)),
            )
        };
    }
    vec![
        port!(lost_update),
        port!(double_init),
        port!(use_before_init),
        port!(lock_order_deadlock),
        port!(lost_wakeup),
        port!(message_reordering),
        port!(torn_read),
        port!(run_ahead_overflow),
        port!(late_window),
        Port {
            switch_ok: false,
            ..port!(cancel_torn_write)
        },
        not(
            "futurelock",
            "driven by virtual timers (100 ms tick, 250 ms flush) and tokio's mutex handing the lock to a queued, unpolled future; shuttle has no clock",
        ),
        port!(use_after_close),
        port!(stale_cache),
        port!(aba_free_list),
        port!(permit_leak),
        not(
            "double_close",
            "the race comes from two timers due at the same instant; shuttle has no timers (a sleep would be a plain yield)",
        ),
        port!(readiness_polling),
    ]
}

thread_local! {
    static SWITCH_POINTS: Cell<bool> = const { Cell::new(false) };
}

/// Chooses the stand-in for the kit's `yield_point()`: `false` (the default)
/// `shuttle::future::yield_now`, `true` a plain scheduling point.
///
/// Shuttle's PCT scheduler lowers the priority of a task at every yield (a yield is a
/// hint that the task waits for others), so under PCT a task never takes two steps in a
/// row across `yield_now` unless a change point says so; a bug that needs one task to run
/// ahead is then out of PCT's reach. A plain scheduling point (shuttle switches before
/// every operation on one of its atomics) lets the scheduler choose freely without that
/// hint. Both are reported; neither changes what the program computes.
pub fn use_switch_points(on: bool) {
    SWITCH_POINTS.set(on);
}

/// The stand-in for `async_testkit::yield_point().await`.
async fn point() {
    if SWITCH_POINTS.get() {
        shuttle::sync::atomic::AtomicBool::new(false).load(Ordering::SeqCst);
    } else {
        yield_now().await;
    }
}

// ---------------------------------------------------------------------------------------
// Stand-ins for tokio::sync types, on shuttle's batch semaphore
// ---------------------------------------------------------------------------------------

/// tokio's `Mutex<T>`: a fair one-permit semaphore guarding a `RefCell`.
pub(crate) struct AsyncMutex<T> {
    permit: BatchSemaphore,
    value: RefCell<T>,
}

pub(crate) struct AsyncMutexGuard<'a, T> {
    mutex: &'a AsyncMutex<T>,
}

impl<T> AsyncMutex<T> {
    pub(crate) fn new(value: T) -> Self {
        AsyncMutex {
            permit: BatchSemaphore::new(1, Fairness::StrictlyFair),
            value: RefCell::new(value),
        }
    }

    pub(crate) async fn lock(&self) -> AsyncMutexGuard<'_, T> {
        self.permit.acquire(1).await.expect("never closed");
        AsyncMutexGuard { mutex: self }
    }
}

impl<T> AsyncMutexGuard<'_, T> {
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.mutex.value.borrow_mut())
    }
}

impl<T> Drop for AsyncMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.permit.release(1);
    }
}

/// tokio's `Notify` as used with `notify_one`: wakes the waiter, or stores one permit.
struct NotifyOne(BatchSemaphore);

impl NotifyOne {
    fn new() -> Self {
        NotifyOne(BatchSemaphore::new(0, Fairness::StrictlyFair))
    }
    fn notify_one(&self) {
        if self.0.available_permits() == 0 {
            self.0.release(1);
        }
    }
    async fn notified(&self) {
        self.0.acquire(1).await.expect("never closed");
    }
}

/// tokio's unbounded `mpsc` channel: a queue and a zero-permit semaphore counting the
/// messages in it. `send` enqueues first: shuttle's `release` switches before it releases,
/// so that switch comes after the message is in the queue. (shuttle's own
/// `sync::mpsc::Sender::send` switches before enqueueing, which splits a write and its
/// send in two steps where tokio's send keeps them in one: the fixed twin of
/// `message_reordering` then fails under shuttle.)
struct Queue<T> {
    items: RefCell<VecDeque<T>>,
    count: BatchSemaphore,
}

impl<T> Queue<T> {
    fn new() -> Self {
        Queue {
            items: RefCell::new(VecDeque::new()),
            count: BatchSemaphore::new(0, Fairness::StrictlyFair),
        }
    }
    fn send(&self, item: T) {
        self.items.borrow_mut().push_back(item);
        self.count.release(1);
    }
    async fn recv(&self) -> T {
        self.count.acquire(1).await.expect("never closed");
        self.items.borrow_mut().pop_front().expect("a permit per item")
    }
}

// ---------------------------------------------------------------------------------------
// The ports, in the corpus's order
// ---------------------------------------------------------------------------------------

/// Port of `lost_update_buggy` (1 preemption): read, yield, write back; a deposit made
/// during the yield is overwritten. `fixed`: `lost_update_fixed`, both tasks hold the
/// async mutex for their read-modify-write.
pub async fn lost_update(fixed: bool) {
    let balance = Rc::new(Cell::new(100));
    let lock = Rc::new(AsyncMutex::new(()));
    let (b, l) = (balance.clone(), lock.clone());
    let interest = spawn(async move {
        let guard = if fixed { Some(l.lock().await) } else { None };
        let current = b.get();
        point().await; // look up today's rate
        b.set(current + current / 10);
        drop(guard);
    });
    let (b, l) = (balance.clone(), lock.clone());
    let deposit = spawn(async move {
        point().await; // receive the deposit request
        let guard = if fixed { Some(l.lock().await) } else { None };
        b.set(b.get() + 50);
        drop(guard);
    });
    interest.await.unwrap();
    deposit.await.unwrap();
    let end = balance.get();
    assert!(
        end == 160 || end == 165,
        "lost update: the balance is {end}, but interest-then-deposit gives 160 and deposit-then-interest 165"
    );
}

/// Port of `double_init_buggy` (1 preemption): check-then-act across a yield; the body
/// yields before spawning the second request. `fixed`: `double_init_fixed`, where
/// `OnceCell::get_or_init` makes the second caller wait for the first: here the check and
/// the connect hold an async mutex (shuttle has no async `OnceCell`).
pub async fn double_init(fixed: bool) {
    let pool: Rc<RefCell<Option<u32>>> = Rc::new(RefCell::new(None));
    let connects = Rc::new(Cell::new(0u32));
    let init = Rc::new(AsyncMutex::new(()));
    let request = move |pool: Rc<RefCell<Option<u32>>>, connects: Rc<Cell<u32>>| async move {
        let _guard = if fixed { Some(init.lock().await) } else { None };
        let existing = *pool.borrow();
        match existing {
            Some(id) => id,
            None => {
                point().await; // connect to the database
                connects.set(connects.get() + 1);
                *pool.borrow_mut() = Some(connects.get());
                connects.get()
            }
        }
    };
    let first = spawn(request.clone()(pool.clone(), connects.clone()));
    point().await; // the second request arrives a moment later
    let second = spawn(request(pool.clone(), connects.clone()));
    let (a, b) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(
        connects.get(),
        1,
        "double initialisation: the pool was opened {} times (the requests got pools {a} and {b}); both saw no pool before either stored one",
        connects.get()
    );
}

/// Port of `use_before_init_buggy` (0 preemptions): the handler reads the config after one
/// yield, the loader publishes it after two. `fixed`: `use_before_init_fixed`, where the
/// handler waits on a `watch` channel: here a zero-permit semaphore the loader releases.
pub async fn use_before_init(fixed: bool) {
    let config: Rc<RefCell<Option<usize>>> = Rc::new(RefCell::new(None));
    let published = Rc::new(BatchSemaphore::new(0, Fairness::StrictlyFair));
    let (c, p) = (config.clone(), published.clone());
    let loader = spawn(async move {
        point().await; // open the file
        point().await; // read it
        *c.borrow_mut() = Some(1024);
        if fixed {
            p.release(1);
        }
    });
    let (c, p) = (config.clone(), published.clone());
    let handler = spawn(async move {
        point().await; // accept a request
        if fixed {
            p.acquire(1).await.expect("never closed");
        }
        let max_body = c.borrow().unwrap_or_default();
        assert!(
            max_body > 0,
            "use before initialisation: the handler read the default config (max_body {max_body}) before the loader published it"
        );
    });
    loader.await.unwrap();
    handler.await.unwrap();
}

/// Port of `lock_order_deadlock_buggy` (1 preemption): two transfers lock two accounts
/// (tokio `Mutex` -> fair one-permit batch semaphore) in opposite orders. `fixed`:
/// `lock_order_deadlock_fixed`, the lower account number is locked first.
pub async fn lock_order_deadlock(fixed: bool) {
    type Account = (u32, Rc<AsyncMutex<i64>>);
    async fn transfer(from: Account, to: Account, amount: i64, fixed: bool) {
        let swap = fixed && from.0 > to.0;
        let (first, second) = if swap { (&to.1, &from.1) } else { (&from.1, &to.1) };
        let g1 = first.lock().await;
        point().await; // fraud check
        let g2 = second.lock().await;
        let (f, t) = if swap { (&g2, &g1) } else { (&g1, &g2) };
        f.with(|v| *v -= amount);
        t.with(|v| *v += amount);
    }
    let a = Rc::new(AsyncMutex::new(100));
    let b = Rc::new(AsyncMutex::new(100));
    let t1 = spawn(transfer((1, a.clone()), (2, b.clone()), 10, fixed));
    point().await; // the second request arrives a moment later
    let t2 = spawn(transfer((2, b.clone()), (1, a.clone()), 20, fixed));
    t1.await.unwrap();
    t2.await.unwrap();
    let total = a.lock().await.with(|v| *v) + b.lock().await.with(|v| *v);
    assert_eq!(total, 200, "money was created or destroyed");
}

/// Port of `lost_wakeup_buggy` (1 preemption): `Notify::notify_waiters` -> shuttle's
/// `Condvar::notify_all` (wakes only the tasks already waiting, stores nothing). The
/// waiter blocks its task in `Condvar::wait` where the kit's waiter awaits `notified()`;
/// the worker signals without taking the mutex, like `notify_waiters` needs none.
/// `fixed`: `lost_wakeup_fixed` registers before checking; with a condvar that is the
/// usual idiom: check and wait under the mutex, and set the flag under it.
pub async fn lost_wakeup(fixed: bool) {
    use shuttle::sync::{Arc, Condvar, Mutex};
    let done = Rc::new(Cell::new(false));
    let signal = Arc::new((Mutex::new(()), Condvar::new()));
    let (d, s) = (done.clone(), signal.clone());
    let waiter = spawn(async move {
        if fixed {
            let mut guard = s.0.lock().unwrap();
            while !d.get() {
                point().await; // report progress
                guard = s.1.wait(guard).unwrap();
            }
            return;
        }
        while !d.get() {
            point().await; // report progress
            let guard = s.0.lock().unwrap();
            drop(s.1.wait(guard).unwrap());
        }
    });
    let (d, s) = (done.clone(), signal.clone());
    let worker = spawn(async move {
        point().await; // do the work
        let guard = fixed.then(|| s.0.lock().unwrap());
        d.set(true);
        s.1.notify_all();
        drop(guard);
    });
    waiter.await.unwrap();
    worker.await.unwrap();
}

/// Port of `message_reordering_buggy` (2 preemptions): `mpsc::unbounded_channel` ->
/// [`Queue`], whose `send` enqueues before its scheduling point (the kit's unbounded send
/// does not yield, so the primary write and the send stay in one step). The replica stops
/// after the two messages the two writers send (tokio's loop ends when both senders are
/// dropped, right after their one send each). `fixed`:
/// `message_reordering_fixed`, writer 1 writes the primary after its await, next to its send.
pub async fn message_reordering(fixed: bool) {
    let primary = Rc::new(RefCell::new(BTreeMap::new()));
    let queue = Rc::new(Queue::<(&'static str, u32)>::new());
    let (tx, rx) = (queue.clone(), queue);
    let (p, t) = (primary.clone(), tx.clone());
    let w1 = spawn(async move {
        if !fixed {
            p.borrow_mut().insert("k", 1);
        }
        point().await; // encode the change
        if fixed {
            p.borrow_mut().insert("k", 1);
        }
        t.send(("k", 1));
    });
    let (p, t) = (primary.clone(), tx);
    let w2 = spawn(async move {
        point().await; // receive the request
        point().await; // authenticate the client
        p.borrow_mut().insert("k", 2);
        t.send(("k", 2));
    });
    let replica = spawn(async move {
        let mut state = BTreeMap::new();
        for _ in 0..2 {
            let (k, v) = rx.recv().await;
            state.insert(k, v);
        }
        state
    });
    w1.await.unwrap();
    w2.await.unwrap();
    let state = replica.await.unwrap();
    assert_eq!(
        state,
        *primary.borrow(),
        "reordered messages: the replica applied the writes of key k in a different order than the primary"
    );
}

/// Port of `torn_read_buggy` (2 preemptions): debit, yield, credit; the auditor checks
/// after two yields. `fixed`: `torn_read_fixed`, debit and credit together after the yield.
pub async fn torn_read(fixed: bool) {
    let a = Rc::new(Cell::new(100i64));
    let b = Rc::new(Cell::new(100i64));
    let (a1, b1) = (a.clone(), b.clone());
    let transfer = spawn(async move {
        if !fixed {
            a1.set(a1.get() - 30);
        }
        point().await; // write the journal
        if fixed {
            a1.set(a1.get() - 30);
        }
        b1.set(b1.get() + 30);
    });
    let (a2, b2) = (a.clone(), b.clone());
    let auditor = spawn(async move {
        point().await; // the audit timer fires
        point().await; // load the audit rules
        let total = a2.get() + b2.get();
        assert_eq!(
            total, 200,
            "torn read: the auditor saw a + b = {total} in the middle of a transfer (debited, not yet credited)"
        );
    });
    transfer.await.unwrap();
    auditor.await.unwrap();
}

/// The ring's size and sample count of `run_ahead_overflow` (the kit's `RING_CAPACITY`).
const RING_CAPACITY: usize = crate::corpus::RING_CAPACITY;
const SAMPLES: u32 = RING_CAPACITY as u32 + 2;

/// Port of `run_ahead_overflow_buggy` (12 preemptions): `Notify::notify_one` ->
/// [`NotifyOne`], a zero-permit fair semaphore that holds at most one permit.
///
/// `fixed`: `run_ahead_overflow_fixed`, the sampler waits for room (a second [`NotifyOne`]
/// the exporter signals per reading it takes).
pub async fn run_ahead_overflow(fixed: bool) {
    let ring = Rc::new(RefCell::new(VecDeque::with_capacity(RING_CAPACITY)));
    let wake = Rc::new(NotifyOne::new());
    let room = Rc::new(NotifyOne::new());
    let (r, w, m) = (ring.clone(), wake.clone(), room.clone());
    let sampler = spawn(async move {
        for seq in 0..SAMPLES {
            while fixed && r.borrow().len() == RING_CAPACITY {
                m.notified().await; // wait for the exporter to make room
            }
            {
                let mut ring = r.borrow_mut();
                if ring.len() == RING_CAPACITY {
                    ring.pop_front(); // "the exporter is always faster"
                }
                ring.push_back(seq);
            }
            w.notify_one();
            point().await; // the next sampling interval
        }
    });
    let (r, w, m) = (ring.clone(), wake.clone(), room.clone());
    let exporter = spawn(async move {
        let mut next = 0;
        while next < SAMPLES {
            w.notified().await;
            loop {
                let Some(seq) = r.borrow_mut().pop_front() else {
                    break;
                };
                assert_eq!(
                    seq, next,
                    "run-ahead overflow: the sampler got {RING_CAPACITY} readings ahead and the ring dropped reading {next}"
                );
                next += 1;
                if fixed {
                    m.notify_one();
                }
            }
        }
    });
    sampler.await.unwrap();
    exporter.await.unwrap();
}

const RECORDS: usize = 16;
const LATE_RECORD: usize = crate::corpus::LATE_RECORD;

/// Port of `late_window_buggy` (13 preemptions): a one-step lookup must land inside a late
/// step of a 16-step migration. `fixed`: `late_window_fixed`, copy, then delete.
pub async fn late_window(fixed: bool) {
    let old: Rc<RefCell<BTreeMap<usize, String>>> = Rc::new(RefCell::new(
        (0..RECORDS).map(|i| (i, format!("row {i}"))).collect(),
    ));
    let new: Rc<RefCell<BTreeMap<usize, String>>> = Rc::new(RefCell::new(BTreeMap::new()));
    let (o, n) = (old.clone(), new.clone());
    let migration = spawn(async move {
        for id in 0..RECORDS {
            let row = if fixed {
                o.borrow().get(&id).cloned()
            } else {
                o.borrow_mut().remove(&id)
            };
            let row = row.expect("each record is moved once");
            point().await; // copy the row
            n.borrow_mut().insert(id, row);
            if fixed {
                o.borrow_mut().remove(&id);
            }
        }
    });
    let (o, n) = (old.clone(), new.clone());
    let lookup = spawn(async move {
        let found = n
            .borrow()
            .get(&LATE_RECORD)
            .or(o.borrow().get(&LATE_RECORD))
            .cloned();
        assert!(
            found.is_some(),
            "late window: record {LATE_RECORD} was in neither table while the migration moved it"
        );
    });
    migration.await.unwrap();
    lookup.await.unwrap();
}

/// Port of `cancel_torn_write_buggy` (1 preemption): `tokio::select! { biased; .. }` over a
/// `oneshot` stop signal and the save -> a `poll_fn` that polls the stop signal (a
/// zero-permit semaphore the shutdown task releases) first, then the save, and drops the
/// save when the signal wins. `fixed`: `cancel_torn_write_fixed`, the save awaits first and
/// then writes index and data in one step.
pub async fn cancel_torn_write(fixed: bool) {
    let index = Rc::new(RefCell::new(Vec::new()));
    let data = Rc::new(RefCell::new(BTreeMap::new()));
    let stop = Rc::new(BatchSemaphore::new(0, Fairness::StrictlyFair));
    let (i, d, s) = (index.clone(), data.clone(), stop.clone());
    let server = spawn(async move {
        let save = async {
            if !fixed {
                i.borrow_mut().push("user:7");
            }
            point().await; // flush the log
            if fixed {
                i.borrow_mut().push("user:7");
            }
            d.borrow_mut().insert("user:7", "Ada");
        };
        biased_select(s.acquire(1), save).await;
    });
    let s = stop.clone();
    let shutdown = spawn(async move {
        point().await; // receive SIGTERM
        s.release(1);
    });
    server.await.unwrap();
    shutdown.await.unwrap();
    for key in index.borrow().iter() {
        assert!(
            data.borrow().contains_key(key),
            "torn by cancellation: the index lists {key:?} but its data was never written (select! dropped the save between its writes)"
        );
    }
}

/// Waits for the first of two futures, polling `first` first; drops the other.
async fn biased_select<A: Future, B: Future>(first: A, second: B) {
    let (mut a, mut b) = (pin!(first), pin!(second));
    poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// A connection that refuses writes once closed (the kit's `Conn`).
#[derive(Default)]
struct Conn {
    closed: bool,
    sent: Vec<&'static str>,
}

impl Conn {
    fn send(&mut self, frame: &'static str) {
        assert!(
            !self.closed,
            "use after close: {frame:?} was written to a closed connection"
        );
        self.sent.push(frame);
    }
    fn close(&mut self) {
        assert!(!self.closed, "double close: the connection was closed twice");
        self.closed = true;
    }
}

/// Port of `use_after_close_buggy` (1 preemption): check open, yield, write; shutdown
/// closes in between. `fixed`: `use_after_close_fixed`, checks again right before writing.
pub async fn use_after_close(fixed: bool) {
    let conn = Rc::new(RefCell::new(Conn::default()));
    let c = conn.clone();
    let heartbeat = spawn(async move {
        if !c.borrow().closed {
            point().await; // build the ping
            let mut conn = c.borrow_mut();
            if !fixed || !conn.closed {
                conn.send("ping");
            }
        }
    });
    let c = conn.clone();
    let shutdown = spawn(async move {
        point().await; // receive SIGTERM
        let mut conn = c.borrow_mut();
        if !conn.closed {
            conn.close();
        }
    });
    heartbeat.await.unwrap();
    shutdown.await.unwrap();
    assert!(conn.borrow().closed);
}

/// Port of `stale_cache_buggy` (3 preemptions): a fill stores what it read before an
/// update's invalidation. `fixed`: `stale_cache_fixed`, a fill stores its value only if no
/// invalidation happened since its load (a generation number).
pub async fn stale_cache(fixed: bool) {
    let db = Rc::new(Cell::new("v1"));
    let cache: Rc<RefCell<Option<&'static str>>> = Rc::new(RefCell::new(None));
    let generation = Rc::new(Cell::new(0u64));
    let (d, c, g) = (db.clone(), cache.clone(), generation.clone());
    let reader = spawn(async move {
        if c.borrow().is_none() {
            let (value, seen) = (d.get(), g.get());
            point().await; // deserialise
            if !fixed || g.get() == seen {
                *c.borrow_mut() = Some(value);
            }
        }
    });
    let (d, c, g) = (db.clone(), cache.clone(), generation.clone());
    let updater = spawn(async move {
        point().await; // receive the update
        point().await; // authorise it
        point().await; // append to the audit log
        d.set("v2");
        g.set(g.get() + 1);
        c.borrow_mut().take(); // invalidate
    });
    reader.await.unwrap();
    updater.await.unwrap();
    if let Some(cached) = *cache.borrow() {
        assert_eq!(
            cached,
            db.get(),
            "stale cache: the cache holds {cached:?} after the update to {:?} invalidated it",
            db.get()
        );
    }
}

/// The kit's free list of three slots (program 14).
struct FreeList {
    head: Option<usize>,
    next: [Option<usize>; 3],
    in_use: [bool; 3],
    version: u64,
}

impl FreeList {
    fn new() -> Self {
        FreeList {
            head: Some(0),
            next: [Some(1), Some(2), None],
            in_use: [false; 3],
            version: 0,
        }
    }
    fn take(&mut self, slot: usize) {
        assert!(
            !self.in_use[slot],
            "ABA: slot {slot} was handed out twice (the compare-and-set saw the same head and used a stale next link)"
        );
        self.in_use[slot] = true;
    }
    fn pop_now(&mut self) -> usize {
        let slot = self.head.expect("the list is not empty");
        self.head = self.next[slot];
        self.version += 1;
        self.take(slot);
        slot
    }
    fn push(&mut self, slot: usize) {
        self.in_use[slot] = false;
        self.next[slot] = self.head;
        self.head = Some(slot);
        self.version += 1;
    }
}

/// Port of `aba_free_list_buggy` (1 preemption): compare-and-set on the head slot alone.
/// `fixed`: `aba_free_list_fixed`, compare-and-set on (slot, version).
pub async fn aba_free_list(fixed: bool) {
    let list = Rc::new(RefCell::new(FreeList::new()));
    let l = list.clone();
    let slow = spawn(async move {
        let (head, next, version) = {
            let l = l.borrow();
            let head = l.head.expect("the list is not empty");
            (head, l.next[head], l.version)
        };
        point().await; // check the quota
        let mut l = l.borrow_mut();
        if l.head == Some(head) && (!fixed || l.version == version) {
            l.head = next;
            l.version += 1;
            l.take(head);
        }
    });
    let l = list.clone();
    let fast = spawn(async move {
        point().await; // receive the request
        let mut l = l.borrow_mut();
        let a = l.pop_now();
        let _b = l.pop_now();
        l.push(a);
    });
    slow.await.unwrap();
    fast.await.unwrap();
    let mut l = list.borrow_mut();
    while l.head.is_some() {
        l.pop_now();
    }
}

/// Port of `permit_leak_buggy` (1 preemption): tokio's `Semaphore` -> a fair batch
/// semaphore; `acquire().forget()` is an acquire never released, `add_permits(1)` a
/// release, `acquire_many(2)` an acquire of 2 (which waits forever when a permit leaked:
/// shuttle reports the deadlock). `fixed`: `permit_leak_fixed`, the early return gives
/// its permit back.
pub async fn permit_leak(fixed: bool) {
    async fn fetch(
        key: &'static str,
        limiter: Rc<BatchSemaphore>,
        in_flight: Rc<RefCell<BTreeSet<&'static str>>>,
        cache: Rc<RefCell<BTreeSet<&'static str>>>,
        fixed: bool,
    ) {
        if cache.borrow().contains(key) {
            return;
        }
        limiter.acquire(1).await.expect("never closed");
        if in_flight.borrow().contains(key) {
            if fixed {
                limiter.release(1);
            }
            return; // buggy: the permit is not given back
        }
        in_flight.borrow_mut().insert(key);
        point().await; // fetch over the network
        cache.borrow_mut().insert(key);
        in_flight.borrow_mut().remove(key);
        limiter.release(1);
    }
    let limiter = Rc::new(BatchSemaphore::new(2, Fairness::StrictlyFair));
    let in_flight = Rc::new(RefCell::new(BTreeSet::new()));
    let cache = Rc::new(RefCell::new(BTreeSet::new()));
    let first = spawn(fetch(
        "avatar:7",
        limiter.clone(),
        in_flight.clone(),
        cache.clone(),
        fixed,
    ));
    let (l, f, c) = (limiter.clone(), in_flight.clone(), cache.clone());
    let second = spawn(async move {
        point().await; // parse the request
        fetch("avatar:7", l, f, c, fixed).await;
    });
    first.await.unwrap();
    second.await.unwrap();
    limiter.acquire(2).await.expect("never closed");
    limiter.release(2);
}

const READY_POLLS: u32 = 6;

/// Port of `readiness_polling_buggy` (5 preemptions): the client gives up after 6 polls.
/// `fixed`: `readiness_polling_fixed`, the client waits for a readiness signal (a `watch`
/// channel there, a zero-permit semaphore the server releases here).
pub async fn readiness_polling(fixed: bool) {
    let ready = Rc::new(Cell::new(false));
    let signal = Rc::new(BatchSemaphore::new(0, Fairness::StrictlyFair));
    let (r, sig) = (ready.clone(), signal.clone());
    let server = spawn(async move {
        point().await; // bind the socket
        point().await; // load the routes
        r.set(true);
        if fixed {
            sig.release(1);
        }
    });
    let (r, sig) = (ready.clone(), signal.clone());
    let client = spawn(async move {
        if fixed {
            sig.acquire(1).await.expect("never closed");
        }
        let mut polls = 0;
        while !r.get() {
            polls += 1;
            assert!(
                polls <= READY_POLLS,
                "not ready: the client gave up after {READY_POLLS} polls although the server was starting"
            );
            point().await; // poll again
        }
    });
    server.await.unwrap();
    client.await.unwrap();
}
