//! The clock modes, and the executor's readings of both clocks.
//!
//! [`Clock`] says how virtual time moves (the executor acts on it where tokio goes
//! quiescent, see `Executor::wait_and_decide`). [`ClockReadings`] caches what the
//! executor last read of the virtual clock (reading tokio's clock takes a lock) and of
//! the wall clock (polls are timed from one reading to the next, see [`super::wall`]).

use std::cell::Cell;
use std::time::Duration;

use super::wall;

/// How virtual time moves.
///
/// ```
/// use std::time::Duration;
/// use async_testkit::{Builder, Clock, time};
///
/// // Manual: time moves only when the test advances it.
/// Builder::new().clock(Clock::Manual).run(|| async {
///     let t = async_testkit::spawn(async { tokio::time::sleep(Duration::from_secs(5)).await });
///     time::advance(Duration::from_secs(5)).await;
///     assert!(t.is_finished());
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Clock {
    /// When every task waits and a timer is pending, the clock jumps to the timer at once.
    #[default]
    Auto,
    /// Like `Auto`, but the clock jumps only after the runtime has been idle for this much
    /// wall time: for tests that wait on real I/O or `spawn_blocking`, which the clock
    /// must not run ahead of.
    AutoJump(Duration),
    /// Time moves only through [`crate::time::advance`] and [`crate::time::advance_to`].
    /// A run where every task waits and nothing advances the clock is reported as stalled.
    Manual,
}

impl Clock {
    /// `auto`, `autojump(1ms)`, `manual`, as the report prints it.
    pub(crate) fn describe(self) -> String {
        match self {
            Clock::Auto => "auto".into(),
            Clock::AutoJump(d) => format!("autojump({d:?})"),
            Clock::Manual => "manual".into(),
        }
    }
}

/// With a manual clock, how long (wall time) a quiescent runtime is given for outside
/// events (real I/O, `spawn_blocking`) before it is reported as stalled.
pub(crate) const MANUAL_STALL_GRACE: Duration = Duration::from_millis(20);

/// The executor's last readings of the clocks.
pub(crate) struct ClockReadings {
    /// The virtual time last read (and traced as the clock's position).
    pub(crate) last_seen: Cell<Duration>,
    /// The virtual time as the scheduler last read it, while it cannot have moved: tokio
    /// moves its paused clock only inside `block_on` or in `tokio::time::advance`, which
    /// always yields after moving it, so a poll that ends waiting (not woken) moved
    /// nothing. `None` once it may have moved.
    pub(crate) sched_now: Cell<Option<Duration>>,
    /// The wall clock's last reading ([`ClockReadings::read_wall`]), where the next poll
    /// is timed from.
    pub(crate) wall_mark: Cell<u64>,
    /// Polls are timed with the coarse clock (see [`wall`]); fixed for the run.
    coarse_wall: bool,
}

impl ClockReadings {
    pub(crate) fn new(coarse_wall: bool) -> Self {
        ClockReadings {
            last_seen: Cell::new(Duration::ZERO),
            sched_now: Cell::new(None),
            wall_mark: Cell::new(wall::precise()),
            coarse_wall,
        }
    }

    /// Reads the wall clock and keeps the reading as the start of the next poll.
    pub(crate) fn mark_wall(&self) -> u64 {
        let now = self.read_wall();
        self.wall_mark.set(now);
        now
    }

    /// Reads the wall clock the run times its polls with.
    pub(crate) fn read_wall(&self) -> u64 {
        if self.coarse_wall {
            wall::coarse()
        } else {
            wall::precise()
        }
    }
}
