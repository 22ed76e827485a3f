//! The tokio runtime under a run, and the pool that lets an exploration run its
//! schedules one after another on the same runtime instead of building one per schedule.
//!
//! A schedule on a reused runtime must see exactly what it would see on a fresh one, or
//! a failure found there would not replay. tokio's state between runs is empty once no
//! task of its own is alive and no thread of its blocking pool was ever started (either
//! one sends a runtime to the bin). What remains is the paused clock, which only moves
//! forward, and the timer wheel, whose levels are cut at multiples of 64^k milliseconds
//! from the runtime's origin. Before each reuse the clock is moved to the next multiple
//! of 2^36 ms (about 2.2 years, the wheel's whole reach) past the origin: every deadline
//! then differs from the fresh runtime's by a multiple of every level's span, and the
//! wheel files, cascades and fires timers in the same order.
//!
//! The runtime also counts the threads of its blocking pool ([`BlockingThreads`]), which
//! is how the leak oracle sees `spawn_blocking` closures still running: tokio has no
//! stable count of them (its `num_blocking_threads`, `num_idle_blocking_threads` and
//! `blocking_queue_depth` metrics are `tokio_unstable` in 1.54), so the kit keeps each
//! thread to one stretch of work (`thread_keep_alive` of zero: a thread with nothing
//! queued exits at once) and counts threads from the moment tokio decides to start one
//! (it asks for the name on the spawning thread) to `on_thread_stop`.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::executor;
use super::link::{self, RunLink};
use super::panics;
use super::panics::RunPanics;
use super::shared::Shared;
use crate::util::lock;

/// The span of tokio's timer wheel in milliseconds: 6 levels of 64 slots.
const WHEEL_SPAN_MS: u64 = 1 << 36;
/// How far from its origin a kept runtime's clock may be moved: tokio counts ticks in a
/// u64 of milliseconds, and a run needs room past its start.
const MAX_ORIGIN_MS: u128 = 1 << 62;

/// The run a runtime serves now, as its threads need it: the run's shared state and the
/// virtual instant it started at.
type RunSlot = Arc<Mutex<Option<(Arc<RunPanics>, tokio::time::Instant, Arc<RunLink>)>>>;

/// A paused current-thread tokio runtime with the kit's hooks.
pub(crate) struct KitRuntime {
    pub(crate) rt: tokio::runtime::Runtime,
    io: bool,
    /// The paused clock's reading when the runtime was built: tick zero of its wheel.
    origin: tokio::time::Instant,
    /// The run now on this runtime, for the threads tokio starts (its blocking pool).
    run: RunSlot,
    /// Whether tokio ever started a thread: a blocking task may outlive its run.
    threads_started: Arc<AtomicBool>,
    /// The threads of the blocking pool alive now.
    pub(crate) blocking: Arc<BlockingThreads>,
}

/// How many threads of a runtime's blocking pool are alive: from the moment tokio decides
/// to start one (on the thread that spawns the closure, so a closure spawned just before
/// the body returned is already counted) until the thread stops. With a keep-alive of
/// zero a thread stops as soon as it finds nothing queued after a closure, so, once
/// tokio's bookkeeping after a closure is done, each thread alive runs a closure.
#[derive(Default)]
pub(crate) struct BlockingThreads {
    /// Read without a lock by every wait (the panic-hook check, the leak oracle); changed
    /// under `lock`, so that a waiter in [`BlockingThreads::alive_after`] misses no stop.
    alive: AtomicUsize,
    lock: Mutex<()>,
    stopped: Condvar,
}

impl BlockingThreads {
    fn starting(&self) {
        let _guard = lock(&self.lock);
        self.alive.fetch_add(1, SeqCst);
    }

    fn stopping(&self) {
        let _guard = lock(&self.lock);
        let was = self.alive.load(SeqCst);
        self.alive.store(was.saturating_sub(1), SeqCst);
        if was <= 1 {
            self.stopped.notify_all();
        }
    }

    /// The threads alive now.
    pub(crate) fn alive(&self) -> usize {
        self.alive.load(SeqCst)
    }

    /// The threads alive once every thread has stopped, or `bound` of real time has
    /// passed. tokio wakes a closure's `JoinHandle` before its thread is done with the
    /// closure (it releases the task, then looks at its queue, then stops): a thread whose
    /// closure was awaited stops within microseconds, unless the machine is very busy.
    pub(crate) fn alive_after(&self, bound: Duration) -> usize {
        if self.alive() == 0 {
            return 0;
        }
        let guard = lock(&self.lock);
        let _guard = self
            .stopped
            .wait_timeout_while(guard, bound, |_| self.alive() > 0)
            .unwrap_or_else(|e| e.into_inner());
        self.alive()
    }
}

