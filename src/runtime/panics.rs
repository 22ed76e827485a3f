//! Panic capture: every panic in a run, in kit tasks, in `tokio::spawn`ed tasks and in
//! `spawn_blocking` closures, is recorded with its message and location.
//!
//! A process-wide panic hook (chaining to the previous one) looks at thread-locals: on a
//! thread inside a run it records the panic instead of printing it, because the failure
//! report will show it with more context.
//!
//! Which panics count: one that ends a task, or that nobody takes. A kit task's panic is
//! caught by the executor, which takes the payload and the hook's note of the same panic
//! (message, location); a panic the task's own code catches leaves only a note, which the
//! next poll forgets. tokio catches the panics of its tasks (`tokio::spawn`,
//! `spawn_local` in a `LocalSet`, `spawn_blocking`) without telling anyone on stable
//! tokio, so for those the hook decides at once: the panic ends the task unless a
//! `catch_unwind` of the task's own code stands between the panic and tokio's harness on
//! the stack (read from a captured backtrace, see `caught_inside_task`).
//!
//! Not seen: `std::panic::resume_unwind` calls no hook, so a payload re-raised that way
//! in a tokio task ends it unseen (in a kit task the executor still catches it). A test
//! or a library that replaces the hook (`std::panic::set_hook`) hides panics of tokio's
//! tasks until the kit checks its hook again, at the start and at the end of every run,
//! and while tokio tasks or blocking closures may panic (before tokio runs its tasks, at
//! most once a millisecond):
//! it installs itself again in front of the new hook, and the run that saw the
//! replacement warns ([`hook_generation`]). An exploration's passing schedules check at
//! their end at most once a millisecond ([`hook_generation_at_end`]); a replacement found
//! there may have happened in any schedule since the last check, and the exploration runs
//! those again, each checked at both ends (`runner/explore.rs`). Not found: a hook swapped
//! in one schedule and put back in a later one before any check (a `spawn_local` task's
//! panic in between, which no check before tokio's turn guards, goes unseen).

use std::any::{Any, TypeId};
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::panic::{Location, PanicHookInfo};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use super::tasks::TaskMeta;
use crate::trace::EventKind;
use crate::util::{frame_symbol, lock};

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
    /// A task started with `tokio::task::spawn_local` (in a `LocalSet` a kit task runs).
    pub(crate) local: bool,
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

/// The hook's note of a panic in a kit task, for the executor that catches it.
struct Seen {
    /// The payload's type, with `message`, tells this panic from an earlier one the task
    /// caught (a payload re-raised with `resume_unwind` calls no hook).
    kind: TypeId,
    message: String,
    location: Option<String>,
    backtrace: Option<String>,
}

