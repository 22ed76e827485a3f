//! What every handle of one mock shares: the call log and counters, the behaviours
//! (the mock's own and its `when` branches), the waiters for a number of calls, and the
//! bookkeeping of a call's end. `AsyncMock` (mod.rs) configures it; a call's future
//! (call.rs) records into it.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Duration;

use tokio::time::Instant;

use super::gate::Gate;
use super::log::{Log, Outcome};
use super::times::Expect;
use crate::runtime::executor;
use crate::runtime::family::{Adopted, Owner};
use crate::schedule::SplitMix64;
use crate::time::{PollMark, poll_mark};
use crate::util::lock;

/// A boxed, sendable future: what `returns_with` closures are turned into.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What every handle of one mock shares.
pub(crate) struct Shared<Args, Ret> {
    pub(crate) state: Mutex<State<Args, Ret>>,
    pub(crate) name: Option<String>,
    pub(crate) site: &'static Location<'static>,
    pub(crate) describe: fn(&Args) -> String,
    pub(crate) clone_args: fn(&Args) -> Args,
}

pub(crate) struct WaitFor {
    pub(crate) calls: usize,
    pub(crate) waker: Waker,
}

pub(crate) struct State<Args, Ret> {
    pub(crate) calls: Log<Args>,
    pub(crate) awaited: usize,
    pub(crate) completed: usize,
    pub(crate) cancelled: usize,
    pub(crate) in_flight: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) root: Behaviour<Args, Ret>,
    pub(crate) branches: Vec<Behaviour<Args, Ret>>,
    pub(crate) waiters: Vec<WaitFor>,
    /// The run whose end check covers this mock, and its family (`runtime::family`):
    /// the runs of one test.
    pub(crate) owner: Owner,
    /// Earlier runs of that family that used this mock: each run of a family starts the
    /// mock's record afresh (the `generation` of its calls changes).
    pub(crate) earlier_runs: u32,
    pub(crate) generation: u32,
    /// Where call times count from: the start of that run, or the mock's creation.
    pub(crate) origin: Instant,
    /// Jitter outside a kit run.
    pub(crate) rng: SplitMix64,
    /// The last reading of the clock (since `origin`) and the kit poll it was taken in:
    /// later readings in that poll reuse it (see [`State::now`]).
    pub(crate) stamp: Option<(PollMark, Duration)>,
    /// The run `owner` last adopted the mock for (its `run`), checked first on each call.
    pub(crate) run: u64,
}

pub(crate) type Predicate<Args> = Box<dyn Fn(&Args) -> bool + Send + Sync>;
pub(crate) type Producer<Args, Ret> = Arc<dyn Fn(Args) -> BoxFuture<Ret> + Send + Sync>;

/// The steady answer of a behaviour, used once its sequence is spent.
pub(crate) enum Steady<Args, Ret> {
    Unset,
    Value(Ret, fn(&Ret) -> Ret),
    With(Producer<Args, Ret>),
    Panic(String),
    Hang,
}

/// How the mock, or one of its branches, answers.
pub(crate) struct Behaviour<Args, Ret> {
    pub(crate) predicate: Option<Predicate<Args>>,
    pub(crate) site: &'static Location<'static>,
    pub(crate) seq: VecDeque<Ret>,
    pub(crate) seq_given: usize,
    /// How many of those values came from `returns_once`.
    pub(crate) once_given: usize,
    pub(crate) steady: Steady<Args, Ret>,
    pub(crate) delay: Duration,
    /// Lowest extra delay and the width of the range, in nanoseconds (inclusive).
    pub(crate) jitter: Option<(Duration, u64)>,
    pub(crate) gate: Option<Gate>,
    pub(crate) matched: usize,
    pub(crate) expect: Option<Expect>,
}

impl<Args, Ret> Behaviour<Args, Ret> {
    pub(crate) fn new(predicate: Option<Predicate<Args>>, site: &'static Location<'static>) -> Self {
        Behaviour {
            predicate,
            site,
            seq: VecDeque::new(),
            seq_given: 0,
            once_given: 0,
            steady: Steady::Unset,
            delay: Duration::ZERO,
            jitter: None,
            gate: None,
            matched: 0,
            expect: None,
        }
    }
}

impl<Args, Ret> State<Args, Ret> {
    /// Virtual time since `origin`. tokio's clock is read once per kit poll (`core` is
    /// the run on this thread): it stands still within a poll until the polled task is
    /// woken (see `time::poll_mark`), so the calls a poll makes and completes share one
    /// reading. Elsewhere (tokio's tasks, other threads) each call reads it.
    #[inline]
    pub(crate) fn now(&mut self, core: Option<&executor::Executor>) -> Duration {
        let mark = core.and_then(poll_mark);
        match (mark, &self.stamp) {
            (Some(mark), Some((seen, at))) if mark == *seen => *at,
            _ => self.read_clock(mark),
        }
    }

