//! The wall-clock watchdog: one thread for the whole process, watching every run's
//! real-time deadline.
//!
//! At a run's deadline it raises the run's flag and wakes its executor, which then stops
//! with a wall-timeout report. It also wakes a run's settling wait when asked to look
//! (`Shared::spin_look_at`): tokio's loop, spinning, would never give the wait a turn. If the executor does not come back within a grace period,
//! it is stuck inside one poll (a blocking call or an endless loop): a stuck thread
//! cannot be stopped, so the watchdog writes what it knows (which task, since when) and
//! either hands that to the waiting test thread (runs started by `#[async_testkit::test]`,
//! which run on their own thread) or ends the process (runs on the caller's thread).

use std::io::Write as _;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Condvar, Mutex, Once, Weak};
use std::time::{Duration, Instant};

use super::shared::{Activity, Shared};
use super::wall;
use crate::util::lock;

/// How long the executor gets to notice the wall deadline before it counts as stuck: the
/// run's limit again, at most this much.
pub(crate) const STUCK_GRACE: Duration = Duration::from_secs(2);

fn grace(limit: Duration) -> Duration {
    limit.min(STUCK_GRACE)
}

/// Where a stuck run's report goes.
#[derive(Clone, Debug)]
pub(crate) enum OnStuck {
    /// The test thread waits on this cell and fails the test with the text.
    Hand(Arc<Mutex<Option<String>>>),
    /// Write the text to the process's stderr (past libtest's capture) and exit the
    /// process.
    Exit,
}

struct Entry {
    id: u64,
    shared: Weak<Shared>,
    deadline: Instant,
    fired: bool,
    limit: Duration,
    on_stuck: OnStuck,
    /// The run thread's time in the panic hook (backtrace captures) when last looked at.
    hook_seen: u64,
}

struct Watchdog {
    entries: Mutex<Entries>,
    cv: Condvar,
}

struct Entries {
    last_id: u64,
    list: Vec<Entry>,
    /// When the watchdog thread will next look, if it sleeps; a run whose deadline comes
    /// earlier wakes it, any other run is picked up then (no wake-up, no context switch).
    next_look: Option<Instant>,
}

/// The longest the watchdog sleeps between looks.
const HEARTBEAT: Duration = Duration::from_millis(500);

static WATCHDOG: Watchdog = Watchdog {
    entries: Mutex::new(Entries {
        last_id: 0,
        list: Vec::new(),
        next_look: None,
    }),
    cv: Condvar::new(),
};

/// The watchdog, its thread started on first use.
fn watchdog() -> &'static Watchdog {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        std::thread::Builder::new()
            .name("async-testkit watchdog".into())
            .spawn(watch_loop)
            .expect("the async-testkit watchdog thread could not be started");
    });
    &WATCHDOG
}

/// Unregisters the run when dropped.
pub(crate) struct Watch {
    id: u64,
}

/// Starts watching a run with a real-time `limit`.
pub(crate) fn watch(shared: &Arc<Shared>, limit: Duration, on_stuck: OnStuck) -> Watch {
    let w = watchdog();
    let mut guard = lock(&w.entries);
    guard.last_id += 1;
    let id = guard.last_id;
    let deadline = Instant::now().checked_add(limit).unwrap_or_else(far_future);
    guard.list.push(Entry {
        id,
        shared: Arc::downgrade(shared),
        deadline,
        fired: false,
        limit,
        on_stuck,
        hook_seen: shared.panics.hook_nanos.load(SeqCst),
    });
    let wake = guard.next_look.is_none_or(|t| deadline < t);
    drop(guard);
    if wake {
        w.cv.notify_one();
    }
    Watch { id }
}

