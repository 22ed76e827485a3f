//! A corpus of small async programs, each with a classic concurrency bug and a fixed twin.
//!
//! Shared by the corpus tests (`tests/corpus.rs`) and the exploration benchmarks: every
//! program is a pair of bodies, `<name>_buggy` and `<name>_fixed`, with the same tasks
//! doing the same steps (the fix takes a lock, moves a write across an await, or checks
//! again); the buggy one panics with a message naming the bug (or deadlocks) under some
//! schedules, the fixed one passes under every schedule.
//!
//! Awaits that stand for I/O (a database round trip, a network read) are written as
//! `yield_point().await`: a place where the task gives the scheduler a choice, like any
//! await that is woken at once. Under FIFO, the task that was woken first runs next; a
//! *preemption* is choosing any other ready task. `min_preemptions` is the fewest such
//! deviations from FIFO that make the buggy body fail (0: plain FIFO already fails).
//! Each value was checked by an exhaustive preemption-bounded search over choice
//! sequences (a scripted FIFO chooser, outside this crate's API): no schedule with fewer
//! deviations fails, and one with that many does. Once the kit has bounded DFS, a test
//! can check the same: `Dfs { max_preemptions: m - 1 }` passes, `m` finds the bug.
//!
//! Uses only async-testkit's public API, tokio and std. A benchmark includes it with
//! `#[path = "../tests/corpus/mod.rs"] mod corpus;` and iterates over [`all`]; the port
//! to `tokio::spawn` (async-testkit-tokio's `tests/corpus_tokio/mod.rs`) takes each
//! program's description from here and the plain data types (`Conn`, `FreeList`, ...)
//! its tasks share.

// Shared by several targets, each of which uses only part of it.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::time::Duration;

use async_testkit::{FailureKind, task, yield_point};
use tokio::sync::{Mutex, Notify, OnceCell, Semaphore, mpsc, oneshot, watch};

/// One program of the corpus.
pub struct Program {
    /// A unique, snake_case name.
    pub name: &'static str,
    /// The body with the bug: fails (panics or deadlocks) under some schedules.
    pub buggy: fn() -> Pin<Box<dyn Future<Output = ()>>>,
    /// The same program with the bug removed: passes under every schedule.
    pub fixed: fn() -> Pin<Box<dyn Future<Output = ()>>>,
    /// The fewest deviations from FIFO choices that expose the bug (0: FIFO fails).
    pub min_preemptions: u32,
    /// Whether the uniformly random explorer misses the bug within 1000 schedules for
    /// some seeds: a bug for PCT (or a portfolio) to find.
    pub needs_pct: bool,
    /// How the buggy body fails when the bug shows: `Panic` (an assertion naming the
    /// bug) or `Deadlock` (every task waits, no timer pending).
    pub fails_with: FailureKind,
    /// What the bug's assertion message starts with (`"lost update"` for
    /// `"lost update: ..."`), so a tool can tell the bug from an incidental panic; empty
    /// for deadlocks.
    pub symptom: &'static str,
    /// One line: the bug and its minimal schedule.
    pub note: &'static str,
}

macro_rules! program {
    ($name:ident, $buggy:ident, $fixed:ident, $min:expr, $pct:expr, $fails:ident, $symptom:expr, $note:expr) => {
        Program {
            name: stringify!($name),
            buggy: || Box::pin($buggy()),
            fixed: || Box::pin($fixed()),
            min_preemptions: $min,
            needs_pct: $pct,
            fails_with: FailureKind::$fails,
            symptom: $symptom,
            note: $note,
        }
    };
}

