//! The kit's bug corpus (`tests/corpus/mod.rs` at the workspace root), ported to tasks
//! started with `tokio::spawn`, spelled as code under test spells it.
//!
//! Same programs, same steps, same bugs and the same assertion messages; each program's
//! description (name, `min_preemptions`, failure kind, symptom, note) is the kit corpus's
//! own, taken from it by name in [`all`], so the two cannot drift apart. Only what
//! `tokio::spawn` asks for changes: its futures must be `Send`, so state shared between
//! tasks is an `Arc` of an atomic or a `std::sync::Mutex` instead of an `Rc` of a `Cell` or
//! a `RefCell` (neither is a scheduling point: a std lock is never held across an await
//! here, as an uncontended `RefCell` borrow never was), and `Rc` becomes `Arc` around
//! tokio's own `Mutex`, `Notify`, `Semaphore` and `OnceCell`. Tasks lose their names
//! (`tokio::spawn` takes none). Where a buggy body and its fixed twin share all but a step,
//! the shared part is one helper here (the kit corpus writes each twin out in full); the
//! tasks, their order of spawning and their steps are the same.
//!
//! Awaits that stand for I/O, `async_testkit::yield_point()` in the kit corpus, are
//! `tokio::task::yield_now()` here, as code under test writes them: the programs make no
//! call of the kit's. Inside a run a kit task's `yield_now` is a choice point as
//! `yield_point` is, but the default order resumes it as tokio does (once no other task is
//! ready, the newest yield first), where `yield_point` is an immediate wake: ten of the bugs
//! need fewer preemptions here, seven none (`tokio_order_min_preemptions`), as on a plain
//! tokio runtime. The trace only lacks the yield's location.
//!
//! Every program ports faithfully: none of them needs a `!Send` value across an await.

// Shared by several targets, each of which uses only part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::{Mutex, Notify, OnceCell, Semaphore, mpsc, oneshot, watch};

// The kit corpus: the programs' descriptions and the plain data their tasks share.
#[path = "../../../tests/corpus/mod.rs"]
mod kit;

pub use kit::Program;
use kit::{Config, Conn, FreeList, LATE_RECORD, Pool, READY_POLLS, RECORDS, RING_CAPACITY, SAMPLES};

type Body = fn() -> Pin<Box<dyn Future<Output = ()>>>;

macro_rules! ports {
    ($($name:ident: $buggy:ident, $fixed:ident;)*) => {
        /// The port of the kit program `name`: its buggy body and its fixed twin.
        fn port(name: &str) -> Option<(Body, Body)> {
            match name {
                $(stringify!($name) => Some((|| Box::pin($buggy()), || Box::pin($fixed()))),)*
                _ => None,
            }
        }
    };
}

ports! {
    lost_update: lost_update_buggy, lost_update_fixed;
    double_init: double_init_buggy, double_init_fixed;
    use_before_init: use_before_init_buggy, use_before_init_fixed;
    lock_order_deadlock: lock_order_deadlock_buggy, lock_order_deadlock_fixed;
    lost_wakeup: lost_wakeup_buggy, lost_wakeup_fixed;
    message_reordering: message_reordering_buggy, message_reordering_fixed;
    torn_read: torn_read_buggy, torn_read_fixed;
    run_ahead_overflow: run_ahead_overflow_buggy, run_ahead_overflow_fixed;
    late_window: late_window_buggy, late_window_fixed;
    cancel_torn_write: cancel_torn_write_buggy, cancel_torn_write_fixed;
    futurelock: futurelock_buggy, futurelock_fixed;
    use_after_close: use_after_close_buggy, use_after_close_fixed;
    stale_cache: stale_cache_buggy, stale_cache_fixed;
    aba_free_list: aba_free_list_buggy, aba_free_list_fixed;
    permit_leak: permit_leak_buggy, permit_leak_fixed;
    double_close: double_close_buggy, double_close_fixed;
    readiness_polling: readiness_polling_buggy, readiness_polling_fixed;
}

/// The fewest preemptions a bug needs here, where it differs from the kit corpus: a
/// `tokio::task::yield_now()` keeps tokio's order (the task runs again once no other task
/// is ready, the newest yield first), where the kit's `yield_point` is an immediate wake.
/// Seven of the bugs then happen in tokio's own order, as on a plain tokio runtime
/// (`tokio_s_own_runtime_fails_exactly_the_programs_that_need_no_preemption`).
fn tokio_order_min_preemptions(name: &str) -> Option<u32> {
    match name {
        "lost_update" | "lost_wakeup" | "cancel_torn_write" | "use_after_close" | "aba_free_list"
        | "permit_leak" | "double_close" => Some(0),
        "message_reordering" | "torn_read" => Some(1),
        "stale_cache" => Some(2),
        _ => None,
    }
}