thread_local! {
    /// The run this thread belongs to (the run thread, or a blocking-pool thread).
    static RUN: RefCell<Option<(Arc<RunPanics>, tokio::time::Instant, bool)>> = const { RefCell::new(None) };
    /// While the executor polls or drops a kit task (it catches those panics itself): the
    /// tokio task the poll runs in, if any. A panic under another tokio task id is one of a
    /// tokio task that the kit task's poll drives (`spawn_local` in a `LocalSet`).
    static POLLING_KIT: Cell<Option<Option<tokio::task::Id>>> = const { Cell::new(None) };
    /// What the hook saw of the last panic on this thread.
    static LAST: RefCell<Option<Seen>> = const { RefCell::new(None) };
    /// True while the kit runs something of its own whose panic it handles.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// Set by the kit's hook when it sees the probe ([`hook_generation`]).
    static PROBED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, catching a panic in it without printing it: `None` if it panicked.
pub(crate) fn quietly<R>(f: impl FnOnce() -> R) -> Option<R> {
    quietly_caught(f).map_err(drop_payload).ok()
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
    // A note of a panic an earlier poll caught must not name a later one.
    LAST.with(|l| l.borrow_mut().take());
    let prev = POLLING_KIT.with(|p| p.replace(Some(tokio::task::try_id())));
    let r = f();
    POLLING_KIT.with(|p| p.set(prev));
    r
}

/// A panic's payload.
pub(crate) type Payload = Box<dyn Any + Send>;

/// Drops a panic payload the kit holds, as tokio drops one nobody takes: a panic in the
/// payload's own `Drop` (and in that panic's payload, and so on) is caught and dropped
/// unseen, its payload forgotten after a few levels.
pub(crate) fn drop_payload(payload: Payload) {
    let Err(mut next) = quietly_caught(move || drop(payload)) else {
        return;
    };
    for _ in 0..3 {
        match quietly_caught(move || drop(next)) {
            Ok(()) => return,
            Err(deeper) => next = deeper,
        }
    }
    std::mem::forget(next);
}

/// Runs `f`, catching a panic in it without printing or recording it.
fn quietly_caught<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    install_once();
    // `try_with`: a payload may be dropped while the thread's locals are destroyed.
    let prev = QUIET.try_with(|q| q.replace(true)).unwrap_or(false);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let _ = QUIET.try_with(|q| q.set(prev));
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
    let message_now = payload_message(payload.as_ref());
    let kind = (**payload).type_id();
    // The note is this panic's only if it says the same: a payload re-raised with
    // `resume_unwind` (which calls no hook) after a caught panic must not take its place.
    let seen = LAST
        .with(|l| l.borrow_mut().take())
        .filter(|s| s.kind == kind && s.message == message_now);
    let returned = payload.downcast_ref::<ReturnedErr>();
    let (message, location, backtrace) = match (returned, seen) {
        // The kit's own panic: the frames are the kit's, the place is the test.
        (Some(e), _) => (e.message(), Some(e.site.to_string()), None),
        (None, Some(s)) => (s.message, s.location, s.backtrace),
        (None, None) => (message_now, None, None),
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
        local: false,
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
        if let Some(symbol) = frame_symbol(line) {
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

/// What the kit panics with to learn whether its hook is still the process's.
const PROBE: &str = "async-testkit: checking that its panic hook is still installed (a test or a library replaced \
                     it; the kit installs it again in front of the new one)";

/// Counts the kit's installations of its hook: a change between two readings means the
/// hook was replaced (and installed again) in between.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Installs the kit's hook in front of the one installed now.
fn install_in_front() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !hook(info) {
            previous(info);
        }
    }));
    GENERATION.fetch_add(1, SeqCst);
}

/// Installs the hook the first time only (for the kit's own quiet calls).
fn install_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(install_in_front);
}

/// Makes sure the kit's hook is installed, and returns its generation: called at the
/// start and at the end of a run, a different number at the end means the hook was
/// replaced (`std::panic::set_hook`) in between, and panics may have gone unseen.
///
/// It checks with a panic of its own: a hook installed in front of the kit's sees it
/// (and may print [`PROBE`]); one that chains to the kit's passes it on.
pub(crate) fn hook_generation() -> u64 {
    static CHECKING: Mutex<()> = Mutex::new(());
    install_once();
    let _one_at_a_time = lock(&CHECKING);
    PROBED.with(|p| p.set(false));
    let quiet = QUIET.with(|q| q.replace(true));
    let _ = std::panic::catch_unwind(|| std::panic::panic_any(PROBE));
    QUIET.with(|q| q.set(quiet));
    if !PROBED.with(Cell::get) {
        install_in_front();
    }
    GENERATION.load(SeqCst)
}

/// How long a check of the hook stands for the next ones in one family of runs (an
/// exploration's schedules run back to back, and a check, a panic and its unwinding of
/// about 10 µs, at both ends of each was most of a short run's cost): a run's opening
/// check reuses a closing one this recent, and in an exploration a passing run skips its
/// closing check while the family's last one is this recent.
const CHECK_STANDS_FOR: std::time::Duration = std::time::Duration::from_millis(1);

thread_local! {
    /// The last closing check on this thread: its family, the generation it read, and
    /// when.
    static LAST_CHECK: Cell<Option<(u64, u64, std::time::Instant)>> = const { Cell::new(None) };
}

