//! The event log of a run: what each task did, and when in virtual time.
//!
//! Every run keeps the last events in a ring (they become the timeline of a failure
//! report) and folds every event into a running hash. Two runs with the same code, seed
//! and kit version have the same hash: [`crate::Report::trace_hash`] is how the
//! determinism tests compare runs.
//!
//! ```
//! let a = async_testkit::Builder::new().try_run(|| async {
//!     async_testkit::spawn(async { tokio::time::sleep(std::time::Duration::from_secs(1)).await })
//!         .await
//!         .unwrap();
//! }).unwrap();
//! let b = async_testkit::Builder::new().try_run(|| async {
//!     async_testkit::spawn(async { tokio::time::sleep(std::time::Duration::from_secs(1)).await })
//!         .await
//!         .unwrap();
//! }).unwrap();
//! assert_eq!(a.trace_hash(), b.trace_hash());
//! assert!(a.timeline().contains("spawned"));
//! ```

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::panic::Location;
use std::time::Duration;

use crate::schedule::mix64;

/// The id of a kit task within one run: the test body is task 0, then tasks are numbered
/// in the order they were spawned.
pub(crate) type TaskId = usize;

/// What happened.
#[derive(Clone, Debug)]
pub(crate) enum EventKind {
    Spawned {
        child: TaskId,
    },
    /// The task was polled; `options` is how many things were ready to choose from.
    Polled {
        options: usize,
    },
    Pending,
    Completed,
    Panicked,
    Cancelled,
    Yielded {
        at: &'static Location<'static>,
    },
    TokioTurn,
    ClockMoved {
        from: Duration,
    },
    Settled,
}

/// One entry of the log.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub(crate) seq: u64,
    pub(crate) at: Duration,
    pub(crate) task: Option<TaskId>,
    pub(crate) kind: EventKind,
}

/// Ring of recent events plus a hash of all of them.
pub(crate) struct Trace {
    recent: VecDeque<Event>,
    capacity: usize,
    count: u64,
    hash: u64,
}

impl Trace {
    pub(crate) fn new(capacity: usize) -> Self {
        Trace {
            recent: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            count: 0,
            hash: 0x243F_6A88_85A3_08D3,
        }
    }

    pub(crate) fn record(&mut self, at: Duration, task: Option<TaskId>, kind: EventKind) {
        let code: u64 = match &kind {
            EventKind::Spawned { child } => 1 ^ ((*child as u64) << 8),
            EventKind::Polled { options } => 2 ^ ((*options as u64) << 8),
            EventKind::Pending => 3,
            EventKind::Completed => 4,
            EventKind::Panicked => 5,
            EventKind::Cancelled => 6,
            EventKind::Yielded { at } => 7 ^ ((at.line() as u64) << 8) ^ ((at.column() as u64) << 40),
            EventKind::TokioTurn => 8,
            EventKind::ClockMoved { .. } => 9,
            EventKind::Settled => 10,
        };
        let task_code = task.map_or(u64::MAX, |t| t as u64);
        self.hash = mix64(self.hash ^ code).wrapping_add(mix64(task_code ^ (at.as_nanos() as u64)));
        self.count += 1;
        if self.capacity == 0 {
            return;
        }
        if self.recent.len() == self.capacity {
            self.recent.pop_front();
        }
        self.recent.push_back(Event {
            seq: self.count,
            at,
            task,
            kind,
        });
    }

    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Renders the recent events, newest last, naming tasks through `name`.
    pub(crate) fn render(&self, name: &dyn Fn(TaskId) -> String, limit: usize) -> String {
        let mut out = String::new();
        let skip = self.recent.len().saturating_sub(limit);
        if self.count > (self.recent.len() - skip) as u64 {
            let _ = writeln!(
                out,
                "    ... {} earlier events not shown",
                self.count - (self.recent.len() - skip) as u64
            );
        }
        for e in self.recent.iter().skip(skip) {
            let who = match e.task {
                Some(t) => name(t),
                None => "tokio".to_string(),
            };
            let what = match &e.kind {
                EventKind::Spawned { child } => format!("spawned {}", name(*child)),
                EventKind::Polled { options } if *options > 1 => {
                    format!("polled (chosen from {options} ready)")
                }
                EventKind::Polled { .. } => "polled".to_string(),
                EventKind::Pending => "waits".to_string(),
                EventKind::Completed => "completed".to_string(),
                EventKind::Panicked => "panicked".to_string(),
                EventKind::Cancelled => "cancelled".to_string(),
                EventKind::Yielded { at } => format!("yield point at {at}"),
                EventKind::TokioTurn => "tokio's own tasks ran".to_string(),
                EventKind::ClockMoved { from } => {
                    format!("clock moved from {} to {}", Vt(*from), Vt(e.at))
                }
                EventKind::Settled => "settled: nothing more runnable now".to_string(),
            };
            let _ = writeln!(
                out,
                "    {:>5}  {:>12}  {who}: {what}",
                e.seq,
                Vt(e.at).to_string()
            );
        }
        out
    }
}

/// Formats a virtual elapsed time compactly: `0s`, `1.5ms`, `2.000s`, `1h02m03.004s`.
pub(crate) struct Vt(pub(crate) Duration);

impl fmt::Display for Vt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let total = d.as_secs();
        let nanos = d.subsec_nanos();
        if total == 0 && nanos == 0 {
            return f.write_str("+0s");
        }
        let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
        if h > 0 {
            write!(f, "+{h}h{m:02}m{s:02}.{:03}s", nanos / 1_000_000)
        } else if m > 0 {
            write!(f, "+{m}m{s:02}.{:03}s", nanos / 1_000_000)
        } else if total > 0 || nanos % 1_000_000 == 0 {
            write!(f, "+{s}.{:03}s", nanos / 1_000_000)
        } else {
            write!(f, "+{:?}", d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_times_format_compactly() {
        assert_eq!(Vt(Duration::ZERO).to_string(), "+0s");
        assert_eq!(Vt(Duration::from_millis(1500)).to_string(), "+1.500s");
        assert_eq!(Vt(Duration::from_millis(5)).to_string(), "+0.005s");
        assert_eq!(Vt(Duration::from_micros(1500)).to_string(), "+1.5ms");
        assert_eq!(
            Vt(Duration::from_secs(3723) + Duration::from_millis(4)).to_string(),
            "+1h02m03.004s"
        );
        assert_eq!(Vt(Duration::from_secs(61)).to_string(), "+1m01.000s");
    }

    #[test]
    fn ring_keeps_the_newest_and_hash_covers_all() {
        let mut a = Trace::new(2);
        let mut b = Trace::new(100);
        for i in 0..5 {
            a.record(Duration::from_secs(i), Some(0), EventKind::Pending);
            b.record(Duration::from_secs(i), Some(0), EventKind::Pending);
        }
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.count(), 5);
        let text = a.render(&|t| format!("#{t}"), 10);
        assert!(text.contains("3 earlier events not shown"), "{text}");
        assert!(text.contains("+4.000s"), "{text}");
        assert!(!text.contains("+2.000s"), "{text}");
    }

    #[test]
    fn hash_depends_on_order() {
        let mut a = Trace::new(0);
        let mut b = Trace::new(0);
        a.record(Duration::ZERO, Some(1), EventKind::Pending);
        a.record(Duration::ZERO, Some(2), EventKind::Pending);
        b.record(Duration::ZERO, Some(2), EventKind::Pending);
        b.record(Duration::ZERO, Some(1), EventKind::Pending);
        assert_ne!(a.hash(), b.hash());
    }
}