/// Every program of the kit corpus, in its order, with the bodies ported here.
///
/// # Panics
///
/// If a program of the kit corpus has no port.
pub fn all() -> Vec<Program> {
    kit::all()
        .into_iter()
        .map(|p| {
            let (buggy, fixed) = port(p.name).unwrap_or_else(|| panic!("{}: no tokio::spawn port", p.name));
            let min_preemptions = tokio_order_min_preemptions(p.name).unwrap_or(p.min_preemptions);
            Program {
                buggy,
                fixed,
                min_preemptions,
                ..p
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. Lost update
// ---------------------------------------------------------------------------------------

/// Port of the kit's `lost_update_buggy`: read, await, write back.
pub async fn lost_update_buggy() {
    let balance = Arc::new(AtomicI64::new(100));
    let b = balance.clone();
    let interest = tokio::spawn(async move {
        let current = b.load(SeqCst);
        tokio::task::yield_now().await; // look up today's rate
        b.store(current + current / 10, SeqCst);
    });
    let b = balance.clone();
    let deposit = tokio::spawn(async move {
        tokio::task::yield_now().await; // receive the deposit request
        b.fetch_add(50, SeqCst);
    });
    interest.await.unwrap();
    deposit.await.unwrap();
    let end = balance.load(SeqCst);
    assert!(
        end == 160 || end == 165,
        "lost update: the balance is {end}, but interest-then-deposit gives 160 and deposit-then-interest 165"
    );
}

/// Port of the kit's `lost_update_fixed`: the read-modify-write holds the lock.
pub async fn lost_update_fixed() {
    let balance = Arc::new(Mutex::new(100));
    let b = balance.clone();
    let interest = tokio::spawn(async move {
        let mut guard = b.lock().await;
        let current = *guard;
        tokio::task::yield_now().await; // look up today's rate
        *guard = current + current / 10;
    });
    let b = balance.clone();
    let deposit = tokio::spawn(async move {
        tokio::task::yield_now().await; // receive the deposit request
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

type SharedPool = Arc<StdMutex<Option<Arc<Pool>>>>;

/// Program 2 around its request: two requests that each need the pool, the second
/// arriving one step later; `request` counts its connects in the counter it is given.
async fn double_init<R, F>(request: R)
where
    R: Fn(Arc<AtomicU32>) -> F,
    F: Future<Output = u32> + Send + 'static,
{
    let connects = Arc::new(AtomicU32::new(0));
    let first = tokio::spawn(request(connects.clone()));
    tokio::task::yield_now().await; // the second request arrives a moment later
    let second = tokio::spawn(request(connects.clone()));
    let (a, b) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(
        connects.load(SeqCst),
        1,
        "double initialisation: the pool was opened {} times (the requests got pools {a} and {b}); both saw no pool before either stored one",
        connects.load(SeqCst)
    );
}

/// Port of the kit's `double_init_buggy`: check, await the connection, store.
pub async fn double_init_buggy() {
    let pool: SharedPool = Arc::default();
    double_init(move |connects| {
        let pool = pool.clone();
        async move {
            let existing = pool.lock().unwrap().clone();
            let p = match existing {
                Some(p) => p,
                None => {
                    tokio::task::yield_now().await; // connect to the database
                    let id = connects.fetch_add(1, SeqCst) + 1;
                    let p = Arc::new(Pool { id });
                    *pool.lock().unwrap() = Some(p.clone());
                    p
                }
            };
            p.id
        }
    })
    .await;
}

/// Port of the kit's `double_init_fixed`: initialisation through a `OnceCell`.
pub async fn double_init_fixed() {
    let pool: Arc<OnceCell<Arc<Pool>>> = Arc::default();
    double_init(move |connects| {
        let pool = pool.clone();
        async move {
            let p = pool
                .get_or_init(|| async {
                    tokio::task::yield_now().await; // connect to the database
                    let id = connects.fetch_add(1, SeqCst) + 1;
                    Arc::new(Pool { id })
                })
                .await
                .clone();
            p.id
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 3. Use before initialisation
// ---------------------------------------------------------------------------------------

/// Port of the kit's `use_before_init_buggy`: the handler reads whatever config is there.
pub async fn use_before_init_buggy() {
    let config: Arc<StdMutex<Option<Config>>> = Arc::new(StdMutex::new(None));
    let c = config.clone();
    let loader = tokio::spawn(async move {
        tokio::task::yield_now().await; // open the file
        tokio::task::yield_now().await; // read it
        *c.lock().unwrap() = Some(Config { max_body: 1024 });
    });
    let c = config.clone();
    let handler = tokio::spawn(async move {
        tokio::task::yield_now().await; // accept a request
        let cfg = c.lock().unwrap().clone().unwrap_or_default();
        assert!(
            cfg.max_body > 0,
            "use before initialisation: the handler read the default config ({cfg:?}) before the loader published it"
        );
    });
    loader.await.unwrap();
    handler.await.unwrap();
}

/// Port of the kit's `use_before_init_fixed`: the handler waits for the config.
pub async fn use_before_init_fixed() {
    let (tx, mut rx) = watch::channel::<Option<Config>>(None);
    let loader = tokio::spawn(async move {
        tokio::task::yield_now().await; // open the file
        tokio::task::yield_now().await; // read it
        tx.send_replace(Some(Config { max_body: 1024 }));
    });
    let handler = tokio::spawn(async move {
        tokio::task::yield_now().await; // accept a request
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

type Account = Arc<Mutex<i64>>;

/// Program 4 around its transfer: two transfers between accounts 1 and 2 in opposite
/// directions, the second requested one step after the first.
async fn lock_order_deadlock<T, F>(transfer: T)
where
    T: Fn((u32, Account), (u32, Account), i64) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let a: Account = Arc::new(Mutex::new(100));
    let b: Account = Arc::new(Mutex::new(100));
    let t1 = tokio::spawn(transfer((1, a.clone()), (2, b.clone()), 10));
    tokio::task::yield_now().await; // the second request arrives a moment later
    let t2 = tokio::spawn(transfer((2, b.clone()), (1, a.clone()), 20));
    t1.await.unwrap();
    t2.await.unwrap();
    assert_eq!(
        *a.lock().await + *b.lock().await,
        200,
        "money was created or destroyed"
    );
}

/// Port of the kit's `lock_order_deadlock_buggy`: each transfer locks its source first.
pub async fn lock_order_deadlock_buggy() {
    async fn transfer(from: (u32, Account), to: (u32, Account), amount: i64) {
        let mut f = from.1.lock().await;
        tokio::task::yield_now().await; // fraud check
        let mut t = to.1.lock().await;
        *f -= amount;
        *t += amount;
    }
    lock_order_deadlock(transfer).await;
}

/// Port of the kit's `lock_order_deadlock_fixed`: locks taken in account order.
pub async fn lock_order_deadlock_fixed() {
    async fn transfer(from: (u32, Account), to: (u32, Account), amount: i64) {
        // Lock the lower account number first, whichever way the money goes.
        let (first, second) = if from.0 < to.0 {
            (&from.1, &to.1)
        } else {
            (&to.1, &from.1)
        };
        let mut g1 = first.lock().await;
        tokio::task::yield_now().await; // fraud check
        let mut g2 = second.lock().await;
        let (f, t) = if from.0 < to.0 {
            (&mut *g1, &mut *g2)
        } else {
            (&mut *g2, &mut *g1)
        };
        *f -= amount;
        *t += amount;
    }
    lock_order_deadlock(transfer).await;
}

// ---------------------------------------------------------------------------------------
// 5. Lost wake-up
// ---------------------------------------------------------------------------------------

/// Program 5 around its waiter: a worker sets `done` and wakes the waiters present.
async fn lost_wakeup<W, F>(waiter: W)
where
    W: FnOnce(Arc<AtomicBool>, Arc<Notify>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let done = Arc::new(AtomicBool::new(false));
    let notify = Arc::new(Notify::new());
    let waiter = tokio::spawn(waiter(done.clone(), notify.clone()));
    let (d, n) = (done.clone(), notify.clone());
    let worker = tokio::spawn(async move {
        tokio::task::yield_now().await; // do the work
        d.store(true, SeqCst);
        n.notify_waiters();
    });
    waiter.await.unwrap();
    worker.await.unwrap();
}

/// Port of the kit's `lost_wakeup_buggy`: the waiter registers after its check.
pub async fn lost_wakeup_buggy() {
    lost_wakeup(|d, n| async move {
        while !d.load(SeqCst) {
            tokio::task::yield_now().await; // report progress
            n.notified().await;
        }
    })
    .await;
}

/// Port of the kit's `lost_wakeup_fixed`: register before checking.
pub async fn lost_wakeup_fixed() {
    lost_wakeup(|d, n| async move {
        loop {
            let mut notified = pin!(n.notified());
            notified.as_mut().enable();
            if d.load(SeqCst) {
                break;
            }
            tokio::task::yield_now().await; // report progress
            notified.await;
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 6. Reordered messages from two producers
// ---------------------------------------------------------------------------------------

type Table = Arc<StdMutex<BTreeMap<&'static str, u32>>>;
type Sender = mpsc::UnboundedSender<(&'static str, u32)>;

/// Program 6 around writer 1: two writers update key `k` on the primary and send the new
/// value to a replica, which applies the messages in arrival order.
async fn message_reordering<W, F>(writer_1: W)
where
    W: FnOnce(Table, Sender) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let primary: Table = Arc::new(StdMutex::new(BTreeMap::new()));
    let (tx, mut rx) = mpsc::unbounded_channel::<(&'static str, u32)>();
    let w1 = tokio::spawn(writer_1(primary.clone(), tx.clone()));
    let (p, t) = (primary.clone(), tx);
    let w2 = tokio::spawn(async move {
        tokio::task::yield_now().await; // receive the request
        tokio::task::yield_now().await; // authenticate the client
        p.lock().unwrap().insert("k", 2);
        t.send(("k", 2)).unwrap();
    });
    let replica = tokio::spawn(async move {
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
        *primary.lock().unwrap(),
        "reordered messages: the replica applied the writes of key k in a different order than the primary"
    );
}

/// Port of the kit's `message_reordering_buggy`: write, await, send.
pub async fn message_reordering_buggy() {
    message_reordering(|p, t| async move {
        p.lock().unwrap().insert("k", 1);
        tokio::task::yield_now().await; // encode the change
        t.send(("k", 1)).unwrap();
    })
    .await;
}

/// Port of the kit's `message_reordering_fixed`: write and send in one step.
pub async fn message_reordering_fixed() {
    message_reordering(|p, t| async move {
        tokio::task::yield_now().await; // encode the change
        p.lock().unwrap().insert("k", 1);
        t.send(("k", 1)).unwrap();
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 7. Torn read of a two-step update
// ---------------------------------------------------------------------------------------

/// The auditor of program 7: checks that no money is missing.
fn auditor(a: Arc<AtomicI64>, b: Arc<AtomicI64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::task::yield_now().await; // the audit timer fires
        tokio::task::yield_now().await; // load the audit rules
        let total = a.load(SeqCst) + b.load(SeqCst);
        assert_eq!(
            total, 200,
            "torn read: the auditor saw a + b = {total} in the middle of a transfer (debited, not yet credited)"
        );
    })
}

/// Port of the kit's `torn_read_buggy`: debit, await, credit.
pub async fn torn_read_buggy() {
    let a = Arc::new(AtomicI64::new(100));
    let b = Arc::new(AtomicI64::new(100));
    let (a1, b1) = (a.clone(), b.clone());
    let transfer = tokio::spawn(async move {
        a1.fetch_sub(30, SeqCst);
        tokio::task::yield_now().await; // write the journal
        b1.fetch_add(30, SeqCst);
    });
    let auditor = auditor(a, b);
    transfer.await.unwrap();
    auditor.await.unwrap();
}

/// Port of the kit's `torn_read_fixed`: debit and credit in one step.
pub async fn torn_read_fixed() {
    let a = Arc::new(AtomicI64::new(100));
    let b = Arc::new(AtomicI64::new(100));
    let (a1, b1) = (a.clone(), b.clone());
    let transfer = tokio::spawn(async move {
        tokio::task::yield_now().await; // write the journal
        a1.fetch_sub(30, SeqCst);
        b1.fetch_add(30, SeqCst);
    });
    let auditor = auditor(a, b);
    transfer.await.unwrap();
    auditor.await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 8. A producer that must run far ahead
// ---------------------------------------------------------------------------------------

type Ring = Arc<StdMutex<VecDeque<u32>>>;

/// The exporter of program 8: drains the ring at each notification and checks it saw
/// every sequence number; `room` (the fix) is told of each reading drained.
fn exporter(ring: Ring, wake: Arc<Notify>, room: Option<Arc<Notify>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut next = 0;
        while next < SAMPLES {
            wake.notified().await;
            loop {
                let Some(seq) = ring.lock().unwrap().pop_front() else {
                    break;
                };
                assert_eq!(
                    seq, next,
                    "run-ahead overflow: the sampler got {RING_CAPACITY} readings ahead and the ring dropped reading {next}"
                );
                next += 1;
                if let Some(room) = &room {
                    room.notify_one();
                }
            }
        }
    })
}

/// Port of the kit's `run_ahead_overflow_buggy`: a full ring drops its oldest reading.
pub async fn run_ahead_overflow_buggy() {
    let ring: Ring = Arc::new(StdMutex::new(VecDeque::with_capacity(RING_CAPACITY)));
    let wake = Arc::new(Notify::new());
    let (r, w) = (ring.clone(), wake.clone());
    let sampler = tokio::spawn(async move {
        for seq in 0..SAMPLES {
            {
                let mut ring = r.lock().unwrap();
                if ring.len() == RING_CAPACITY {
                    ring.pop_front(); // "the exporter is always faster"
                }
                ring.push_back(seq);
            }
            w.notify_one();
            tokio::task::yield_now().await; // the next sampling interval
        }
    });
    let exporter = exporter(ring, wake, None);
    sampler.await.unwrap();
    exporter.await.unwrap();
}

/// Port of the kit's `run_ahead_overflow_fixed`: backpressure instead of dropping.
pub async fn run_ahead_overflow_fixed() {
    let ring: Ring = Arc::new(StdMutex::new(VecDeque::with_capacity(RING_CAPACITY)));
    let wake = Arc::new(Notify::new());
    let room = Arc::new(Notify::new());
    let (r, w, m) = (ring.clone(), wake.clone(), room.clone());
    let sampler = tokio::spawn(async move {
        for seq in 0..SAMPLES {
            while r.lock().unwrap().len() == RING_CAPACITY {
                m.notified().await; // wait for the exporter to make room
            }
            r.lock().unwrap().push_back(seq);
            w.notify_one();
            tokio::task::yield_now().await; // the next sampling interval
        }
    });
    let exporter = exporter(ring, wake, Some(room));
    sampler.await.unwrap();
    exporter.await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 9. Uneven task lengths: a late window
// ---------------------------------------------------------------------------------------

type Rows = Arc<StdMutex<BTreeMap<usize, String>>>;

/// The old table of program 9, full, and the new one, empty.
fn tables() -> (Rows, Rows) {
    let old = (0..RECORDS).map(|i| (i, format!("row {i}"))).collect();
    (
        Arc::new(StdMutex::new(old)),
        Arc::new(StdMutex::new(BTreeMap::new())),
    )
}

/// The lookup of program 9: the new table, then the old.
fn lookup(old: Rows, new: Rows) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let found = new
            .lock()
            .unwrap()
            .get(&LATE_RECORD)
            .or(old.lock().unwrap().get(&LATE_RECORD))
            .cloned();
        assert!(
            found.is_some(),
            "late window: record {LATE_RECORD} was in neither table while the migration moved it"
        );
    })
}

/// Port of the kit's `late_window_buggy`: remove, await, insert.
pub async fn late_window_buggy() {
    let (old, new) = tables();
    let (o, n) = (old.clone(), new.clone());
    let migration = tokio::spawn(async move {
        for id in 0..RECORDS {
            let row = o.lock().unwrap().remove(&id).expect("each record is moved once");
            tokio::task::yield_now().await; // copy the row
            n.lock().unwrap().insert(id, row);
        }
    });
    let lookup = lookup(old, new);
    migration.await.unwrap();
    lookup.await.unwrap();
}

/// Port of the kit's `late_window_fixed`: copy, then delete.
pub async fn late_window_fixed() {
    let (old, new) = tables();
    let (o, n) = (old.clone(), new.clone());
    let migration = tokio::spawn(async move {
        for id in 0..RECORDS {
            let row = o
                .lock()
                .unwrap()
                .get(&id)
                .cloned()
                .expect("each record is moved once");
            tokio::task::yield_now().await; // copy the row
            n.lock().unwrap().insert(id, row);
            o.lock().unwrap().remove(&id);
        }
    });
    let lookup = lookup(old, new);
    migration.await.unwrap();
    lookup.await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 10. An update torn by cancellation
// ---------------------------------------------------------------------------------------

type Index = Arc<StdMutex<Vec<&'static str>>>;
type Data = Arc<StdMutex<BTreeMap<&'static str, &'static str>>>;

/// Program 10 around its `save`: the server races `save` against shutdown in a
/// `select!`, and the body checks that every indexed key has its data.
async fn cancel_torn_write<S, F>(save: S)
where
    S: FnOnce(Index, Data) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let index: Index = Arc::new(StdMutex::new(Vec::new()));
    let data: Data = Arc::new(StdMutex::new(BTreeMap::new()));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let save = save(index.clone(), data.clone());
    let server = tokio::spawn(async move {
        tokio::select! {
            biased;
            _ = stop_rx => {}
            () = save => {}
        }
    });
    let shutdown = tokio::spawn(async move {
        tokio::task::yield_now().await; // receive SIGTERM
        let _ = stop_tx.send(());
    });
    server.await.unwrap();
    shutdown.await.unwrap();
    for key in index.lock().unwrap().iter() {
        assert!(
            data.lock().unwrap().contains_key(key),
            "torn by cancellation: the index lists {key:?} but its data was never written (select! dropped the save between its writes)"
        );
    }
}

/// Port of the kit's `cancel_torn_write_buggy`: `save` writes, awaits, writes.
pub async fn cancel_torn_write_buggy() {
    cancel_torn_write(|i, d| async move {
        i.lock().unwrap().push("user:7");
        tokio::task::yield_now().await; // flush the log
        d.lock().unwrap().insert("user:7", "Ada");
    })
    .await;
}

/// Port of the kit's `cancel_torn_write_fixed`: a cancellation-safe `save`.
pub async fn cancel_torn_write_fixed() {
    cancel_torn_write(|i, d| async move {
        tokio::task::yield_now().await; // flush the log
        i.lock().unwrap().push("user:7");
        d.lock().unwrap().insert("user:7", "Ada");
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 11. Futurelock
// ---------------------------------------------------------------------------------------

/// Program 11 around its tick branch: an updater drives `update` in a `select!` loop
/// against a 100 ms tick, while a flusher holds the lock for 250 ms.
async fn futurelock<T, F>(tick: T)
where
    T: Fn(Arc<Mutex<u64>>) -> F + Send + 'static,
    F: Future<Output = Option<u64>> + Send,
{
    let stats = Arc::new(Mutex::new(0u64));
    let s = stats.clone();
    let updater = tokio::spawn(async move {
        let mut progress = Vec::new();
        let mut update = pin!(async {
            *s.lock().await += 1;
        });
        loop {
            tokio::select! {
                biased;
                () = &mut update => break,
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    progress.extend(tick(s.clone()).await); // report progress
                }
            }
        }
        progress
    });
    let s = stats.clone();
    let flusher = tokio::spawn(async move {
        let guard = s.lock().await;
        tokio::time::sleep(Duration::from_millis(250)).await; // flush to disk
        drop(guard);
    });
    updater.await.unwrap();
    flusher.await.unwrap();
    assert_eq!(*stats.lock().await, 1);
}

/// Port of the kit's `futurelock_buggy`: the tick branch waits for the lock.
pub async fn futurelock_buggy() {
    futurelock(|s| async move { Some(*s.lock().await) }).await;
}

/// Port of the kit's `futurelock_fixed`: the tick never waits for the lock.
pub async fn futurelock_fixed() {
    futurelock(|s| async move { s.try_lock().ok().map(|stats| *stats) }).await;
}

// ---------------------------------------------------------------------------------------
// 12. Use after close
// ---------------------------------------------------------------------------------------

type SharedConn = Arc<StdMutex<Conn>>;

/// Program 12 around its write: the heartbeat checks the connection is open, awaits, and
/// calls `write`; shutdown closes the connection after receiving its signal.
async fn use_after_close(write: fn(&mut Conn)) {
    let conn: SharedConn = Arc::default();
    let c = conn.clone();
    let heartbeat = tokio::spawn(async move {
        if !c.lock().unwrap().closed {
            tokio::task::yield_now().await; // build the ping
            write(&mut c.lock().unwrap());
        }
    });
    let c = conn.clone();
    let shutdown = tokio::spawn(async move {
        tokio::task::yield_now().await; // receive SIGTERM
        let mut conn = c.lock().unwrap();
        if !conn.closed {
            conn.close();
        }
    });
    heartbeat.await.unwrap();
    shutdown.await.unwrap();
    assert!(conn.lock().unwrap().closed);
}

/// Port of the kit's `use_after_close_buggy`: write without checking again.
pub async fn use_after_close_buggy() {
    use_after_close(|conn| conn.send("ping")).await;
}

/// Port of the kit's `use_after_close_fixed`: check and write in one step.
pub async fn use_after_close_fixed() {
    use_after_close(|conn| {
        if !conn.closed {
            conn.send("ping");
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// 13. Stale cache after invalidation
// ---------------------------------------------------------------------------------------

/// Program 13 with or without the fix (`generations`): a reader fills the cache on a
/// miss, an updater writes the database and invalidates the cache three steps later.
async fn stale_cache(generations: bool) {
    let db = Arc::new(StdMutex::new("v1"));
    let cache: Arc<StdMutex<Option<&'static str>>> = Arc::default();
    let generation = Arc::new(AtomicU64::new(0));
    let (d, c, g) = (db.clone(), cache.clone(), generation.clone());
    let reader = tokio::spawn(async move {
        if c.lock().unwrap().is_none() {
            let (value, seen) = (*d.lock().unwrap(), g.load(SeqCst));
            tokio::task::yield_now().await; // deserialise
            if !generations || g.load(SeqCst) == seen {
                *c.lock().unwrap() = Some(value);
            }
        }
    });
    let (d, c, g) = (db.clone(), cache.clone(), generation.clone());
    let updater = tokio::spawn(async move {
        tokio::task::yield_now().await; // receive the update
        tokio::task::yield_now().await; // authorise it
        tokio::task::yield_now().await; // append to the audit log
        *d.lock().unwrap() = "v2";
        g.fetch_add(1, SeqCst);
        c.lock().unwrap().take(); // invalidate
    });
    reader.await.unwrap();
    updater.await.unwrap();
    let cached = *cache.lock().unwrap();
    if let Some(cached) = cached {
        let current = *db.lock().unwrap();
        assert_eq!(
            cached, current,
            "stale cache: the cache holds {cached:?} after the update to {current:?} invalidated it"
        );
    }
}

/// Port of the kit's `stale_cache_buggy`: a fill stores what it read, whatever happened.
pub async fn stale_cache_buggy() {
    stale_cache(false).await;
}

/// Port of the kit's `stale_cache_fixed`: fills check the invalidation generation.
pub async fn stale_cache_fixed() {
    stale_cache(true).await;
}

// ---------------------------------------------------------------------------------------
// 14. ABA on a free list
// ---------------------------------------------------------------------------------------

/// Program 14 with or without the fix (`versioned`): a slow allocator compare-and-sets
/// the head across an await while a fast one pops twice and pushes back.
async fn aba_free_list(versioned: bool) {
    let list = Arc::new(StdMutex::new(FreeList::new()));
    let l = list.clone();
    let slow = tokio::spawn(async move {
        let (head, next, version) = {
            let l = l.lock().unwrap();
            let head = l.head.expect("the list is not empty");
            (head, l.next[head], l.version)
        };
        tokio::task::yield_now().await; // check the quota
        let mut l = l.lock().unwrap();
        if l.head == Some(head) && (!versioned || l.version == version) {
            l.head = next;
            l.version += 1;
            l.take(head);
        }
    });
    let l = list.clone();
    let fast = tokio::spawn(async move {
        tokio::task::yield_now().await; // receive the request
        let mut l = l.lock().unwrap();
        let a = l.pop_now();
        let _b = l.pop_now();
        l.push(a); // done with the first slot already
    });
    slow.await.unwrap();
    fast.await.unwrap();
    // Later allocations take every slot still on the list: each must be free.
    let mut l = list.lock().unwrap();
    while l.head.is_some() {
        l.pop_now();
    }
}

/// Port of the kit's `aba_free_list_buggy`: compare-and-set on the head slot alone.
pub async fn aba_free_list_buggy() {
    aba_free_list(false).await;
}

/// Port of the kit's `aba_free_list_fixed`: compare-and-set on (slot, version).
pub async fn aba_free_list_fixed() {
    aba_free_list(true).await;
}

// ---------------------------------------------------------------------------------------
// 15. A semaphore permit leaked on an early return
// ---------------------------------------------------------------------------------------

type Keys = Arc<StdMutex<BTreeSet<&'static str>>>;

/// Port of the kit's `limited_fetch`: fetches `key` under a concurrency limit, the
/// permit given back by hand; with `leak`, not on the early return for a duplicate.
async fn limited_fetch(key: &'static str, limiter: Arc<Semaphore>, in_flight: Keys, cache: Keys, leak: bool) {
    if cache.lock().unwrap().contains(key) {
        return; // served from the cache, no permit taken
    }
    limiter
        .acquire()
        .await
        .expect("the limiter is never closed")
        .forget();
    if in_flight.lock().unwrap().contains(key) {
        // Someone is already fetching this key: nothing to do.
        if !leak {
            limiter.add_permits(1);
        }
        return;
    }
    in_flight.lock().unwrap().insert(key);
    tokio::task::yield_now().await; // fetch over the network
    cache.lock().unwrap().insert(key);
    in_flight.lock().unwrap().remove(key);
    limiter.add_permits(1);
}

async fn permit_leak(leak: bool) {
    let limiter = Arc::new(Semaphore::new(2));
    let in_flight: Keys = Arc::default();
    let cache: Keys = Arc::default();
    let first = tokio::spawn(limited_fetch(
        "avatar:7",
        limiter.clone(),
        in_flight.clone(),
        cache.clone(),
        leak,
    ));
    let (l, f, c) = (limiter.clone(), in_flight.clone(), cache.clone());
    let second = tokio::spawn(async move {
        tokio::task::yield_now().await; // parse the request
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

/// Port of the kit's `permit_leak_buggy`: the duplicate's early return keeps its permit.
pub async fn permit_leak_buggy() {
    permit_leak(true).await;
}

/// Port of the kit's `permit_leak_fixed`: every path gives its permit back.
pub async fn permit_leak_fixed() {
    permit_leak(false).await;
}

// ---------------------------------------------------------------------------------------
// 16. Double close, raced by two timers due at the same instant
// ---------------------------------------------------------------------------------------

/// Program 16 with or without the fix (`claim`): the reader (on EOF) and the idle
/// timeout, both due at 30 s, close the connection if they see it open, after a flush.
async fn double_close(claim: bool) {
    let conn: SharedConn = Arc::default();
    let closing = Arc::new(AtomicBool::new(false));
    // Whether this handler should flush and close: the connection is open (the bug), or
    // this handler claimed the close first, in the same step (the fix).
    let should_close = move |conn: &SharedConn, closing: &AtomicBool| {
        if claim {
            !closing.swap(true, SeqCst)
        } else {
            !conn.lock().unwrap().closed
        }
    };
    let (c, flag) = (conn.clone(), closing.clone());
    let reader = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(30)).await; // the peer hangs up at 30 s
        if should_close(&c, &flag) {
            tokio::task::yield_now().await; // flush what is buffered
            c.lock().unwrap().close();
        }
    });
    let (c, flag) = (conn.clone(), closing.clone());
    let idle = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(30)).await; // 30 s without a request
        tokio::task::yield_now().await; // log the idle close
        if should_close(&c, &flag) {
            tokio::task::yield_now().await; // flush what is buffered
            c.lock().unwrap().close();
        }
    });
    reader.await.unwrap();
    idle.await.unwrap();
    assert!(conn.lock().unwrap().closed);
}

/// Port of the kit's `double_close_buggy`: check, flush, close.
pub async fn double_close_buggy() {
    double_close(false).await;
}

/// Port of the kit's `double_close_fixed`: check and claim in one step.
pub async fn double_close_fixed() {
    double_close(true).await;
}

// ---------------------------------------------------------------------------------------
// 17. Readiness polled a fixed number of times
// ---------------------------------------------------------------------------------------

/// Port of the kit's `readiness_polling_buggy`: the client counts its polls.
pub async fn readiness_polling_buggy() {
    let ready = Arc::new(AtomicBool::new(false));
    let r = ready.clone();
    let server = tokio::spawn(async move {
        tokio::task::yield_now().await; // bind the socket
        tokio::task::yield_now().await; // load the routes
        r.store(true, SeqCst);
    });
    let r = ready.clone();
    let client = tokio::spawn(async move {
        let mut polls = 0;
        while !r.load(SeqCst) {
            polls += 1;
            assert!(
                polls <= READY_POLLS,
                "not ready: the client gave up after {READY_POLLS} polls although the server was starting"
            );
            tokio::task::yield_now().await; // poll again
        }
    });
    server.await.unwrap();
    client.await.unwrap();
}

/// Port of the kit's `readiness_polling_fixed`: wait for the signal, do not count.
pub async fn readiness_polling_fixed() {
    let (tx, mut rx) = watch::channel(false);
    let server = tokio::spawn(async move {
        tokio::task::yield_now().await; // bind the socket
        tokio::task::yield_now().await; // load the routes
        tx.send_replace(true);
    });
    let client = tokio::spawn(async move {
        rx.wait_for(|ready| *ready)
            .await
            .expect("the server signals before it ends");
    });
    server.await.unwrap();
    client.await.unwrap();
}