/// [`hook_generation`] at the start of a run of `family` (0: none). In a family, it is
/// the generation the family's last closing check on this thread read, so that a run's
/// closing check finds a replacement made since that check, in this run or in an
/// earlier one that skipped its own. The hook is checked again now unless that check is
/// less than [`CHECK_STANDS_FOR`] old or the run's closing check is `amortised` (an
/// exploration's schedule: whatever replaced the hook since is found by a later check,
/// which compares with the same generation). Between the two only the kit ran on this
/// thread; a hook another thread replaced meanwhile is found by this run's own checks
/// (before tokio runs its tasks, and at the run's end) or, amortised, by the family's
/// next closing check.
pub(crate) fn hook_generation_at_start(family: u64, amortised: bool) -> u64 {
    match LAST_CHECK.with(Cell::get) {
        Some((f, generation, at)) if family != 0 && f == family => {
            if !amortised && at.elapsed() >= CHECK_STANDS_FOR {
                // The kit's hook in front for this run; a replacement shows at its end.
                hook_generation();
            }
            generation
        }
        _ => hook_generation(),
    }
}

/// What a run's closing check of the hook found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ClosingCheck {
    /// Not made (amortised: the family's last check is recent): whether the hook was
    /// replaced during the run is known only at the family's next check.
    #[default]
    Skipped,
    /// The hook is the one the run started with: not replaced during the run, nor since
    /// the check its start reused.
    Kept,
    /// Replaced (and the kit's installed again in front), during the run or, when the
    /// run's start reused an earlier check, since that check.
    Replaced,
}

/// The closing check of a run of `family` that started with generation `at_start`, kept
/// for the next run's start. When `amortised` (a passing schedule of an exploration) it is
/// skipped while the family's last check on this thread is under [`CHECK_STANDS_FOR`]
/// old: it then costs a reading of the clock instead of a panic.
pub(crate) fn hook_generation_at_end(family: u64, at_start: u64, amortised: bool) -> ClosingCheck {
    if amortised
        && family != 0
        && LAST_CHECK
            .with(Cell::get)
            .is_some_and(|(f, _, at)| f == family && at.elapsed() < CHECK_STANDS_FOR)
    {
        return ClosingCheck::Skipped;
    }
    let generation = hook_generation();
    LAST_CHECK.with(|c| c.set(Some((family, generation, std::time::Instant::now()))));
    if generation == at_start {
        ClosingCheck::Kept
    } else {
        ClosingCheck::Replaced
    }
}

/// A check outside any run, for the end of an exploration whose last schedules skipped
/// theirs: whether the hook was replaced since the family's last check on this thread.
pub(crate) fn hook_replaced_since_last_check(family: u64) -> bool {
    let last = LAST_CHECK.with(Cell::get).filter(|&(f, _, _)| f == family);
    let at_start = last.map_or(GENERATION.load(SeqCst), |(_, generation, _)| generation);
    hook_generation_at_end(family, at_start, false) == ClosingCheck::Replaced
}

/// The warning of a run during which the hook was replaced.
pub(crate) const HOOK_REPLACED: &str = "panic hook: the process's panic hook was replaced during this run \
     (std::panic::set_hook, by the test or by a library such as an error-report crate); until the kit noticed \
     (before tokio ran its tasks, at most once a millisecond, or at the end of the run), panics in tasks started \
     with tokio::spawn or spawn_local and in spawn_blocking closures went to that hook and may have gone unseen (kit tasks' panics were still caught). The kit has installed its hook again, \
     in front of the new one: install panic hooks before the test's run starts and the kit passes on to them \
     what it does not take";

