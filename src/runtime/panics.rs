//! Panic capture: every panic in a run, in kit tasks, in `tokio::spawn`ed tasks and in
//! `spawn_blocking` closures, is recorded with its message and location.
//!
//! A process-wide panic hook (installed once, chaining to the previous one) looks at
//! thread-locals: on a thread inside a run it records the panic instead of printing it,
//! because the failure report will show it with more context.

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::panic::{Location, PanicHookInfo};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use super::tasks::TaskMeta;
use crate::trace::EventKind;
use crate::util::lock;

/// What tokio panics with when a task uses sockets (or signals) on a runtime built
/// without the I/O driver.
pub(crate) const IO_DISABLED: &str = "IO is disabled";

/// The panics of one run that its executor did not catch itself (in tokio's tasks and
/// blocking closures), written by the hook on whatever thread panicked, until the run
/// closes it ([`RunPanics::close`]).
#[derive(Default)]
pub(crate) struct RunPanics {
    foreign: Mutex<Foreign>,
    /// Some code of the run panicked for want of tokio's I/O driver (caught or not).
    pub(crate) io_wanted: AtomicBool,
    /// Nanoseconds the hook spent capturing backtraces on the run's own thread
    /// (`RUST_BACKTRACE`): the kit's time, not the test's, so neither a poll's wall time
    /// (the slow-poll oracle) nor the watchdog's grace counts it.
    pub(crate) hook_nanos: AtomicU64,
    /// The run's own thread is in the hook now, capturing a backtrace.
    pub(crate) in_hook: AtomicBool,
}

#[derive(Default)]
struct Foreign {
    panics: Vec<PanicRecord>,
    /// The run has been judged: a later panic (a `spawn_blocking` closure that outlived
    /// the runtime) is no longer the run's, and goes to the previous hook (printed).
    closed: bool,
}

impl RunPanics {
    /// Ends the collection: the panics recorded so far, for the verdict.
    pub(crate) fn close(&self) -> Vec<PanicRecord> {
        let mut foreign = lock(&self.foreign);
        foreign.closed = true;
        std::mem::take(&mut foreign.panics)
    }

    /// How many panics have been recorded so far (the run's snapshot tells the panics
    /// of its teardown from the earlier ones by this count).
    pub(crate) fn recorded(&self) -> usize {
        lock(&self.foreign).panics.len()
    }
}

/// One panic seen during a run.
#[derive(Clone, Debug)]
pub(crate) struct PanicRecord {
    /// The kit task that panicked; `None` for tokio's own tasks and blocking closures.
    pub(crate) task: Option<TaskMeta>,
    pub(crate) message: String,
    pub(crate) location: Option<String>,
    pub(crate) at: Option<Duration>,
    /// Set when the test took the panic through `JoinError::into_panic`.
    pub(crate) handled: Arc<AtomicBool>,
    pub(crate) backtrace: Option<String>,
    /// The blocking-pool thread, for a panic in a `spawn_blocking` closure.
    pub(crate) thread: Option<String>,
    /// Not a panic of the test's code: the test body returned `Err` ([`ReturnedErr`]);
    /// `message` is the headline, `location` the test.
    pub(crate) returned_err: bool,
}

/// What the wrapper `#[async_testkit::test]` puts around a body returning `Result` panics
/// with, inside the run, when the body returned `Err`: that schedule fails like any
/// other, and the oracles tell it from a panic by this payload.
pub(crate) struct ReturnedErr {
    /// The error, as `Debug` prints it.
    pub(crate) error: String,
    /// The test (its return type).
    pub(crate) site: &'static Location<'static>,
}

impl ReturnedErr {
    fn message(&self) -> String {
        format!("the test body returned Err({})", self.error)
    }
}

struct Seen {
    message: String,
    location: Option<String>,
    backtrace: Option<String>,
}

thread_local! {
    /// The run this thread belongs to (the run thread, or a blocking-pool thread).
    static RUN: RefCell<Option<(Arc<RunPanics>, tokio::time::Instant, bool)>> = const { RefCell::new(None) };
    /// True while the executor polls or drops a kit task (it catches those panics itself).
    static POLLING_KIT: Cell<bool> = const { Cell::new(false) };
    /// What the hook saw of the last panic on this thread.
    static LAST: RefCell<Option<Seen>> = const { RefCell::new(None) };
    /// True while the kit runs something of its own whose panic it handles.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, catching a panic in it without printing it: `None` if it panicked.
pub(crate) fn quietly<R>(f: impl FnOnce() -> R) -> Option<R> {
    install_hook();
    let prev = QUIET.with(|q| q.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok();
    QUIET.with(|q| q.set(prev));
    r
}

/// Marks this thread as belonging to a run until the guard drops.
pub(crate) struct RunThreadGuard(());

impl RunThreadGuard {
    pub(crate) fn enter(panics: Arc<RunPanics>, start: tokio::time::Instant) -> Self {
        RUN.with(|r| *r.borrow_mut() = Some((panics, start, false)));
        RunThreadGuard(())
    }
}

impl Drop for RunThreadGuard {
    fn drop(&mut self) {
        let _ = RUN.try_with(|r| r.borrow_mut().take());
    }
}

/// For tokio's `on_thread_start`: blocking-pool threads of a run belong to it.
pub(crate) fn adopt_thread(panics: Arc<RunPanics>, start: tokio::time::Instant) {
    RUN.with(|r| *r.borrow_mut() = Some((panics, start, true)));
}

/// Runs `f` with panics attributed to the kit task being polled.
pub(crate) fn polling_kit_task<R>(f: impl FnOnce() -> R) -> R {
    let prev = POLLING_KIT.with(|p| p.replace(true));
    let r = f();
    POLLING_KIT.with(|p| p.set(prev));
    r
}

/// Text of a panic payload.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(e) = payload.downcast_ref::<ReturnedErr>() {
        e.message()
    } else {
        "(a panic payload that is not a string)".to_string()
    }
}

