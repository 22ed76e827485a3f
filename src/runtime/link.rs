//! What any thread of a run can reach of it: the virtual clock, and a mailbox for the log
//! lines of threads the executor does not run on.
//!
//! The executor lives in a thread-local of the run's own thread (`Rc`, `RefCell`), so a
//! `spawn_blocking` closure or an OS thread the test started cannot ask it the time.
//! Every run therefore has a [`RunLink`], shared (`Arc`): the virtual instant it began at
//! and its runtime's handle, through which any thread reads tokio's paused clock. A
//! thread finds its run's link:
//! - the run's own thread: set while the run lasts ([`LinkGuard`]);
//! - blocking-pool threads: set by tokio's `on_thread_start` (`pool.rs`), one thread per
//!   closure;
//! - OS threads the test started (Linux): the live run whose thread has this thread's
//!   name (an unnamed thread inherits its parent's name, as `outside.rs` explains); one
//!   that no run or more than one run matches has no link. Elsewhere they have none.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::trace::LogLine;
use crate::util::{lock, thread_comm};

/// One run, as every thread of it sees it.
pub(crate) struct RunLink {
    /// The virtual instant the run began at.
    start: tokio::time::Instant,
    /// The run's runtime: entering it makes `tokio::time::Instant::now()` read its clock.
    handle: tokio::runtime::Handle,
    /// The run has ended: its clock is no longer "the run's".
    ended: AtomicBool,
    /// Once a deadlock is found, the instant it was found at: the deadlock probe moves
    /// tokio's clock on, but that is the kit's business (as `Executor::elapsed`).
    frozen: Mutex<Option<Duration>>,
    /// The run thread's name, to recognise the threads the test started (Linux).
    comm: Option<Vec<u8>>,
    /// Log lines from threads other than the run's, waiting for the executor to record
    /// them (with the virtual time each was emitted at).
    logs: Mutex<Vec<(Duration, LogLine)>>,
    has_logs: AtomicBool,
}

/// The live runs, for the threads the test started.
static LIVE: Mutex<Vec<Weak<RunLink>>> = Mutex::new(Vec::new());

thread_local! {
    static LINK: RefCell<Option<Arc<RunLink>>> = const { RefCell::new(None) };
}

impl RunLink {
    /// The link of a run starting now on `handle`'s runtime, at virtual instant `start`.
    pub(crate) fn new(handle: tokio::runtime::Handle, start: tokio::time::Instant) -> Arc<Self> {
        let link = Arc::new(RunLink {
            start,
            handle,
            ended: AtomicBool::new(false),
            frozen: Mutex::new(None),
            comm: thread_comm(),
            logs: Mutex::new(Vec::new()),
            has_logs: AtomicBool::new(false),
        });
        let mut live = lock(&LIVE);
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&link));
        link
    }

    /// The run's runtime.
    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// Virtual time since the run began, read from any thread; `None` once it ended.
    pub(crate) fn elapsed(&self) -> Option<Duration> {
        if self.ended.load(SeqCst) {
            return None;
        }
        if let Some(at) = *lock(&self.frozen) {
            return Some(at);
        }
        let _entered = self.handle.enter();
        Some(tokio::time::Instant::now().saturating_duration_since(self.start))
    }

    /// Leaves a log line of another thread for the executor.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn post(&self, at: Duration, line: LogLine) {
        if self.ended.load(SeqCst) {
            return;
        }
        lock(&self.logs).push((at, line));
        self.has_logs.store(true, SeqCst);
    }

    /// The log lines other threads left since the last call (cheap when there are none).
    pub(crate) fn take_logs(&self) -> Vec<(Duration, LogLine)> {
        if !self.has_logs.load(SeqCst) {
            return Vec::new();
        }
        self.has_logs.store(false, SeqCst);
        std::mem::take(&mut *lock(&self.logs))
    }

    /// A deadlock was found: time reads `at` from now on.
    pub(crate) fn freeze(&self, at: Duration) {
        *lock(&self.frozen) = Some(at);
    }

    /// The run is over: no thread reads its clock or posts to it any more.
    pub(crate) fn end(&self) {
        self.ended.store(true, SeqCst);
    }
}

/// Links this thread to `link` (tokio's `on_thread_start`, for blocking-pool threads).
pub(crate) fn adopt(link: Arc<RunLink>) {
    let _ = LINK.try_with(|l| *l.borrow_mut() = Some(link));
}

/// Links the run's own thread to its run until dropped (and then ends the run's link).
pub(crate) struct LinkGuard(Arc<RunLink>);

impl LinkGuard {
    pub(crate) fn enter(link: Arc<RunLink>) -> Self {
        adopt(link.clone());
        LinkGuard(link)
    }
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        self.0.end();
        let _ = LINK.try_with(|l| l.borrow_mut().take());
    }
}

/// The live run this thread belongs to, if any.
pub(crate) fn current() -> Option<Arc<RunLink>> {
    let own = LINK
        .try_with(|l| l.borrow().clone())
        .ok()
        .flatten()
        .filter(|l| !l.ended.load(SeqCst));
    own.or_else(started_by_test)
}

/// The one live run whose thread has this thread's name (Linux).
fn started_by_test() -> Option<Arc<RunLink>> {
    let comm = thread_comm()?;
    let live = lock(&LIVE);
    let mut found = live
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|l| !l.ended.load(SeqCst) && l.comm.as_deref() == Some(&comm[..]));
    let one = found.next()?;
    found.next().is_none().then_some(one)
}