/// Whether the panic being reported was caught by the code of the tokio task it happened
/// in. In `backtrace` (innermost frame first), every `catch_unwind` leaves a `__rust_try`
/// frame, and tokio polls a task's future in `Core::poll`, inside its own catch: a
/// `__rust_try` before the first frame of tokio's task code, when that frame is
/// `Core::poll`, is the task's own catch. Anything else (no such frame: `Core::poll`
/// inlined into tokio's catch in an optimised build, no symbols, a panic while tokio drops
/// a future it cancels) counts as ending the task, but for one more catch of tokio's own:
/// a panic while a `JoinHandle`'s drop drops the output of a task that had completed
/// (`drop_join_handle_slow`), which tokio discards and which ends no task. A test may fail
/// for a panic it caught, never pass for one it did not.
fn caught_inside_task(backtrace: &str) -> bool {
    let mut catches = 0;
    let mut symbols = backtrace.lines().filter_map(frame_symbol);
    for symbol in symbols.by_ref() {
        if symbol.starts_with("tokio::runtime::task::") {
            if symbol.starts_with("tokio::runtime::task::core::Core<T,S>::poll") {
                return catches > 0;
            }
            // A panic while a `JoinHandle`'s drop drops the finished task's output: tokio
            // catches it and drops it; the task had already completed.
            let machinery = |s: &&str| MACHINERY.iter().any(|m| s.starts_with(m));
            let (mut output, mut join_handle) = (false, false);
            for s in std::iter::once(symbol).chain(symbols).take_while(machinery) {
                output |= s.starts_with("tokio::runtime::task::core::Core<T,S>::drop_future_or_output");
                join_handle |=
                    s.starts_with("tokio::runtime::task::harness::Harness<T,S>::drop_join_handle_slow");
            }
            return output && join_handle;
        }
        if symbol.starts_with("__rust_try") {
            catches += 1;
        }
    }
    false
}

/// Returns true when the panic was taken by the kit (and must not be printed).
fn hook(info: &PanicHookInfo<'_>) -> bool {
    if QUIET.try_with(Cell::get).unwrap_or(false) {
        if info.payload().downcast_ref::<&str>() == Some(&PROBE) {
            PROBED.with(|p| p.set(true));
        }
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
    let tokio_task = tokio::task::try_id();
    let polling_kit = POLLING_KIT.with(Cell::get);
    let in_kit_task = polling_kit == Some(tokio_task);
    // Time spent capturing backtraces here is not the poll's own time.
    let began = std::time::Instant::now();
    run.in_hook.store(!blocking, SeqCst);
    let bt = Backtrace::capture();
    let captured = bt.status() == BacktraceStatus::Captured;
    let mut caught = false;
    if !in_kit_task && tokio_task.is_some() {
        // A tokio task's panic: tokio will not say whether it ended the task.
        let frames = if captured {
            bt.to_string()
        } else {
            Backtrace::force_capture().to_string()
        };
        caught = caught_inside_task(&frames);
    }
    let backtrace = (captured && !caught).then(|| user_frames(&bt.to_string()));
    if !blocking {
        let spent = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
        run.hook_nanos.fetch_add(spent, SeqCst);
        run.in_hook.store(false, SeqCst);
    }
    if caught {
        return true;
    }
    let location = info.location().map(|l| l.to_string());
    if in_kit_task {
        LAST.with(|l| {
            *l.borrow_mut() = Some(Seen {
                kind: info.payload().type_id(),
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
            local: polling_kit.is_some(),
        });
    }
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_counts_as_caught_by_the_task_only_with_a_catch_of_its_own() {
        // As a debug build shows them.
        let caught = "   0: std::panicking::panic_with_hook
   7: my_crate::f::{{closure}}
             at ./src/f.rs:3:5
   9: __rust_try
  13: tokio::runtime::task::core::Core<T,S>::poll::{{closure}}
  16: tokio::runtime::task::harness::poll_future::{{closure}}
  19: __rust_try";
        assert!(super::caught_inside_task(caught));
        let ended = "   7: my_crate::f::{{closure}}
  13: tokio::runtime::task::core::Core<T,S>::poll::{{closure}}
  16: tokio::runtime::task::harness::poll_future::{{closure}}
  19: __rust_try";
        assert!(!super::caught_inside_task(ended));
        // As an optimised build shows them: tokio's catch inlined away, the task's kept.
        let caught = "   6: my_crate::f::{{closure}}
   7: __rust_try.llvm.11413116108146510800
   8: tokio::runtime::task::core::Core<T,S>::poll
   9: tokio::runtime::task::harness::Harness<T,S>::poll";
        assert!(super::caught_inside_task(caught));
        // Core::poll inlined into tokio's catch: the catch may be tokio's, so it ended.
        let unclear = "   6: my_crate::f::{{closure}}
   7: __rust_try
   9: tokio::runtime::task::harness::Harness<T,S>::poll";
        assert!(!super::caught_inside_task(unclear));
        assert!(!super::caught_inside_task("   9: __rust_try"));
        assert!(!super::caught_inside_task(""));
    }

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
