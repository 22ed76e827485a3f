//! What every handle of one mock shares: the call log and counters, the behaviours
//! (the mock's own and its `when` branches), the waiters for a number of calls, and the
//! bookkeeping of a call's end. `AsyncMock` (mod.rs) configures it; a call's future
//! (call.rs) records into it.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use tokio::time::Instant;

use super::gate::Gate;
use super::log::{Log, Outcome};
use super::times::Expect;
use crate::runtime::executor;
use crate::runtime::family::{Adopted, Owner};
use crate::schedule::SplitMix64;
use crate::time::poll_mark;
use crate::util::lock;

/// A boxed, sendable future: what `returns_with` closures are turned into.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What every handle of one mock shares.
pub(crate) struct Shared<Args, Ret> {
    /// Read and written through [`Shared::state`], never directly.
    pub(crate) locked: Mutex<State<Args, Ret>>,
    /// A call that completed without the lock, not yet in the record (0 for none):
    /// see [`Shared::complete_unlocked`].
    pub(crate) done: AtomicU64,
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
    /// The last reading of the clock (since `origin`) and the mark of the kit poll it was
    /// taken in (0 for none): later readings under that mark reuse it (see [`State::now`]).
    pub(crate) stamp: (u64, Duration),
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
    /// Virtual time since `origin`. tokio's clock is read once per kit poll (`mark`,
    /// from `time::poll_mark`): it stands still within a poll until the polled task is
    /// woken, so the calls a poll makes and completes share one reading. Elsewhere
    /// (mark 0: tokio's tasks, other threads) each call reads it.
    #[inline]
    pub(crate) fn now(&mut self, mark: u64) -> Duration {
        match self.stamp {
            (seen, at) if seen == mark && mark != 0 => at,
            _ => self.read_clock(mark),
        }
    }

    /// Reads tokio's clock, and keeps the reading for later ones under `mark`.
    #[inline(never)]
    fn read_clock(&mut self, mark: u64) -> Duration {
        let at = Instant::now().saturating_duration_since(self.origin);
        self.stamp = (mark, at);
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

    /// The mock's state, locked, with every call completed so far in it: every reader
    /// and writer goes through here.
    #[inline]
    pub(crate) fn state(&self) -> MutexGuard<'_, State<Args, Ret>> {
        self.state_inlined()
    }

    /// [`Shared::state`], inlined: for a call, which most often finds the call before it
    /// in `done`.
    #[inline(always)]
    pub(crate) fn state_inlined(&self) -> MutexGuard<'_, State<Args, Ret>> {
        let mut state = lock(&self.locked);
        // Only a holder of the lock empties `done`, and no one fills it while it is full:
        // a plain store does (a full one is read first, with Acquire).
        let done = self.done.load(Acquire);
        if done != 0 {
            self.done.store(0, Release);
            let (generation, index) = ((done >> 32) as u32, (done & u64::from(u32::MAX)) as usize - 1);
            if state.generation == generation {
                state.awaited += 1;
                state.completed += 1;
                state.in_flight -= 1;
                state.calls.complete_at_start(index);
            }
        }
        state
    }

    /// Records, without the lock when it can, that call `index` of `generation` was first
    /// polled and completed under the same kit poll's mark as it was made in: so it ended
    /// at the instant it began. The call goes into `done`, for the next holder of the lock
    /// to write into the record ([`Shared::state`]): a call, a look at the record, the
    /// end check. Returns false, having written nothing, when `done` holds another call
    /// (or the index does not fit): the caller records the end under the lock.
    #[inline]
    pub(crate) fn complete_unlocked(&self, generation: u32, index: usize) -> bool {
        let Ok(index) = u32::try_from(index + 1) else {
            return false;
        };
        let done = (u64::from(generation) << 32) | u64::from(index);
        self.done.compare_exchange(0, done, Release, Relaxed).is_ok()
    }

    /// The call log as a table.
    pub(crate) fn table(&self) -> String {
        self.state().calls.table(&self.label(), self.describe)
    }

    /// Records that call `index` (of `generation`) was awaited.
    pub(crate) fn mark_awaited(&self, generation: u32, index: usize) {
        let mut state = self.state();
        if state.generation != generation {
            return;
        }
        state.awaited += 1;
        state.calls.mark_awaited(index);
    }

    /// Records how a call ended (and that it was awaited, when `awaited_now`); a call of
    /// an earlier run's record (`generation`) is not in this one.
    pub(crate) fn end_call(&self, generation: u32, index: usize, outcome: Outcome, awaited_now: bool) {
        let (_, mark) = poll_mark();
        let mut state = self.state();
        if state.generation != generation {
            return;
        }
        let now = state.now(mark);
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
        let state = self.state();
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
            state.stamp = (0, Duration::ZERO);
        }
        adopted
    }
}

impl<Args, Ret> Drop for Shared<Args, Ret> {
    fn drop(&mut self) {
        // Mocks used in a kit run were checked by the run; others are checked here.
        let checked = self.state().owner.used();
        if !checked && !std::thread::panicking() {
            if let Err(message) = self.verify() {
                panic!("{message}");
            }
        }
    }
}