/// The event that ends a kit task whose poll panicked with `payload`.
pub(crate) fn ended_event(payload: &Box<dyn Any + Send>) -> EventKind {
    if payload.is::<ReturnedErr>() {
        EventKind::ReturnedErr
    } else {
        EventKind::Panicked
    }
}

/// Builds the record of the panic just caught on this thread.
pub(crate) fn take_last(task: Option<TaskMeta>, at: Duration, payload: &Box<dyn Any + Send>) -> PanicRecord {
    let seen = LAST.with(|l| l.borrow_mut().take());
    let returned = payload.downcast_ref::<ReturnedErr>();
    let (message, location, backtrace) = match (returned, seen) {
        // The kit's own panic: the frames are the kit's, the place is the test.
        (Some(e), _) => (e.message(), Some(e.site.to_string()), None),
        (None, Some(s)) => (s.message, s.location, s.backtrace),
        (None, None) => (payload_message(payload.as_ref()), None, None),
    };
    PanicRecord {
        task,
        message,
        location,
        at: Some(at),
        handled: Arc::new(AtomicBool::new(false)),
        backtrace,
        thread: None,
        returned_err: returned.is_some(),
    }
}

/// Frames that belong to the panic machinery, the kit or the executor, not the user.
const MACHINERY: &[&str] = &[
    "std::",
    "core::",
    "alloc::",
    "__rust",
    "__rustc",
    "<alloc::",
    "<core::",
    "<std::",
    "async_testkit::runtime::",
    "tokio::runtime::",
    "tokio::loom::",
    "<tokio::runtime::",
];

/// Keeps the user's frames of a captured backtrace: drops the panic machinery at the top
/// and stops where the kit's executor (or tokio's scheduler) polled the task.
pub(crate) fn user_frames(backtrace: &str) -> String {
    const MOST: usize = 12;
    let mut out = Vec::new();
    let mut frames = 0;
    let mut keep = false;
    let mut started = false;
    for line in backtrace.lines() {
        let trimmed = line.trim_start();
        let is_frame = trimmed
            .split_once(": ")
            .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()));
        if is_frame {
            let symbol = trimmed.split_once(": ").map_or("", |(_, s)| s);
            let machinery = MACHINERY.iter().any(|m| symbol.starts_with(m));
            if machinery
                && started
                && (symbol.contains("poll_task") || symbol.starts_with("tokio::runtime::"))
            {
                break;
            }
            keep = !machinery && frames < MOST;
            if keep {
                started = true;
                frames += 1;
            }
        }
        if keep {
            out.push(trimmed);
        }
    }
    out.join("\n")
}

/// Installs the hook once per process.
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !hook(info) {
                previous(info);
            }
        }));
    });
}

/// Returns true when the panic was taken by the kit (and must not be printed).
fn hook(info: &PanicHookInfo<'_>) -> bool {
    if QUIET.try_with(Cell::get).unwrap_or(false) {
        return true;
    }
    let Ok(Some((run, start, blocking))) = RUN.try_with(|r| r.borrow().clone()) else {
        return false;
    };
    let message = payload_message(info.payload());
    if message.contains(IO_DISABLED) {
        // Seen here, before any code of the test can catch it: the run needs the driver.
        run.io_wanted.store(true, SeqCst);
    }
    let location = info.location().map(|l| l.to_string());
    let began = std::time::Instant::now();
    run.in_hook.store(!blocking, SeqCst);
    let bt = Backtrace::capture();
    let backtrace = (bt.status() == BacktraceStatus::Captured).then(|| user_frames(&bt.to_string()));
    if !blocking {
        let spent = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
        run.hook_nanos.fetch_add(spent, SeqCst);
        run.in_hook.store(false, SeqCst);
    }
    if POLLING_KIT.with(|p| p.get()) {
        LAST.with(|l| {
            *l.borrow_mut() = Some(Seen {
                message,
                location,
                backtrace,
            })
        });
    } else {
        let at = tokio::runtime::Handle::try_current()
            .ok()
            .map(|_| tokio::time::Instant::now().saturating_duration_since(start));
        let mut foreign = lock(&run.foreign);
        if foreign.closed {
            return false;
        }
        foreign.panics.push(PanicRecord {
            task: None,
            message,
            location,
            at,
            handled: Arc::new(AtomicBool::new(false)),
            backtrace,
            thread: blocking.then(|| std::thread::current().name().unwrap_or("unnamed").to_string()),
            returned_err: info.payload().is::<ReturnedErr>(),
        });
    }
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn backtraces_keep_the_users_frames_only() {
        let bt = "   0: async_testkit::runtime::panics::hook
             at ./src/runtime/panics.rs:130:14
   1: std::panicking::panic_with_hook
             at /rustc/library/std/src/panicking.rs:833:13
   2: core::panicking::panic_fmt
             at /rustc/library/core/src/panicking.rs:80:14
   3: my_crate::parse::{{closure}}
             at ./src/parse.rs:10:5
   4: my_crate::tests::t::{{closure}}
             at ./tests/t.rs:4:9
   5: async_testkit::runtime::executor::Executor::poll_task::{{closure}}
             at ./src/runtime/executor.rs:487:30
   6: main
             at ./src/main.rs:1:1";
        assert_eq!(
            super::user_frames(bt),
            "3: my_crate::parse::{{closure}}\nat ./src/parse.rs:10:5\n4: my_crate::tests::t::{{closure}}\nat ./tests/t.rs:4:9"
        );
    }
}