impl KitRuntime {
    pub(crate) fn build(io: bool) -> Self {
        let mut b = tokio::runtime::Builder::new_current_thread();
        b.enable_time().start_paused(true);
        if io {
            b.enable_io();
        }
        // Called on the thread that drives the runtime, which is the run's own thread.
        b.on_thread_park(executor::on_park);
        let run = RunSlot::default();
        let threads_started = Arc::new(AtomicBool::new(false));
        let blocking = Arc::new(BlockingThreads::default());
        // One closure (and whatever is queued behind it) per thread, so that the threads
        // alive are the closures still running (see `BlockingThreads`).
        b.thread_keep_alive(Duration::ZERO);
        {
            let blocking = blocking.clone();
            // Called on the spawning thread, under the pool's lock, when tokio starts a
            // thread for a closure (the name is tokio's default).
            b.thread_name_fn(move || {
                blocking.starting();
                "tokio-rt-worker".to_string()
            });
        }
        {
            let blocking = blocking.clone();
            b.on_thread_stop(move || blocking.stopping());
        }
        {
            let run = run.clone();
            let threads_started = threads_started.clone();
            b.on_thread_start(move || {
                threads_started.store(true, SeqCst);
                if let Some((panics, start, run)) = lock(&run).clone() {
                    panics::adopt_thread(panics, start);
                    link::adopt(run);
                }
            });
        }
        let rt = b
            .build()
            .unwrap_or_else(|e| panic!("async-testkit could not build a tokio runtime for this run: {e}"));
        let origin = {
            let _g = rt.enter();
            tokio::time::Instant::now()
        };
        KitRuntime {
            rt,
            io,
            origin,
            run,
            threads_started,
            blocking,
        }
    }

    /// Marks the start of a run on this runtime.
    pub(crate) fn begin(&self, shared: &Arc<Shared>, start: tokio::time::Instant, run: &Arc<RunLink>) {
        *lock(&self.run) = Some((shared.panics.clone(), start, run.clone()));
    }

    /// Marks the end of the run.
    pub(crate) fn end(&self) {
        lock(&self.run).take();
    }

    fn reusable(&self) -> bool {
        !self.threads_started.load(SeqCst) && self.rt.metrics().num_alive_tasks() == 0
    }

    /// Moves the clock to the next multiple of the wheel's span past the origin, unless it
    /// stands on one; false when the clock has come too far for that (after some 10^8
    /// schedules).
    fn align(&self) -> bool {
        let now = {
            let _g = self.rt.enter();
            tokio::time::Instant::now()
        };
        let elapsed = now.duration_since(self.origin);
        let since = elapsed.as_millis();
        if elapsed == Duration::from_millis(since as u64) && since % u128::from(WHEEL_SPAN_MS) == 0 {
            // Where the last run started and so where its driver brought the wheel: the
            // clock never moved in it (time only goes forward), and a run that moves it
            // no further starts in the same state (one advance less per schedule).
            return true;
        }
        let next = (since / u128::from(WHEEL_SPAN_MS) + 1) * u128::from(WHEEL_SPAN_MS);
        if next > MAX_ORIGIN_MS {
            return false;
        }
        let target = self.origin + Duration::from_millis(next as u64);
        // tokio's advance yields once after moving the clock; the round of tokio's loop
        // that follows turns the driver, which brings the wheel to the new instant. It
        // panics if the last run left the clock running (`tokio::time::resume`): then
        // this runtime is not reused.
        panics::quietly(|| self.rt.block_on(tokio::time::advance(target - now))).is_some()
    }

    pub(crate) fn shutdown(self) {
        self.rt.shutdown_background();
    }
}

/// At most one runtime kept between the schedules of an exploration.
#[derive(Default)]
pub(crate) struct RuntimePool(RefCell<Option<KitRuntime>>);

impl RuntimePool {
    /// A runtime to run on: the kept one (moved to a fresh origin) if it has the drivers
    /// asked for, else a new one.
    pub(crate) fn take(&self, io: bool) -> KitRuntime {
        match self.0.borrow_mut().take() {
            Some(kept) if kept.io == io && kept.align() => kept,
            other => {
                if let Some(kept) = other {
                    kept.shutdown();
                }
                KitRuntime::build(io)
            }
        }
    }

    /// Keeps `rt` for the next run when nothing of the last run lives on in it.
    pub(crate) fn give_back(&self, rt: KitRuntime) {
        if rt.reusable() {
            if let Some(old) = self.0.borrow_mut().replace(rt) {
                old.shutdown();
            }
        } else {
            rt.shutdown();
        }
    }
}

impl Drop for RuntimePool {
    fn drop(&mut self) {
        if let Some(kept) = self.0.get_mut().take() {
            kept.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{KitRuntime, RuntimePool, WHEEL_SPAN_MS};

    fn now(rt: &KitRuntime) -> tokio::time::Instant {
        let _g = rt.rt.enter();
        tokio::time::Instant::now()
    }

    #[test]
    fn a_kept_runtime_moves_to_the_next_span_only_when_its_clock_moved() {
        let pool = RuntimePool::default();
        let rt = pool.take(false);
        let origin = rt.origin;
        assert_eq!(now(&rt), origin);
        pool.give_back(rt);
        let rt = pool.take(false);
        assert_eq!(
            now(&rt),
            origin,
            "a run that did not move the clock leaves nothing to align"
        );
        rt.rt
            .block_on(async { tokio::time::sleep(Duration::from_nanos(1_500_000)).await });
        pool.give_back(rt);
        let rt = pool.take(false);
        let span = Duration::from_millis(WHEEL_SPAN_MS);
        assert_eq!(now(&rt) - origin, span, "moved: to the next multiple of the span");
        pool.give_back(rt);
        let rt = pool.take(false);
        assert_eq!(now(&rt) - origin, span, "standing on a multiple: not moved again");
        pool.give_back(rt);
    }
}