/// A look a run's settling wait asked for: due, the wait is told and woken; else when it
/// is due.
fn spin_look(shared: &Shared) -> Option<Instant> {
    let at = shared.spin_look_at.load(SeqCst);
    if at == 0 {
        return None;
    }
    let now = wall::precise();
    if now < at {
        return Some(Instant::now() + Duration::from_nanos(at - now));
    }
    if shared
        .spin_look_at
        .compare_exchange(at, 0, SeqCst, SeqCst)
        .is_ok()
    {
        shared.spin_looked.store(true, SeqCst);
        shared.wake_waiter();
    }
    None
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

impl Drop for Watch {
    fn drop(&mut self) {
        let w = watchdog();
        lock(&w.entries).list.retain(|e| e.id != self.id);
    }
}

fn watch_loop() {
    let w = &WATCHDOG;
    let mut guard = lock(&w.entries);
    loop {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut stuck: Vec<(String, OnStuck)> = Vec::new();
        guard.list.retain_mut(|e| {
            let Some(shared) = e.shared.upgrade() else {
                return false;
            };
            if shared.finished.load(SeqCst) {
                return false;
            }
            // Time the run thread spent capturing backtraces in the panic hook is the
            // kit's, not the test's: it moves the grace's end (never the limit).
            let hook = shared.panics.hook_nanos.load(SeqCst);
            if e.fired && hook > e.hook_seen {
                e.deadline += Duration::from_nanos(hook - e.hook_seen);
            }
            e.hook_seen = hook;
            if e.fired && shared.panics.in_hook.load(SeqCst) {
                e.deadline = e.deadline.max(now + grace(e.limit));
            }
            if !e.fired && now >= e.deadline {
                e.fired = true;
                shared.wall_expired.store(true, SeqCst);
                shared.wake_waiter();
                e.deadline = now + grace(e.limit);
            } else if e.fired && now >= e.deadline {
                stuck.push((stuck_report(&shared, e.limit, &e.on_stuck), e.on_stuck.clone()));
                return false;
            }
            next = Some(next.map_or(e.deadline, |n| n.min(e.deadline)));
            if let Some(look) = spin_look(&shared) {
                next = next.map(|n| n.min(look));
            }
            true
        });
        for (text, on_stuck) in stuck {
            match on_stuck {
                OnStuck::Hand(cell) => *lock(&cell) = Some(text),
                OnStuck::Exit => exit_with(&text),
            }
        }
        let look = next.map_or(now + HEARTBEAT, |t| t.min(now + HEARTBEAT));
        guard.next_look = Some(look);
        let wait = look.saturating_duration_since(Instant::now());
        guard =
            w.cv.wait_timeout(guard, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        guard.next_look = None;
    }
}

/// Writes the report to the process's real stderr and exits with status 101 (libtest's
/// status for a failed test).
///
/// Not `eprintln!`: this thread was started from some test, and inherits libtest's output
/// capture, which the print macros honour; what they write would go to a captured buffer
/// that dies with the process, and the person would see only "error: test failed".
/// Writing on `std::io::stderr()` itself bypasses the capture.
fn exit_with(text: &str) -> ! {
    let mut err = std::io::stderr().lock();
    // On a line of its own: libtest may have left `test name ... ` unfinished.
    let _ = writeln!(err, "\n{text}");
    let _ = err.flush();
    std::process::exit(101);
}

fn stuck_report(shared: &Shared, limit: Duration, on_stuck: &OnStuck) -> String {
    let activity = shared.activity();
    let name = lock(&shared.test_name).clone();
    let replay = lock(&shared.replay_line).clone();
    let (where_, since) = match activity {
        Activity::Polling(id, since) => {
            let task = lock(&shared.metas)
                .get(id)
                .map_or_else(|| format!("#{id}"), |m| format!("{} (spawned at {})", m.label(), m.site));
            let stuck = Duration::from_nanos(wall::precise().saturating_sub(since.as_nanos() as u64));
            (
                format!("inside one poll of task {task}"),
                Instant::now().checked_sub(stuck).unwrap_or_else(Instant::now),
            )
        }
        Activity::InTokio => (
            "inside tokio's own scheduler: a task started with tokio::spawn (or a blocking call in one) has not returned".to_string(),
            Instant::now() - grace(limit),
        ),
        Activity::Idle => ("between polls".to_string(), Instant::now()),
    };
    let end = match on_stuck {
        OnStuck::Hand(_) => "The stuck thread cannot be stopped; it is left running and this test fails now.",
        OnStuck::Exit => "The stuck thread cannot be stopped, so the test process exits now (status 101).",
    };
    format!(
        "async-testkit: wall-clock timeout in {name}: the test ran longer than its limit of {limit:?} of real time,\n\
         and it is stuck {where_} (for at least {:?}).\n\
         A poll that never returns is a blocking call (std::thread::sleep, a blocking lock or read, a long\n\
         computation) or a loop without an .await in async code. Move blocking work to\n\
         tokio::task::spawn_blocking, or add an .await inside the loop; raise the limit with\n\
         #[async_testkit::test(timeout = \"..\")] if the work is really that long.\n\
         {end}\n\
         {replay}",
        since.elapsed(),
    )
}