    /// Reads tokio's clock, and keeps the reading for later ones under `mark`.
    #[inline(never)]
    fn read_clock(&mut self, mark: Option<PollMark>) -> Duration {
        let at = Instant::now().saturating_duration_since(self.origin);
        self.stamp = mark.map(|m| (m, at));
        at
    }

    /// Takes the waiters the calls made so far satisfy, to be woken once the lock is let go.
    pub(crate) fn take_waiters(&mut self) -> Vec<Waker> {
        let calls = self.calls.len();
        let (ready, waiting): (Vec<WaitFor>, _) = std::mem::take(&mut self.waiters)
            .into_iter()
            .partition(|w| w.calls <= calls);
        self.waiters = waiting;
        ready.into_iter().map(|w| w.waker).collect()
    }
}

impl<Args, Ret> Shared<Args, Ret> {
    pub(crate) fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("mock `{n}`"),
            None => format!("the mock created at {}", self.site),
        }
    }

    /// The call log as a table.
    pub(crate) fn table(&self) -> String {
        lock(&self.state).calls.table(&self.label(), self.describe)
    }

    /// Records that call `index` (of `generation`) was awaited.
    pub(crate) fn mark_awaited(&self, generation: u32, index: usize) {
        let mut state = lock(&self.state);
        if state.generation != generation {
            return;
        }
        state.awaited += 1;
        state.calls.mark_awaited(index);
    }

    /// Records how a call ended (and that it was awaited, when `awaited_now`); a call of
    /// an earlier run's record (`generation`) is not in this one.
    pub(crate) fn end_call(&self, generation: u32, index: usize, outcome: Outcome, awaited_now: bool) {
        let core = executor::try_current();
        let mut state = lock(&self.state);
        if state.generation != generation {
            return;
        }
        let now = state.now(core.as_deref());
        if awaited_now {
            state.awaited += 1;
        }
        match outcome {
            Outcome::Completed => state.completed += 1,
            Outcome::Cancelled => state.cancelled += 1,
            _ => {}
        }
        state.in_flight -= 1;
        state.calls.end(index, now, outcome, awaited_now);
    }

    /// The unmet expectations, one message each, with the call log.
    pub(crate) fn verify(&self) -> Result<(), String> {
        let state = lock(&self.state);
        let label = self.label();
        let mut broken = Vec::new();
        if let Some(e) = &state.root.expect {
            if let Err(m) = e.check(&label, state.calls.len()) {
                broken.push(m);
            }
        }
        for (i, b) in state.branches.iter().enumerate() {
            if let Some(e) = &b.expect {
                let who = format!("{label}, branch {} (when at {}),", i + 1, b.site);
                if let Err(m) = e.check(&who, b.matched) {
                    broken.push(m);
                }
            }
        }
        if broken.is_empty() {
            return Ok(());
        }
        drop(state);
        Err(format!("{}\n{}", broken.join("\n"), self.table()))
    }
}

impl<Args, Ret> Shared<Args, Ret> {
    /// Makes `core`'s run the one this mock belongs to. When it was not already, the
    /// caller registers the end check, and, for the first run of a family, has the
    /// family's later runs adopt the mock as they start.
    ///
    /// A mock an earlier run of the same family used (built outside the test's closure,
    /// and so shared by every schedule of an exploration) starts this run with an empty
    /// record: calls, counters, branch matches and waiters. Its behaviour stays, and
    /// values a `returns_seq` gave earlier runs are gone.
    pub(crate) fn adopt(&self, state: &mut State<Args, Ret>, core: &executor::Executor) -> Adopted {
        let adopted = state.owner.adopt(core);
        state.run = core.run_id;
        if adopted == Adopted::Again {
            state.earlier_runs += 1;
            state.generation = state.generation.wrapping_add(1);
            state.calls.clear();
            state.awaited = 0;
            state.completed = 0;
            state.cancelled = 0;
            state.in_flight = 0;
            state.max_in_flight = 0;
            state.waiters.clear();
            state.root.matched = 0;
            for b in &mut state.branches {
                b.matched = 0;
            }
        }
        if adopted != Adopted::Already {
            state.origin = core.start;
            state.stamp = None;
        }
        adopted
    }
}

impl<Args, Ret> Drop for Shared<Args, Ret> {
    fn drop(&mut self) {
        // Mocks used in a kit run were checked by the run; others are checked here.
        let checked = lock(&self.state).owner.used();
        if !checked && !std::thread::panicking() {
            if let Err(message) = self.verify() {
                panic!("{message}");
            }
        }
    }
}
