//! The virtual deadline and the deadlock probe.
//!
//! Every wait of the executor also waits on a *sentinel*: a tokio sleep until the
//! run's virtual deadline. When it fires with nothing else woken, the run is over, and
//! the probe tells why: it lets the clock run on toward a far point
//! ([`PROBE_SPAN`] past the deadline), one stop of tokio's timer wheel at a time. Reaching
//! that point with no task woken means no timer is pending anywhere (a deadlock); a task
//! woken on the way, or timers still firing after [`PROBE_STOP_LIMIT`] stops, mean the
//! run was waiting on time past its deadline (a virtual timeout).
//!
//! tokio's wheel reaches 2^36 ms (about 2.2 years) in one go; a timer farther away is
//! filed in its top level and refiled each time round, so the clock stops about every
//! 2.2 years on its way there. Those stops are cheap (a few microseconds each), so the
//! probe looks a thousand years ahead: a timer that far is still a timer.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::util::FAR_FUTURE;

/// How one wait of the executor ended.
pub(crate) enum WaitOutcome {
    /// A kit task is ready (or the main loop must decide something).
    Woken,
    /// tokio had nothing to run and would have parked (only when intercepting).
    Quiescent,
    /// The sentinel fired.
    Deadline,
    /// The watchdog says the wall-clock deadline passed.
    WallTimeout,
    /// tokio ran on without ever having nothing to run, and no kit task woke (only a
    /// settling wait that watches for it ends so: see `Executor::settle_at_end`).
    Spinning,
}

/// What the probe concluded.
pub(crate) enum Probed {
    /// No timer was pending: nothing could ever wake the run.
    Deadlock,
    /// The run was waiting on time past its deadline; `why` says how that was seen.
    Timeout { why: String },
    /// The wall-clock deadline passed while probing.
    WallTimeout,
}

/// How many stops of the clock after the virtual deadline the probe makes before it
/// concludes that timers keep firing (a ticker past the deadline). On its way to a far
/// timer tokio's wheel stops about once every 2.2 years (and once a level near the
/// end): [`PROBE_SPAN`] takes some 460 such stops, well under this.
const PROBE_STOP_LIMIT: u32 = 4096;
/// How far the deadlock probe looks past the virtual deadline: 1000 years of 365 days.
const PROBE_SPAN: Duration = Duration::from_secs(1000 * 365 * 24 * 3600);

/// The sentinel and the probe's state for one run.
pub(crate) struct DeadlineProbe {
    /// The sleep every wait also waits on: until the virtual deadline, or, once probing
    /// has begun, until the far probe point. `None` before the first wait, while a wait
    /// holds it (taken out of the cell because the wait runs user code), and after the
    /// run's tasks are cancelled.
    sentinel: RefCell<Option<Pin<Box<Sleep>>>>,
    /// The sentinel has been polled once, so it is in tokio's timer wheel: later waits
    /// ask whether it elapsed instead of polling it again. Reset with a new sentinel.
    armed: Cell<bool>,
    /// The probe is stepping the clock: its moves are the kit's bookkeeping, not traced.
    probing: Cell<bool>,
    /// Set once a deadlock is found: the instant the run went idle, which the run then
    /// reports as its virtual time (the probe moved the clock on past it).
    frozen_at: Cell<Option<Duration>>,
    /// The run has no virtual limit (its deadline is past what the clock can represent):
    /// a timer the probe finds is not a timeout, the run goes on.
    unlimited: Cell<bool>,
}

impl DeadlineProbe {
    pub(crate) fn new() -> Self {
        DeadlineProbe {
            sentinel: RefCell::new(None),
            armed: Cell::new(false),
            probing: Cell::new(false),
            frozen_at: Cell::new(None),
            unlimited: Cell::new(false),
        }
    }

    /// Takes the sentinel out for a wait, making it (at `start + limit`) on first use.
    /// Give it back with [`DeadlineProbe::put_back`] when the wait ends.
    pub(crate) fn take(&self, start: Instant, limit: Duration) -> Pin<Box<Sleep>> {
        self.sentinel.take().unwrap_or_else(|| {
            // A limit past what the clock can represent (`Duration::MAX`: no limit) puts
            // the sentinel at a far point: reaching it only starts the probe, and a timer
            // the probe finds lets the run go on.
            let deadline = start.checked_add(limit).unwrap_or_else(|| {
                self.unlimited.set(true);
                start + FAR_FUTURE
            });
            Box::pin(tokio::time::sleep_until(deadline))
        })
    }

    pub(crate) fn put_back(&self, sentinel: Pin<Box<Sleep>>) {
        *self.sentinel.borrow_mut() = Some(sentinel);
    }

    /// Whether the sentinel fired: polled once to enter tokio's timer wheel (any
    /// `block_on` waker of the runtime serves to wake it), asked after that.
    pub(crate) fn fired(&self, sentinel: Pin<&mut Sleep>, cx: &mut Context<'_>) -> bool {
        if self.armed.replace(true) {
            sentinel.is_elapsed()
        } else {
            sentinel.poll(cx).is_ready()
        }
    }

    /// Whether the run has no virtual limit (see `unlimited`).
    pub(crate) fn unlimited(&self) -> bool {
        self.unlimited.get()
    }

    /// Whether the probe is stepping the clock now.
    pub(crate) fn probing(&self) -> bool {
        self.probing.get()
    }

    /// Where the run's virtual time stopped, once a deadlock was found.
    pub(crate) fn frozen_at(&self) -> Option<Duration> {
        self.frozen_at.get()
    }

    /// Drops the sentinel (the run is over).
    pub(crate) fn disarm(&self) {
        self.sentinel.borrow_mut().take();
    }

    /// The deadline passed with nothing woken (the run went idle at `idle_since`): runs
    /// `wait` (one wait of the executor, letting tokio jump the clock once) until it
    /// can tell a deadlock from a timeout. `now` reads the virtual clock.
    pub(crate) fn probe(
        &self,
        deadline: Duration,
        idle_since: Duration,
        mut wait: impl FnMut() -> WaitOutcome,
        now: impl Fn() -> Duration,
    ) -> Probed {
        // Not `sleep(PROBE_SPAN)`: tokio cuts a sleep's duration to 30 years. Where the
        // platform's clock cannot reach that far, as far as it can.
        let from = Instant::now();
        let far = from.checked_add(PROBE_SPAN).unwrap_or_else(|| from + FAR_FUTURE);
        *self.sentinel.borrow_mut() = Some(Box::pin(tokio::time::sleep_until(far)));
        self.armed.set(false);
        self.probing.set(true);
        let mut stops = 0;
        let probed = loop {
            match wait() {
                WaitOutcome::Deadline => break Probed::Deadlock,
                WaitOutcome::WallTimeout => break Probed::WallTimeout,
                WaitOutcome::Woken | WaitOutcome::Spinning => {
                    break Probed::Timeout {
                        why: format!(
                            "a task was still waiting on a timer past it, woken at {}",
                            crate::trace::Vt(now())
                        ),
                    };
                }
                WaitOutcome::Quiescent => {
                    stops += 1;
                    if stops > PROBE_STOP_LIMIT {
                        break Probed::Timeout {
                            why: format!("timers were still firing after {}", crate::trace::Vt(deadline)),
                        };
                    }
                }
            }
        };
        self.probing.set(false);
        if let Probed::Deadlock = probed {
            self.frozen_at.set(Some(idle_since));
        }
        probed
    }
}