/// Every program of the corpus, in a fixed order.
pub fn all() -> Vec<Program> {
    vec![
        program!(
            lost_update,
            lost_update_buggy,
            lost_update_fixed,
            1,
            false,
            Panic,
            "lost update",
            "read, await, write back: a deposit made during the await is overwritten"
        ),
        program!(
            double_init,
            double_init_buggy,
            double_init_fixed,
            1,
            false,
            Panic,
            "double initialisation",
            "check-then-act across an await: two requests both see no pool and both connect"
        ),
        program!(
            use_before_init,
            use_before_init_buggy,
            use_before_init_fixed,
            0,
            false,
            Panic,
            "use before initialisation",
            "a handler reads the config before the loader has published it"
        ),
        program!(
            lock_order_deadlock,
            lock_order_deadlock_buggy,
            lock_order_deadlock_fixed,
            1,
            false,
            Deadlock,
            "",
            "two transfers lock the same two accounts in opposite orders"
        ),
        program!(
            lost_wakeup,
            lost_wakeup_buggy,
            lost_wakeup_fixed,
            1,
            false,
            Deadlock,
            "",
            "notify_waiters sent between the waiter's check and its registration"
        ),
        program!(
            message_reordering,
            message_reordering_buggy,
            message_reordering_fixed,
            2,
            false,
            Panic,
            "reordered messages",
            "two writers of one key send after an await: the replica applies them out of order"
        ),
        program!(
            torn_read,
            torn_read_buggy,
            torn_read_fixed,
            2,
            false,
            Panic,
            "torn read",
            "an auditor sees a transfer half done: debited, not yet credited"
        ),
        program!(
            run_ahead_overflow,
            run_ahead_overflow_buggy,
            run_ahead_overflow_fixed,
            RING_CAPACITY as u32,
            true,
            Panic,
            "run-ahead overflow",
            "the producer must run CAPACITY+1 steps in a row before the consumer drains"
        ),
        program!(
            late_window,
            late_window_buggy,
            late_window_fixed,
            LATE_RECORD as u32,
            true,
            Panic,
            "late window",
            "a one-step lookup must land inside a late step of a long migration"
        ),
        program!(
            cancel_torn_write,
            cancel_torn_write_buggy,
            cancel_torn_write_fixed,
            1,
            false,
            Panic,
            "torn by cancellation",
            "select! drops a save between its two writes when shutdown wins"
        ),
        program!(
            futurelock,
            futurelock_buggy,
            futurelock_fixed,
            1,
            false,
            Deadlock,
            "",
            "a select! branch awaits a lock that a pinned, unpolled future is queued for"
        ),
        program!(
            use_after_close,
            use_after_close_buggy,
            use_after_close_fixed,
            1,
            false,
            Panic,
            "use after close",
            "a heartbeat checks the connection is open, awaits, then writes after shutdown closed it"
        ),
        program!(
            stale_cache,
            stale_cache_buggy,
            stale_cache_fixed,
            3,
            false,
            Panic,
            "stale cache",
            "a cache fill reads the old value, an update invalidates, the fill stores the old value"
        ),
        program!(
            aba_free_list,
            aba_free_list_buggy,
            aba_free_list_fixed,
            1,
            false,
            Panic,
            "ABA",
            "compare-and-set on the head slot alone: pop, pop, push back fools it (ABA)"
        ),
        program!(
            permit_leak,
            permit_leak_buggy,
            permit_leak_fixed,
            1,
            false,
            Deadlock,
            "",
            "an early return for a duplicate fetch never gives its semaphore permit back"
        ),
        program!(
            double_close,
            double_close_buggy,
            double_close_fixed,
            1,
            false,
            Panic,
            "double close",
            "EOF and the idle timeout fire at the same instant and both close the connection"
        ),
        program!(
            readiness_polling,
            readiness_polling_buggy,
            readiness_polling_fixed,
            5,
            false,
            Panic,
            "not ready",
            "a client polls readiness a fixed number of times, assuming the server starts within them"
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// 1. Lost update
// ---------------------------------------------------------------------------------------

/// **Bug:** the `interest` task reads the balance, awaits a rate lookup, and writes back
/// `balance + 10%` computed from what it read. A deposit that lands during the await is
/// overwritten. Serial outcomes: 160 (interest first) or 165 (deposit first).
///
/// **Minimal schedule (1 preemption):** FIFO runs interest (read, await), deposit (receive
/// the request), interest (write), deposit (add): correct. Choosing `deposit` again after
/// its first await, instead of the waiting `interest`, puts the deposit inside the window.
///
/// **Fix:** hold a tokio `Mutex` guard across the await (and take it for the deposit).
pub async fn lost_update_buggy() {
    let balance = Rc::new(Cell::new(100));
    let b = balance.clone();
    let interest = task::Builder::new().name("interest").spawn(async move {
        let current = b.get();
        yield_point().await; // look up today's rate
        b.set(current + current / 10);
    });
    let b = balance.clone();
    let deposit = task::Builder::new().name("deposit").spawn(async move {
        yield_point().await; // receive the deposit request
        b.set(b.get() + 50);
    });
    interest.await.unwrap();
    deposit.await.unwrap();
    let end = balance.get();
    assert!(
        end == 160 || end == 165,
        "lost update: the balance is {end}, but interest-then-deposit gives 160 and deposit-then-interest 165"
    );
}

/// The fixed twin of [`lost_update_buggy`]: the read-modify-write holds the lock.
pub async fn lost_update_fixed() {
    let balance = Rc::new(Mutex::new(100));
    let b = balance.clone();
    let interest = task::Builder::new().name("interest").spawn(async move {
        let mut guard = b.lock().await;
        let current = *guard;
        yield_point().await; // look up today's rate
        *guard = current + current / 10;
    });
    let b = balance.clone();
    let deposit = task::Builder::new().name("deposit").spawn(async move {
        yield_point().await; // receive the deposit request
        *b.lock().await += 50;
    });
    interest.await.unwrap();
    deposit.await.unwrap();
    let end = *balance.lock().await;
    assert!(
        end == 160 || end == 165,
        "lost update: the balance is {end}, but interest-then-deposit gives 160 and deposit-then-interest 165"
    );
}

// ---------------------------------------------------------------------------------------
// 2. Double initialisation (check-then-act)
// ---------------------------------------------------------------------------------------

/// A connection pool; `id` says which connect opened it.
pub struct Pool {
    pub id: u32,
}

/// **Bug:** each request checks whether the shared pool exists, and if not awaits
/// the connection and stores it. Two requests that both check before either stores both
/// connect: the pool is opened twice (a leaked pool, double the connections).
///
/// **Minimal schedule (1 preemption):** the second request arrives one step later (the
/// body yields before spawning it). FIFO runs the first request's check and connect-await,
/// then the body spawns the second, then the first stores the pool: the second finds it.
/// Choosing the body before the first request's first step spawns the second request in
/// time for both checks to see "no pool".
///
/// **Fix:** `tokio::sync::OnceCell::get_or_init`: the second caller waits for the first.
pub async fn double_init_buggy() {
    let pool: Rc<RefCell<Option<Rc<Pool>>>> = Rc::new(RefCell::new(None));
    let connects = Rc::new(Cell::new(0u32));
    let request = |pool: Rc<RefCell<Option<Rc<Pool>>>>, connects: Rc<Cell<u32>>| async move {
        let existing = pool.borrow().clone();
        let p = match existing {
            Some(p) => p,
            None => {
                yield_point().await; // connect to the database
                connects.set(connects.get() + 1);
                let p = Rc::new(Pool { id: connects.get() });
                *pool.borrow_mut() = Some(p.clone());
                p
            }
        };
        p.id
    };
    let first = task::Builder::new()
        .name("request 1")
        .spawn(request(pool.clone(), connects.clone()));
    yield_point().await; // the second request arrives a moment later
    let second = task::Builder::new()
        .name("request 2")
        .spawn(request(pool.clone(), connects.clone()));
    let (a, b) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(
        connects.get(),
        1,
        "double initialisation: the pool was opened {} times (the requests got pools {a} and {b}); both saw no pool before either stored one",
        connects.get()
    );
}

/// The fixed twin of [`double_init_buggy`]: initialisation through a `OnceCell`.
pub async fn double_init_fixed() {
    let pool: Rc<OnceCell<Rc<Pool>>> = Rc::new(OnceCell::new());
    let connects = Rc::new(Cell::new(0u32));
    let request = |pool: Rc<OnceCell<Rc<Pool>>>, connects: Rc<Cell<u32>>| async move {
        let p = pool
            .get_or_init(|| async {
                yield_point().await; // connect to the database
                connects.set(connects.get() + 1);
                Rc::new(Pool { id: connects.get() })
            })
            .await
            .clone();
        p.id
    };
    let first = task::Builder::new()
        .name("request 1")
        .spawn(request(pool.clone(), connects.clone()));
    yield_point().await; // the second request arrives a moment later
    let second = task::Builder::new()
        .name("request 2")
        .spawn(request(pool.clone(), connects.clone()));
    let (a, b) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(
        connects.get(),
        1,
        "double initialisation: the pool was opened {} times (the requests got pools {a} and {b}); both saw no pool before either stored one",
        connects.get()
    );
}

// ---------------------------------------------------------------------------------------
// 3. Use before initialisation
// ---------------------------------------------------------------------------------------

/// Settings the loader reads from disk; `Default` is what a handler sees before that.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    pub max_body: usize,
}

/// **Bug:** the loader opens and reads the config file (two awaits) and then publishes
/// it; the handler accepts a request (one await) and reads whatever config is there. It
/// can read the default (`max_body == 0`) and reject every request.
///
/// **Minimal schedule (0 preemptions):** FIFO alternates loader and handler: loader opens,
/// handler accepts, loader reads, handler reads the config, which is not there yet. Plain
/// FIFO fails, and so does most of what a random scheduler tries.
///
/// **Fix:** the handler waits on a `watch` channel until a config has been published.
pub async fn use_before_init_buggy() {
    let config: Rc<RefCell<Option<Config>>> = Rc::new(RefCell::new(None));
    let c = config.clone();
    let loader = task::Builder::new().name("loader").spawn(async move {
        yield_point().await; // open the file
        yield_point().await; // read it
        *c.borrow_mut() = Some(Config { max_body: 1024 });
    });
    let c = config.clone();
    let handler = task::Builder::new().name("handler").spawn(async move {
        yield_point().await; // accept a request
        let cfg = c.borrow().clone().unwrap_or_default();
        assert!(
            cfg.max_body > 0,
            "use before initialisation: the handler read the default config ({cfg:?}) before the loader published it"
        );
    });
    loader.await.unwrap();
    handler.await.unwrap();
}

/// The fixed twin of [`use_before_init_buggy`]: the handler waits for the config.
pub async fn use_before_init_fixed() {
    let (tx, mut rx) = watch::channel::<Option<Config>>(None);
    let loader = task::Builder::new().name("loader").spawn(async move {
        yield_point().await; // open the file
        yield_point().await; // read it
        tx.send_replace(Some(Config { max_body: 1024 }));
    });
    let handler = task::Builder::new().name("handler").spawn(async move {
        yield_point().await; // accept a request
        let cfg = rx
            .wait_for(Option::is_some)
            .await
            .expect("the loader publishes before it ends")
            .clone()
            .unwrap_or_default();
        assert!(
            cfg.max_body > 0,
            "use before initialisation: the handler read the default config ({cfg:?}) before the loader published it"
        );
    });
    loader.await.unwrap();
    handler.await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 4. Lock-order deadlock
// ---------------------------------------------------------------------------------------

type Account = Rc<Mutex<i64>>;

/// **Bug:** `transfer(from, to)` locks `from`, awaits a fraud check, then locks `to`. Two
/// transfers in opposite directions each hold one account and wait for the other: the
/// run deadlocks (every task waits, no timer pending).
///
/// **Minimal schedule (1 preemption):** the second transfer is requested one step after
/// the first. FIFO lets the first transfer lock `a`, then the body spawns the second, then
/// the first locks `b` and finishes. Choosing the body before the first transfer's first
/// step starts both in time: first locks `a`, second locks `b`, each waits for the other.
///
/// **Fix:** lock the two accounts in a global order (by account number).
pub async fn lock_order_deadlock_buggy() {
    async fn transfer(from: Account, to: Account, amount: i64) {
        let mut f = from.lock().await;
        yield_point().await; // fraud check
        let mut t = to.lock().await;
        *f -= amount;
        *t += amount;
    }
    let a: Account = Rc::new(Mutex::new(100));
    let b: Account = Rc::new(Mutex::new(100));
    let t1 = task::Builder::new()
        .name("a to b")
        .spawn(transfer(a.clone(), b.clone(), 10));
    yield_point().await; // the second request arrives a moment later
    let t2 = task::Builder::new()
        .name("b to a")
        .spawn(transfer(b.clone(), a.clone(), 20));
    t1.await.unwrap();
    t2.await.unwrap();
    assert_eq!(
        *a.lock().await + *b.lock().await,
        200,
        "money was created or destroyed"
    );
}

/// The fixed twin of [`lock_order_deadlock_buggy`]: locks taken in account order.
pub async fn lock_order_deadlock_fixed() {
    async fn transfer(from: (u32, Account), to: (u32, Account), amount: i64) {
        // Lock the lower account number first, whichever way the money goes.
        let (first, second) = if from.0 < to.0 {
            (&from.1, &to.1)
        } else {
            (&to.1, &from.1)
        };
        let mut g1 = first.lock().await;
        yield_point().await; // fraud check
        let mut g2 = second.lock().await;
        let (f, t) = if from.0 < to.0 {
            (&mut *g1, &mut *g2)
        } else {
            (&mut *g2, &mut *g1)
        };
        *f -= amount;
        *t += amount;
    }
    let a: Account = Rc::new(Mutex::new(100));
    let b: Account = Rc::new(Mutex::new(100));
    let t1 = task::Builder::new()
        .name("a to b")
        .spawn(transfer((1, a.clone()), (2, b.clone()), 10));
    yield_point().await; // the second request arrives a moment later
    let t2 = task::Builder::new()
        .name("b to a")
        .spawn(transfer((2, b.clone()), (1, a.clone()), 20));
    t1.await.unwrap();
    t2.await.unwrap();
    assert_eq!(
        *a.lock().await + *b.lock().await,
        200,
        "money was created or destroyed"
    );
}

// ---------------------------------------------------------------------------------------
// 5. Lost wake-up
// ---------------------------------------------------------------------------------------

/// **Bug:** the waiter checks `done`, awaits (reports progress), and only then creates its
/// `Notified` future. `notify_waiters` wakes only waiters that exist when it is called and
/// stores no permit: a notification sent between the check and the registration is lost
/// and the waiter sleeps forever (deadlock).
///
/// **Minimal schedule (1 preemption):** FIFO runs waiter (check, await), worker (work
/// await), waiter (register), worker (set `done`, notify): correct. Choosing the worker
/// again after its await, before the waiter registers, loses the notification.
///
/// **Fix:** create (and `enable`) the `Notified` future before checking the flag.
pub async fn lost_wakeup_buggy() {
    let done = Rc::new(Cell::new(false));
    let notify = Rc::new(Notify::new());
    let (d, n) = (done.clone(), notify.clone());
    let waiter = task::Builder::new().name("waiter").spawn(async move {
        while !d.get() {
            yield_point().await; // report progress
            n.notified().await;
        }
    });
    let (d, n) = (done.clone(), notify.clone());
    let worker = task::Builder::new().name("worker").spawn(async move {
        yield_point().await; // do the work
        d.set(true);
        n.notify_waiters();
    });
    waiter.await.unwrap();
    worker.await.unwrap();
}

/// The fixed twin of [`lost_wakeup_buggy`]: register before checking.
pub async fn lost_wakeup_fixed() {
    let done = Rc::new(Cell::new(false));
    let notify = Rc::new(Notify::new());
    let (d, n) = (done.clone(), notify.clone());
    let waiter = task::Builder::new().name("waiter").spawn(async move {
        loop {
            let mut notified = pin!(n.notified());
            notified.as_mut().enable();
            if d.get() {
                break;
            }
            yield_point().await; // report progress
            notified.await;
        }
    });
    let (d, n) = (done.clone(), notify.clone());
    let worker = task::Builder::new().name("worker").spawn(async move {
        yield_point().await; // do the work
        d.set(true);
        n.notify_waiters();
    });
    waiter.await.unwrap();
    worker.await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 6. Reordered messages from two producers
// ---------------------------------------------------------------------------------------

/// **Bug:** two writers update key `k` on the primary and then, after an await (encoding),
/// send the new value to a replica over one channel. The replica applies messages in
/// arrival order and assumes that is write order per key; when the sends cross, the
/// replica ends with the older value.
///
/// **Minimal schedule (2 preemptions):** FIFO runs writer 1 (write 1, await), writer 2
/// (receive the request), the replica (nothing yet), writer 1 (send 1), and only then
/// writer 2's remaining steps (authenticate; write 2 and send 2): in order. Writer 2 must
/// take both remaining steps while writer 1 waits to send: two choices against FIFO.
///
/// **Fix:** write the primary and send in the same step, after the await, so send order
/// is write order.
pub async fn message_reordering_buggy() {
    let primary = Rc::new(RefCell::new(BTreeMap::new()));
    let (tx, mut rx) = mpsc::unbounded_channel::<(&'static str, u32)>();
    let (p, t) = (primary.clone(), tx.clone());
    let w1 = task::Builder::new().name("writer 1").spawn(async move {
        p.borrow_mut().insert("k", 1);
        yield_point().await; // encode the change
        t.send(("k", 1)).unwrap();
    });
    let (p, t) = (primary.clone(), tx);
    let w2 = task::Builder::new().name("writer 2").spawn(async move {
        yield_point().await; // receive the request
        yield_point().await; // authenticate the client
        p.borrow_mut().insert("k", 2);
        t.send(("k", 2)).unwrap();
    });
    let replica = task::Builder::new().name("replica").spawn(async move {
        let mut state = BTreeMap::new();
        while let Some((k, v)) = rx.recv().await {
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

/// The fixed twin of [`message_reordering_buggy`]: write and send in one step.
pub async fn message_reordering_fixed() {
    let primary = Rc::new(RefCell::new(BTreeMap::new()));
    let (tx, mut rx) = mpsc::unbounded_channel::<(&'static str, u32)>();
    let (p, t) = (primary.clone(), tx.clone());
    let w1 = task::Builder::new().name("writer 1").spawn(async move {
        yield_point().await; // encode the change
        p.borrow_mut().insert("k", 1);
        t.send(("k", 1)).unwrap();
    });
    let (p, t) = (primary.clone(), tx);
    let w2 = task::Builder::new().name("writer 2").spawn(async move {
        yield_point().await; // receive the request
        yield_point().await; // authenticate the client
        p.borrow_mut().insert("k", 2);
        t.send(("k", 2)).unwrap();
    });
    let replica = task::Builder::new().name("replica").spawn(async move {
        let mut state = BTreeMap::new();
        while let Some((k, v)) = rx.recv().await {
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

// ---------------------------------------------------------------------------------------
// 7. Torn read of a two-step update
// ---------------------------------------------------------------------------------------

/// **Bug:** a transfer debits account `a`, awaits (writes the journal), then credits `b`.
/// An auditor that checks `a + b == 200` between the two steps sees money missing.
///
/// **Minimal schedule (2 preemptions):** FIFO runs transfer (debit, await), auditor
/// (timer), transfer (credit), then the auditor's remaining steps (rules; check):
/// consistent. The auditor must take two steps in a row while the transfer waits to
/// credit: e.g. the auditor first (timer), the transfer's debit, then the auditor twice.
///
/// **Fix:** apply both steps together after the await (the journal first, then the
/// debit and the credit in one step).
pub async fn torn_read_buggy() {
    let a = Rc::new(Cell::new(100i64));
    let b = Rc::new(Cell::new(100i64));
    let (a1, b1) = (a.clone(), b.clone());
    let transfer = task::Builder::new().name("transfer").spawn(async move {
        a1.set(a1.get() - 30);
        yield_point().await; // write the journal
        b1.set(b1.get() + 30);
    });
    let (a2, b2) = (a.clone(), b.clone());
    let auditor = task::Builder::new().name("auditor").spawn(async move {
        yield_point().await; // the audit timer fires
        yield_point().await; // load the audit rules
        let total = a2.get() + b2.get();
        assert_eq!(
            total, 200,
            "torn read: the auditor saw a + b = {total} in the middle of a transfer (debited, not yet credited)"
        );
    });
    transfer.await.unwrap();
    auditor.await.unwrap();
}

/// The fixed twin of [`torn_read_buggy`]: debit and credit in one step.
pub async fn torn_read_fixed() {
    let a = Rc::new(Cell::new(100i64));
    let b = Rc::new(Cell::new(100i64));
    let (a1, b1) = (a.clone(), b.clone());
    let transfer = task::Builder::new().name("transfer").spawn(async move {
        yield_point().await; // write the journal
        a1.set(a1.get() - 30);
        b1.set(b1.get() + 30);
    });
    let (a2, b2) = (a.clone(), b.clone());
    let auditor = task::Builder::new().name("auditor").spawn(async move {
        yield_point().await; // the audit timer fires
        yield_point().await; // load the audit rules
        let total = a2.get() + b2.get();
        assert_eq!(
            total, 200,
            "torn read: the auditor saw a + b = {total} in the middle of a transfer (debited, not yet credited)"
        );
    });
    transfer.await.unwrap();
    auditor.await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 8. A producer that must run far ahead
// ---------------------------------------------------------------------------------------

/// The ring buffer's size in program 8.
pub const RING_CAPACITY: usize = 12;
pub const SAMPLES: u32 = RING_CAPACITY as u32 + 2;

/// **Bug:** a sampler pushes readings into a fixed-size ring buffer and, when it is full,
/// drops the oldest reading, assuming the exporter always keeps up. The exporter drains
/// everything each time it is notified and checks it saw every sequence number.
///
/// **Minimal schedule (`RING_CAPACITY` preemptions):** FIFO alternates sampler and
/// exporter, so the ring never holds more than one reading. Overflow needs
/// `RING_CAPACITY + 1` pushes with no drain between them: the sampler chosen over the
/// ready exporter at `RING_CAPACITY` choice points in a row. A random scheduler does
/// that with probability about 2^-RING_CAPACITY per window; PCT with depth 1 gives the
/// sampler the higher priority half the time.
///
/// **Fix:** when the ring is full, the sampler waits for the exporter to make room
/// (backpressure) instead of dropping.
pub async fn run_ahead_overflow_buggy() {
    let ring = Rc::new(RefCell::new(VecDeque::with_capacity(RING_CAPACITY)));
    let wake = Rc::new(Notify::new());
    let (r, w) = (ring.clone(), wake.clone());
    let sampler = task::Builder::new().name("sampler").spawn(async move {
        for seq in 0..SAMPLES {
            {
                let mut ring = r.borrow_mut();
                if ring.len() == RING_CAPACITY {
                    ring.pop_front(); // "the exporter is always faster"
                }
                ring.push_back(seq);
            }
            w.notify_one();
            yield_point().await; // the next sampling interval
        }
    });
    let (r, w) = (ring.clone(), wake.clone());
    let exporter = task::Builder::new().name("exporter").spawn(async move {
        let mut next = 0;
        while next < SAMPLES {
            w.notified().await;
            while let Some(seq) = r.borrow_mut().pop_front() {
                assert_eq!(
                    seq, next,
                    "run-ahead overflow: the sampler got {RING_CAPACITY} readings ahead and the ring dropped reading {next}"
                );
                next += 1;
            }
        }
    });
    sampler.await.unwrap();
    exporter.await.unwrap();
}

/// The fixed twin of [`run_ahead_overflow_buggy`]: backpressure instead of dropping.
pub async fn run_ahead_overflow_fixed() {
    let ring = Rc::new(RefCell::new(VecDeque::with_capacity(RING_CAPACITY)));
    let wake = Rc::new(Notify::new());
    let room = Rc::new(Notify::new());
    let (r, w, m) = (ring.clone(), wake.clone(), room.clone());
    let sampler = task::Builder::new().name("sampler").spawn(async move {
        for seq in 0..SAMPLES {
            while r.borrow().len() == RING_CAPACITY {
                m.notified().await; // wait for the exporter to make room
            }
            r.borrow_mut().push_back(seq);
            w.notify_one();
            yield_point().await; // the next sampling interval
        }
    });
    let (r, w, m) = (ring.clone(), wake.clone(), room.clone());
    let exporter = task::Builder::new().name("exporter").spawn(async move {
        let mut next = 0;
        while next < SAMPLES {
            w.notified().await;
            while let Some(seq) = r.borrow_mut().pop_front() {
                assert_eq!(
                    seq, next,
                    "run-ahead overflow: the sampler got {RING_CAPACITY} readings ahead and the ring dropped reading {next}"
                );
                next += 1;
                m.notify_one();
            }
        }
    });
    sampler.await.unwrap();
    exporter.await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 9. Uneven task lengths: a late window
// ---------------------------------------------------------------------------------------

/// How many records the migration of program 9 moves.
pub const RECORDS: usize = 16;
/// The record whose lookup the short task makes (late in the migration).
pub const LATE_RECORD: usize = 13;

/// **Bug:** a migration moves records one by one from the old table to the new one:
/// remove from old, await (copy the row), insert into new. A lookup that checks the new
/// table, then the old, finds neither while its record is in flight. The lookup is one
/// short step; its record is moved late in a long migration.
///
/// **Minimal schedule (`LATE_RECORD` preemptions):** FIFO runs the lookup right after the
/// migration's first await, when record `LATE_RECORD` is still in the old table. The
/// lookup must be held back, while ready, until the migration has reached that record:
/// the migration chosen over it at `LATE_RECORD` choice points. Random runs it early almost
/// always (probability about 2^-(LATE_RECORD+1)); PCT needs depth 2 (one priority change
/// point inside the migration's long run).
///
/// **Fix:** insert into the new table before removing from the old (copy, then delete).
pub async fn late_window_buggy() {
    let old: Rc<RefCell<BTreeMap<usize, String>>> = Rc::new(RefCell::new(
        (0..RECORDS).map(|i| (i, format!("row {i}"))).collect(),
    ));
    let new: Rc<RefCell<BTreeMap<usize, String>>> = Rc::new(RefCell::new(BTreeMap::new()));
    let (o, n) = (old.clone(), new.clone());
    let migration = task::Builder::new().name("migration").spawn(async move {
        for id in 0..RECORDS {
            let row = o.borrow_mut().remove(&id).expect("each record is moved once");
            yield_point().await; // copy the row
            n.borrow_mut().insert(id, row);
        }
    });
    let (o, n) = (old.clone(), new.clone());
    let lookup = task::Builder::new().name("lookup").spawn(async move {
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

/// The fixed twin of [`late_window_buggy`]: copy, then delete.
pub async fn late_window_fixed() {
    let old: Rc<RefCell<BTreeMap<usize, String>>> = Rc::new(RefCell::new(
        (0..RECORDS).map(|i| (i, format!("row {i}"))).collect(),
    ));
    let new: Rc<RefCell<BTreeMap<usize, String>>> = Rc::new(RefCell::new(BTreeMap::new()));
    let (o, n) = (old.clone(), new.clone());
    let migration = task::Builder::new().name("migration").spawn(async move {
        for id in 0..RECORDS {
            let row = o.borrow().get(&id).cloned().expect("each record is moved once");
            yield_point().await; // copy the row
            n.borrow_mut().insert(id, row);
            o.borrow_mut().remove(&id);
        }
    });
    let (o, n) = (old.clone(), new.clone());
    let lookup = task::Builder::new().name("lookup").spawn(async move {
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

// ---------------------------------------------------------------------------------------
// 10. An update torn by cancellation
// ---------------------------------------------------------------------------------------

/// **Bug:** a server runs `save` inside `select!` against a shutdown signal. `save` writes
/// the index entry, awaits (flushes the log), then writes the data. When shutdown wins
/// the race while `save` is between its writes, `select!` drops `save`: the index points
/// at data that was never written.
///
/// **Minimal schedule (1 preemption):** FIFO runs the server (index write, await), the
/// shutdown task (receive the signal), the server (data write, done), shutdown (send, to
/// no one). Choosing shutdown again after its await, before the server resumes, makes
/// `select!` see the signal first and drop `save`.
///
/// **Fix:** make `save` cancellation-safe: await first, then write index and data in one
/// step.
pub async fn cancel_torn_write_buggy() {
    let index = Rc::new(RefCell::new(Vec::new()));
    let data = Rc::new(RefCell::new(BTreeMap::new()));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (i, d) = (index.clone(), data.clone());
    let server = task::Builder::new().name("server").spawn(async move {
        let save = async {
            i.borrow_mut().push("user:7");
            yield_point().await; // flush the log
            d.borrow_mut().insert("user:7", "Ada");
        };
        tokio::select! {
            biased;
            _ = stop_rx => {}
            () = save => {}
        }
    });
    let shutdown = task::Builder::new().name("shutdown").spawn(async move {
        yield_point().await; // receive SIGTERM
        let _ = stop_tx.send(());
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

/// The fixed twin of [`cancel_torn_write_buggy`]: a cancellation-safe `save`.
pub async fn cancel_torn_write_fixed() {
    let index = Rc::new(RefCell::new(Vec::new()));
    let data = Rc::new(RefCell::new(BTreeMap::new()));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (i, d) = (index.clone(), data.clone());
    let server = task::Builder::new().name("server").spawn(async move {
        let save = async {
            yield_point().await; // flush the log
            i.borrow_mut().push("user:7");
            d.borrow_mut().insert("user:7", "Ada");
        };
        tokio::select! {
            biased;
            _ = stop_rx => {}
            () = save => {}
        }
    });
    let shutdown = task::Builder::new().name("shutdown").spawn(async move {
        yield_point().await; // receive SIGTERM
        let _ = stop_tx.send(());
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

// ---------------------------------------------------------------------------------------
// 11. Futurelock
// ---------------------------------------------------------------------------------------

/// **Bug:** a task drives an `update` future (which locks the stats) in a `select!` loop
/// against a progress tick, and the tick branch locks the stats too. If `update` is
/// queued for the lock when the tick fires, the tick branch waits behind it; when the
/// holder releases, tokio's fair mutex hands the lock to `update`, which nobody polls
/// while the task sits in the tick branch: a futurelock (every task waits: deadlock).
///
/// **Minimal schedule (1 preemption):** FIFO runs the updater first: `update` takes the
/// free lock at once and the loop ends. Choosing the `flusher` first (it holds the lock
/// across a 250 ms flush) queues `update` behind it; the 100 ms tick branch then queues
/// behind `update`, and at 250 ms the lock goes to `update`, which is never polled again.
///
/// **Fix:** the tick branch only reports when the lock is free (`try_lock`), so it never
/// waits behind a future of its own task.
pub async fn futurelock_buggy() {
    let stats = Rc::new(Mutex::new(0u64));
    let s = stats.clone();
    let updater = task::Builder::new().name("updater").spawn(async move {
        let mut progress = Vec::new();
        let mut update = pin!(async {
            *s.lock().await += 1;
        });
        loop {
            tokio::select! {
                biased;
                () = &mut update => break,
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    progress.push(*s.lock().await); // report progress
                }
            }
        }
        progress
    });
    let s = stats.clone();
    let flusher = task::Builder::new().name("flusher").spawn(async move {
        let guard = s.lock().await;
        tokio::time::sleep(Duration::from_millis(250)).await; // flush to disk
        drop(guard);
    });
    updater.await.unwrap();
    flusher.await.unwrap();
    assert_eq!(*stats.lock().await, 1);
}

/// The fixed twin of [`futurelock_buggy`]: the tick never waits for the lock.
pub async fn futurelock_fixed() {
    let stats = Rc::new(Mutex::new(0u64));
    let s = stats.clone();
    let updater = task::Builder::new().name("updater").spawn(async move {
        let mut progress = Vec::new();
        let mut update = pin!(async {
            *s.lock().await += 1;
        });
        loop {
            tokio::select! {
                biased;
                () = &mut update => break,
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    if let Ok(stats) = s.try_lock() {
                        progress.push(*stats); // report progress, if the lock is free
                    }
                }
            }
        }
        progress
    });
    let s = stats.clone();
    let flusher = task::Builder::new().name("flusher").spawn(async move {
        let guard = s.lock().await;
        tokio::time::sleep(Duration::from_millis(250)).await; // flush to disk
        drop(guard);
    });
    updater.await.unwrap();
    flusher.await.unwrap();
    assert_eq!(*stats.lock().await, 1);
}

// ---------------------------------------------------------------------------------------
// 12. Use after close
// ---------------------------------------------------------------------------------------

/// A connection that refuses writes once closed, and refuses to close twice.
#[derive(Default)]
pub struct Conn {
    pub closed: bool,
    pub sent: Vec<&'static str>,
}

impl Conn {
    pub fn send(&mut self, frame: &'static str) {
        assert!(
            !self.closed,
            "use after close: {frame:?} was written to a closed connection"
        );
        self.sent.push(frame);
    }
    pub fn close(&mut self) {
        assert!(!self.closed, "double close: the connection was closed twice");
        self.closed = true;
    }
}

/// **Bug:** the heartbeat checks that the connection is open, awaits (builds the ping),
/// then writes; shutdown closes the connection in between: a write after close.
///
/// **Minimal schedule (1 preemption):** FIFO runs heartbeat (check, await), shutdown
/// (receive the signal), heartbeat (write), shutdown (close): fine. Choosing shutdown
/// again after its await closes the connection inside the heartbeat's window.
///
/// **Fix:** check that the connection is open right before writing, in the same step.
pub async fn use_after_close_buggy() {
    let conn = Rc::new(RefCell::new(Conn::default()));
    let c = conn.clone();
    let heartbeat = task::Builder::new().name("heartbeat").spawn(async move {
        if !c.borrow().closed {
            yield_point().await; // build the ping
            c.borrow_mut().send("ping");
        }
    });
    let c = conn.clone();
    let shutdown = task::Builder::new().name("shutdown").spawn(async move {
        yield_point().await; // receive SIGTERM
        let mut conn = c.borrow_mut();
        if !conn.closed {
            conn.close();
        }
    });
    heartbeat.await.unwrap();
    shutdown.await.unwrap();
    assert!(conn.borrow().closed);
}

/// The fixed twin of [`use_after_close_buggy`]: check and write in one step.
pub async fn use_after_close_fixed() {
    let conn = Rc::new(RefCell::new(Conn::default()));
    let c = conn.clone();
    let heartbeat = task::Builder::new().name("heartbeat").spawn(async move {
        if !c.borrow().closed {
            yield_point().await; // build the ping
            let mut conn = c.borrow_mut();
            if !conn.closed {
                conn.send("ping");
            }
        }
    });
    let c = conn.clone();
    let shutdown = task::Builder::new().name("shutdown").spawn(async move {
        yield_point().await; // receive SIGTERM
        let mut conn = c.borrow_mut();
        if !conn.closed {
            conn.close();
        }
    });
    heartbeat.await.unwrap();
    shutdown.await.unwrap();
    assert!(conn.borrow().closed);
}

// ---------------------------------------------------------------------------------------
// 13. Stale cache after invalidation
// ---------------------------------------------------------------------------------------

/// **Bug:** on a miss, a reader loads the value from the database, awaits (deserialises),
/// then stores it in the cache. An update that writes the database and invalidates the
/// cache in between is undone: the cache keeps the old value forever.
///
/// **Minimal schedule (3 preemptions):** FIFO runs reader (load, await), updater
/// (receive), reader (fill), then the updater's remaining steps (authorise, audit, write
/// and invalidate): fresh. The invalidation lands before the fill only if the updater
/// takes three steps in a row while the reader waits: three choices against FIFO.
///
/// **Fix:** a fill stores its value only if no invalidation happened since its load
/// (a generation number read with the value).
pub async fn stale_cache_buggy() {
    let db = Rc::new(Cell::new("v1"));
    let cache: Rc<RefCell<Option<&'static str>>> = Rc::new(RefCell::new(None));
    let (d, c) = (db.clone(), cache.clone());
    let reader = task::Builder::new().name("reader").spawn(async move {
        if c.borrow().is_none() {
            let value = d.get();
            yield_point().await; // deserialise
            *c.borrow_mut() = Some(value);
        }
    });
    let (d, c) = (db.clone(), cache.clone());
    let updater = task::Builder::new().name("updater").spawn(async move {
        yield_point().await; // receive the update
        yield_point().await; // authorise it
        yield_point().await; // append to the audit log
        d.set("v2");
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

/// The fixed twin of [`stale_cache_buggy`]: fills check the invalidation generation.
pub async fn stale_cache_fixed() {
    let db = Rc::new(Cell::new("v1"));
    let cache: Rc<RefCell<Option<&'static str>>> = Rc::new(RefCell::new(None));
    let generation = Rc::new(Cell::new(0u64));
    let (d, c, g) = (db.clone(), cache.clone(), generation.clone());
    let reader = task::Builder::new().name("reader").spawn(async move {
        if c.borrow().is_none() {
            let (value, seen) = (d.get(), g.get());
            yield_point().await; // deserialise
            if g.get() == seen {
                *c.borrow_mut() = Some(value);
            }
        }
    });
    let (d, c, g) = (db.clone(), cache.clone(), generation.clone());
    let updater = task::Builder::new().name("updater").spawn(async move {
        yield_point().await; // receive the update
        yield_point().await; // authorise it
        yield_point().await; // append to the audit log
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

// ---------------------------------------------------------------------------------------
// 14. ABA on a free list
// ---------------------------------------------------------------------------------------

/// A free list of buffer slots: `head` and a `next` link per slot, plus which slots are
/// handed out. `version` counts every change to `head` (used by the fix only).
pub struct FreeList {
    pub head: Option<usize>,
    pub next: [Option<usize>; 3],
    pub in_use: [bool; 3],
    pub version: u64,
}

impl FreeList {
    pub fn new() -> Self {
        // 0 -> 1 -> 2
        FreeList {
            head: Some(0),
            next: [Some(1), Some(2), None],
            in_use: [false; 3],
            version: 0,
        }
    }
    pub fn take(&mut self, slot: usize) {
        assert!(
            !self.in_use[slot],
            "ABA: slot {slot} was handed out twice (the compare-and-set saw the same head and used a stale next link)"
        );
        self.in_use[slot] = true;
    }
    /// Pops in one step (no await): the fast path of another task.
    pub fn pop_now(&mut self) -> usize {
        let slot = self.head.expect("the list is not empty");
        self.head = self.next[slot];
        self.version += 1;
        self.take(slot);
        slot
    }
    pub fn push(&mut self, slot: usize) {
        self.in_use[slot] = false;
        self.next[slot] = self.head;
        self.head = Some(slot);
        self.version += 1;
    }
}

/// **Bug:** the slow allocator reads `head` and its `next` link, awaits (checks a quota),
/// then compare-and-sets `head` from the slot it read to that `next`. Meanwhile another
/// task pops two slots and pushes the first back: `head` is the same slot again (A, then
/// B, then A), so the compare succeeds, but the saved `next` is stale and points at a
/// slot in use, which the next allocation hands out twice.
///
/// **Minimal schedule (1 preemption):** FIFO runs slow (read, await), fast (receive
/// request), slow (compare-and-set), fast (pop, pop, push): fine. Choosing fast again
/// after its await puts pop-pop-push inside the slow allocator's window.
///
/// **Fix:** compare the version (a counter bumped by every change) with the slot.
pub async fn aba_free_list_buggy() {
    let list = Rc::new(RefCell::new(FreeList::new()));
    let l = list.clone();
    let slow = task::Builder::new().name("slow alloc").spawn(async move {
        let (head, next) = {
            let l = l.borrow();
            let head = l.head.expect("the list is not empty");
            (head, l.next[head])
        };
        yield_point().await; // check the quota
        let mut l = l.borrow_mut();
        if l.head == Some(head) {
            l.head = next;
            l.version += 1;
            l.take(head);
        }
    });
    let l = list.clone();
    let fast = task::Builder::new().name("fast alloc").spawn(async move {
        yield_point().await; // receive the request
        let mut l = l.borrow_mut();
        let a = l.pop_now();
        let _b = l.pop_now();
        l.push(a); // done with the first slot already
    });
    slow.await.unwrap();
    fast.await.unwrap();
    // Later allocations take every slot still on the list: each must be free.
    let mut l = list.borrow_mut();
    while l.head.is_some() {
        l.pop_now();
    }
}

/// The fixed twin of [`aba_free_list_buggy`]: compare-and-set on (slot, version).
pub async fn aba_free_list_fixed() {
    let list = Rc::new(RefCell::new(FreeList::new()));
    let l = list.clone();
    let slow = task::Builder::new().name("slow alloc").spawn(async move {
        let (head, next, version) = {
            let l = l.borrow();
            let head = l.head.expect("the list is not empty");
            (head, l.next[head], l.version)
        };
        yield_point().await; // check the quota
        let mut l = l.borrow_mut();
        if l.head == Some(head) && l.version == version {
            l.head = next;
            l.version += 1;
            l.take(head);
        }
    });
    let l = list.clone();
    let fast = task::Builder::new().name("fast alloc").spawn(async move {
        yield_point().await; // receive the request
        let mut l = l.borrow_mut();
        let a = l.pop_now();
        let _b = l.pop_now();
        l.push(a); // done with the first slot already
    });
    slow.await.unwrap();
    fast.await.unwrap();
    // Later allocations take every slot still on the list: each must be free.
    let mut l = list.borrow_mut();
    while l.head.is_some() {
        l.pop_now();
    }
}

// ---------------------------------------------------------------------------------------
// 15. A semaphore permit leaked on an early return
// ---------------------------------------------------------------------------------------

/// Fetches `key` under a concurrency limit. The permit is `forget`-ten when taken and given
/// back by hand (`add_permits`) when the fetch completes, the way a permit is handed to a
/// completion callback. With `leak`, the early return for a duplicate request skips that.
async fn limited_fetch(
    key: &'static str,
    limiter: Rc<Semaphore>,
    in_flight: Rc<RefCell<BTreeSet<&'static str>>>,
    cache: Rc<RefCell<BTreeSet<&'static str>>>,
    leak: bool,
) {
    if cache.borrow().contains(key) {
        return; // served from the cache, no permit taken
    }
    limiter
        .acquire()
        .await
        .expect("the limiter is never closed")
        .forget();
    if in_flight.borrow().contains(key) {
        // Someone is already fetching this key: nothing to do.
        if !leak {
            limiter.add_permits(1);
        }
        return;
    }
    in_flight.borrow_mut().insert(key);
    yield_point().await; // fetch over the network
    cache.borrow_mut().insert(key);
    in_flight.borrow_mut().remove(key);
    limiter.add_permits(1);
}

async fn permit_leak(leak: bool) {
    let limiter = Rc::new(Semaphore::new(2));
    let in_flight = Rc::new(RefCell::new(BTreeSet::new()));
    let cache = Rc::new(RefCell::new(BTreeSet::new()));
    let first = task::Builder::new().name("request 1").spawn(limited_fetch(
        "avatar:7",
        limiter.clone(),
        in_flight.clone(),
        cache.clone(),
        leak,
    ));
    let (l, f, c) = (limiter.clone(), in_flight.clone(), cache.clone());
    let second = task::Builder::new().name("request 2").spawn(async move {
        yield_point().await; // parse the request
        limited_fetch("avatar:7", l, f, c, leak).await;
    });
    first.await.unwrap();
    second.await.unwrap();
    // Drain: wait until every permit is back (hangs forever if one leaked).
    let all = limiter
        .acquire_many(2)
        .await
        .expect("the limiter is never closed");
    drop(all);
}

/// **Bug:** a request for a key that another request is already fetching returns early
/// and forgets to give back the permit it took (the permit was `forget`-ten, to be
/// returned by hand on completion). The limiter shrinks by one for good; the drain that
/// waits for both permits hangs (deadlock).
///
/// **Minimal schedule (1 preemption):** FIFO runs request 1 (take a permit, mark the key
/// in flight, await), request 2 (parse), request 1 (fill the cache, give back), request 2
/// (cache hit, no permit). Choosing request 2 again after it parses, while request 1 is
/// still fetching, takes the duplicate path that leaks.
///
/// **Fix:** give the permit back on the early-return path too.
pub async fn permit_leak_buggy() {
    permit_leak(true).await;
}

/// The fixed twin of [`permit_leak_buggy`]: every path gives its permit back.
pub async fn permit_leak_fixed() {
    permit_leak(false).await;
}

// ---------------------------------------------------------------------------------------
// 16. Double close, raced by two timers due at the same instant
// ---------------------------------------------------------------------------------------

/// **Bug:** the reader (on EOF) and the idle timeout both close the connection when they
/// see it open, after awaiting a flush. Both timers are due at 30 s, so both handlers are
/// ready at once; if both check before either closes, the connection is closed twice.
///
/// **Minimal schedule (1 preemption):** the choice points come from timers due at the
/// same instant. tokio fires the reader's timer first (it was registered first), so FIFO
/// runs the reader (check, flush), the idle handler (log), the reader (close), the idle
/// handler (sees closed). Choosing the idle handler again after its
/// log, while the reader flushes, lets both pass the check.
///
/// **Fix:** claim the close in the same step as the check (a `closing` flag), so only
/// one handler flushes and closes.
pub async fn double_close_buggy() {
    let conn = Rc::new(RefCell::new(Conn::default()));
    let c = conn.clone();
    let reader = task::Builder::new().name("reader").spawn(async move {
        tokio::time::sleep(Duration::from_secs(30)).await; // the peer hangs up at 30 s
        if !c.borrow().closed {
            yield_point().await; // flush what is buffered
            c.borrow_mut().close();
        }
    });
    let c = conn.clone();
    let idle = task::Builder::new().name("idle timeout").spawn(async move {
        tokio::time::sleep(Duration::from_secs(30)).await; // 30 s without a request
        yield_point().await; // log the idle close
        if !c.borrow().closed {
            yield_point().await; // flush what is buffered
            c.borrow_mut().close();
        }
    });
    reader.await.unwrap();
    idle.await.unwrap();
    assert!(conn.borrow().closed);
}

/// The fixed twin of [`double_close_buggy`]: check and claim in one step.
pub async fn double_close_fixed() {
    let conn = Rc::new(RefCell::new(Conn::default()));
    let closing = Rc::new(Cell::new(false));
    let (c, claim) = (conn.clone(), closing.clone());
    let reader = task::Builder::new().name("reader").spawn(async move {
        tokio::time::sleep(Duration::from_secs(30)).await; // the peer hangs up at 30 s
        if !claim.replace(true) {
            yield_point().await; // flush what is buffered
            c.borrow_mut().close();
        }
    });
    let (c, claim) = (conn.clone(), closing.clone());
    let idle = task::Builder::new().name("idle timeout").spawn(async move {
        tokio::time::sleep(Duration::from_secs(30)).await; // 30 s without a request
        yield_point().await; // log the idle close
        if !claim.replace(true) {
            yield_point().await; // flush what is buffered
            c.borrow_mut().close();
        }
    });
    reader.await.unwrap();
    idle.await.unwrap();
    assert!(conn.borrow().closed);
}

// ---------------------------------------------------------------------------------------
// 17. Readiness polled a fixed number of times
// ---------------------------------------------------------------------------------------

/// How many times the client of program 17 polls before it gives up.
pub const READY_POLLS: u32 = 6;

/// **Bug:** the client checks a `ready` flag, yields, and checks again, at most
/// `READY_POLLS` times, then gives up: it assumes the server (bind, load, then ready: three
/// steps) starts within that many of the client's own steps. That holds when the two
/// alternate and fails when the client runs ahead. The pattern is a classic of flaky
/// async tests (`for _ in 0..n { yield_now().await }` as a wait).
///
/// **Minimal schedule (5 preemptions):** FIFO alternates, so the server is ready by the
/// client's third check. The client gives up at its seventh check, which comes before
/// the server's third step only if the client is chosen over the ready server five
/// times. PCT with depth 1 finds it whenever the client has the higher priority.
///
/// **Fix:** the client waits for a readiness signal (a `watch` channel) instead of
/// counting polls.
pub async fn readiness_polling_buggy() {
    let ready = Rc::new(Cell::new(false));
    let r = ready.clone();
    let server = task::Builder::new().name("server").spawn(async move {
        yield_point().await; // bind the socket
        yield_point().await; // load the routes
        r.set(true);
    });
    let r = ready.clone();
    let client = task::Builder::new().name("client").spawn(async move {
        let mut polls = 0;
        while !r.get() {
            polls += 1;
            assert!(
                polls <= READY_POLLS,
                "not ready: the client gave up after {READY_POLLS} polls although the server was starting"
            );
            yield_point().await; // poll again
        }
    });
    server.await.unwrap();
    client.await.unwrap();
}

/// The fixed twin of [`readiness_polling_buggy`]: wait for the signal, do not count.
pub async fn readiness_polling_fixed() {
    let (tx, mut rx) = watch::channel(false);
    let server = task::Builder::new().name("server").spawn(async move {
        yield_point().await; // bind the socket
        yield_point().await; // load the routes
        tx.send_replace(true);
    });
    let client = task::Builder::new().name("client").spawn(async move {
        rx.wait_for(|ready| *ready)
            .await
            .expect("the server signals before it ends");
    });
    server.await.unwrap();
    client.await.unwrap();
}
