//! The event log of a run: what each task did, and when in virtual time.
//!
//! Every run keeps its last events in a ring (they become the timeline of a failure
//! report) and folds every event into a running hash: two runs with the same code, seed
//! and kit version have the same hash ([`crate::Report::trace_hash`]). A run that keeps
//! every event ([`crate::Builder::full_trace`], and the replays exploration makes of a
//! failing schedule) can also be exported as Chrome trace JSON, to look at the
//! interleaving in Perfetto or `chrome://tracing` rather than read it.
//!
//! What a run keeps is bounded, whatever its length: a trace that keeps "every" event
//! keeps the first 50,000 and the last 50,000 of a longer run (100,000 events, a Chrome
//! trace of about 10 MB), and says what it left out (the report has a `trace:` line, the
//! Chrome trace an event in the gap); a ring of recent events keeps at most 100,000. The
//! count always covers every event, and the hash every event of the schedule: not the
//! lines the code under test logged (feature `tracing`), which other threads emit in an
//! order no schedule fixes.
//!
//! ```
//! let report = async_testkit::Builder::new()
//!     .full_trace(true)
//!     .try_run(|| async {
//!         let t = async_testkit::task::Builder::new().name("worker").spawn(async {
//!             tokio::time::sleep(std::time::Duration::from_millis(5)).await;
//!         });
//!         t.await.unwrap();
//!     })
//!     .unwrap();
//! let path = std::env::temp_dir().join("async-testkit-doc-trace.json");
//! async_testkit::trace::write_chrome_trace(&report, &path).unwrap();
//! let json = std::fs::read_to_string(&path).unwrap();
//! assert!(json.contains("\"#1 \\\"worker\\\"\""));
//! ```

use std::fmt::{self, Write as _};
use std::panic::Location;
use std::time::Duration;

use crate::util::nanos;

/// The id of a kit task within one run: the test body is task 0, then tasks are numbered
/// in the order they were spawned.
pub(crate) type TaskId = usize;

/// What happened.
#[derive(Clone, Debug)]
pub(crate) enum EventKind {
    Spawned {
        child: u32,
    },
    /// The task was polled; it was option `chosen` of `options` ready to choose from.
    Polled {
        options: u32,
        chosen: u32,
    },
    Pending,
    Completed,
    Panicked,
    /// The test body returned `Err` (its poll panicked with the kit's `ReturnedErr`).
    ReturnedErr,
    Cancelled,
    Yielded {
        at: &'static Location<'static>,
    },
    TokioTurn,
    ClockMoved {
        /// Virtual nanoseconds ([`nanos`]).
        from: u64,
    },
    Settled,
    /// A line the code under test logged (feature `tracing`). Not folded into the hash:
    /// lines from other threads race with the schedule, and the hash is the schedule's.
    Log(Box<LogLine>),
}

/// A logged event: its level, target, message and other fields, and the thread it came
/// from when that was not the run's own (a `spawn_blocking` closure, a thread the test
/// started).
#[derive(Clone, Debug)]
pub(crate) struct LogLine {
    pub(crate) level: &'static str,
    pub(crate) target: String,
    /// The message, then ` key=value` for each other field.
    pub(crate) text: String,
    /// `thread "name"`, or `an unnamed thread`; `None` on the run's own thread.
    pub(crate) thread: Option<String>,
}

impl EventKind {
    pub(crate) fn spawned(child: TaskId) -> Self {
        EventKind::Spawned { child: child as u32 }
    }

    pub(crate) fn polled(options: usize, chosen: usize) -> Self {
        EventKind::Polled {
            options: options as u32,
            chosen: chosen as u32,
        }
    }

    pub(crate) fn clock_moved(from: Duration) -> Self {
        EventKind::ClockMoved { from: nanos(from) }
    }
}

/// No task: an event of tokio's or of the clock.
const NO_TASK: u32 = u32::MAX;

/// The most events a trace keeps (32 bytes each, and about 100 bytes each of Chrome trace
/// JSON and of text in a failure): a run that livelocks until its wall-clock limit makes
/// millions a second. A trace that keeps "every" event keeps the first half of this and
/// the last half.
pub(crate) const KEPT_EVENTS: usize = 100_000;

/// One entry of the log (its number follows from its place in the ring): 32 bytes.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    at: u64,
    task: u32,
    kind: EventKind,
}

impl Event {
    fn at(&self) -> Duration {
        Duration::from_nanos(self.at)
    }

    fn task(&self) -> Option<TaskId> {
        (self.task != NO_TASK).then_some(self.task as TaskId)
    }
}

/// Ring of recent events plus a hash of all of them; a full trace also keeps the run's
/// first events.
pub(crate) struct Trace {
    /// The first events of the run, up to `start_capacity` (a full trace's first half).
    start: Vec<Event>,
    start_capacity: usize,
    /// The events after `start`; once `capacity` are kept, each new one overwrites the
    /// oldest, at `head`.
    ring: Vec<Event>,
    head: usize,
    capacity: usize,
    /// Asked to keep every event: keeps the first and the last of [`KEPT_EVENTS`].
    full: bool,
    count: u64,
    hash: u64,
    /// Off: events are only counted (an exploration's schedules, the minimiser's replays:
    /// nothing of theirs is shown, and one schedule's trace is what a replay rebuilds).
    on: bool,
}

impl Trace {
    /// A trace that keeps the last `capacity` events (at most [`KEPT_EVENTS`]), or with
    /// `usize::MAX` every event (the first and the last halves of [`KEPT_EVENTS`] of a
    /// longer run).
    pub(crate) fn new(capacity: usize) -> Self {
        let full = capacity == usize::MAX;
        let (start_capacity, capacity) = if full {
            (KEPT_EVENTS / 2, KEPT_EVENTS - KEPT_EVENTS / 2)
        } else {
            (0, capacity.min(KEPT_EVENTS))
        };
        Trace {
            start: Vec::with_capacity(start_capacity.min(1024)),
            start_capacity,
            ring: Vec::with_capacity(capacity.min(1024)),
            head: 0,
            capacity,
            full,
            count: 0,
            hash: 0x243F_6A88_85A3_08D3,
            on: true,
        }
    }

    /// A trace that only counts events.
    pub(crate) fn off() -> Self {
        Trace {
            on: false,
            ..Trace::new(0)
        }
    }

    #[inline(always)]
    pub(crate) fn record(&mut self, at: Duration, task: Option<TaskId>, kind: EventKind) {
        self.count += 1;
        if !self.on {
            return;
        }
        let task = task.map_or(NO_TASK, |t| t as u32);
        let at = nanos(at);
        let code: u64 = match &kind {
            EventKind::Spawned { child } => 1 ^ (u64::from(*child) << 8),
            EventKind::Polled { options, chosen } => {
                2 ^ (u64::from(*options) << 8) ^ (u64::from(*chosen) << 32)
            }
            EventKind::Pending => 3,
            EventKind::Completed => 4,
            EventKind::Panicked => 5,
            EventKind::Cancelled => 6,
            EventKind::Yielded { at } => {
                let file = at
                    .file()
                    .bytes()
                    .fold(0u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3));
                7 ^ ((at.line() as u64) << 8) ^ ((at.column() as u64) << 40) ^ file.rotate_left(13)
            }
            EventKind::TokioTurn => 8,
            EventKind::ClockMoved { from } => 9 ^ from.rotate_left(8),
            EventKind::Settled => 10,
            EventKind::ReturnedErr => 11,
            EventKind::Log(_) => return self.keep(at, task, kind),
        };
        // One multiply-rotate round per word: order-sensitive, and cheap enough to run on
        // every event of every traced run. The words cover every field of the event, all
        // that its exact line ([`Trace::lines`]) shows but the task's name: two events
        // fold alike exactly when their exact lines read alike.
        let mut h = self.hash;
        for word in [code, u64::from(task), at] {
            h = (h ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        }
        self.hash = h;
        self.keep(at, task, kind);
    }

    /// Keeps an event (counted already) in the first events or the ring.
    fn keep(&mut self, at: u64, task: u32, kind: EventKind) {
        if self.capacity == 0 {
            return;
        }
        let event = Event { at, task, kind };
        if self.start.len() < self.start_capacity {
            self.start.push(event);
        } else if self.ring.len() < self.capacity {
            self.ring.push(event);
        } else {
            self.ring[self.head] = event;
            self.head += 1;
            if self.head == self.capacity {
                self.head = 0;
            }
        }
    }

    /// The kept events, oldest first, each with its number in the run (from 1): the
    /// first ones, then the ring (after a gap, when events were dropped between them).
    fn recent(&self) -> impl Iterator<Item = (u64, &Event)> {
        let first = self.count - self.ring.len() as u64 + 1;
        let (newer, older) = self.ring.split_at(self.head);
        (1..)
            .zip(&self.start)
            .chain((first..).zip(older.iter().chain(newer)))
    }

    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    /// Whether the trace was asked to keep every event of the run (it keeps the first and
    /// the last of a longer run than [`KEPT_EVENTS`]; see [`Trace::truncation`]).
    pub(crate) fn keeps_all(&self) -> bool {
        self.full
    }

    /// How many events a trace that keeps every event did not keep (0 when it kept them
    /// all, and for a ring of recent events).
    pub(crate) fn dropped(&self) -> u64 {
        if !self.full || !self.on {
            return 0;
        }
        self.count - (self.start.len() + self.ring.len()) as u64
    }

    /// For a trace that keeps every event but could not: what it kept, for the report.
    pub(crate) fn truncation(&self) -> Option<String> {
        let dropped = self.dropped();
        (dropped > 0).then(|| {
            format!(
                "trace: truncated: the run had {} events; the trace keeps at most {KEPT_EVENTS}: the first {} \
                 and the last {} (events {} to {} are not kept; the hash covers them all)",
                self.count,
                self.start.len(),
                self.ring.len(),
                self.start.len() + 1,
                self.start.len() as u64 + dropped
            )
        })
    }

    /// Every kept event as a numbered line, exact to the nanosecond and showing every
    /// field the hash covers: `(7, "+1.000s  #1 \"worker\": polled")`, and
    /// `+1.000000250s` where a time is not a whole millisecond. Two runs' lines read alike
    /// where their events are alike for the hash, so a difference of hashes shows in them.
    pub(crate) fn lines(&self, name: &dyn Fn(TaskId) -> String) -> Vec<(u64, String)> {
        self.recent()
            .filter(|(_, e)| !matches!(e.kind, EventKind::Log(_)))
            .map(|(seq, e)| (seq, format!("{:#}  {}", Vt(e.at()), describe(e, name, true))))
            .collect()
    }

    /// The kept events as Chrome trace JSON: one row per task, polls as slices. Events at
    /// one virtual instant are laid out 1 µs apart in the order they happened.
    pub(crate) fn chrome_json(&self, name: &dyn Fn(TaskId) -> String) -> String {
        let mut out = String::from("{\"traceEvents\":[");
        let mut first = true;
        let mut push = |out: &mut String, item: String| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&item);
        };
        let mut named = std::collections::BTreeSet::new();
        let (mut instant, mut offset) = (Duration::MAX, 0u64);
        let mut open: std::collections::HashMap<TaskId, (u64, String)> = std::collections::HashMap::new();
        let mut last_seq = 0;
        for (seq, e) in self.recent() {
            if e.at() != instant {
                instant = e.at();
                offset = 0;
            }
            let ts = e.at().as_micros() as u64 + offset;
            offset += 1;
            if seq != last_seq + 1 {
                // The events in between were not kept: say so where they would be, and
                // open no slice across the gap.
                open.clear();
                push(
                    &mut out,
                    format!(
                        "{{\"name\":{},\"ph\":\"i\",\"s\":\"g\",\"ts\":{ts},\"pid\":1,\"tid\":0}}",
                        json_string(&format!(
                            "trace truncated: events {} to {} of {} are not kept (at most {KEPT_EVENTS} are)",
                            last_seq + 1,
                            seq - 1,
                            self.count
                        ))
                    ),
                );
            }
            last_seq = seq;
            let tid = e.task().map_or(0, |t| t + 1);
            if named.insert(tid) {
                let who = e.task().map_or_else(|| "tokio / clock".to_string(), &name);
                push(
                    &mut out,
                    format!(
                        "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"name\":{}}}}}",
                        json_string(&who)
                    ),
                );
            }
            match (&e.kind, e.task()) {
                (EventKind::Polled { .. }, Some(t)) => {
                    open.insert(t, (ts, describe(e, name, false)));
                }
                (
                    EventKind::Pending | EventKind::Completed | EventKind::Panicked | EventKind::ReturnedErr,
                    Some(t),
                ) => {
                    let (start, label) = open.remove(&t).unwrap_or((ts, String::new()));
                    let outcome = describe(e, name, false);
                    push(
                        &mut out,
                        format!(
                            "{{\"name\":{},\"ph\":\"X\",\"ts\":{start},\"dur\":{},\"pid\":1,\"tid\":{tid},\"args\":{{\"virtual time\":{},\"step\":{}}}}}",
                            json_string(&format!("{label} → {outcome}")),
                            (ts - start).max(1),
                            json_string(&Vt(e.at()).to_string()),
                            seq
                        ),
                    );
                }
                _ => push(
                    &mut out,
                    format!(
                        "{{\"name\":{},\"ph\":\"i\",\"s\":\"t\",\"ts\":{ts},\"pid\":1,\"tid\":{tid},\"args\":{{\"virtual time\":{}}}}}",
                        json_string(&describe(e, name, false)),
                        json_string(&Vt(e.at()).to_string())
                    ),
                ),
            }
        }
        out.push_str("],\"displayTimeUnit\":\"ms\"}");
        out
    }

    /// Whether events are recorded (not only counted).
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Renders the recent events, newest last, naming tasks through `name`.
    pub(crate) fn render(&self, name: &dyn Fn(TaskId) -> String, limit: usize) -> String {
        let mut out = String::new();
        let kept = self.start.len() + self.ring.len();
        let skip = kept.saturating_sub(limit);
        if self.count > (kept - skip) as u64 {
            let _ = writeln!(
                out,
                "    ... {} earlier events not shown",
                self.count - (kept - skip) as u64
            );
        }
        for (seq, e) in self.recent().skip(skip) {
            let who = who(e, name);
            let _ = writeln!(
                out,
                "    {:>5}  {:>12}  {who}: {}",
                seq,
                Vt(e.at()).to_string(),
                what(e, name, false)
            );
        }
        out
    }
}

/// `#1 "worker": polled`: who did what (with `exact`, times to the nanosecond).
fn describe(e: &Event, name: &dyn Fn(TaskId) -> String, exact: bool) -> String {
    format!("{}: {}", who(e, name), what(e, name, exact))
}

/// The task an event is of; for a log line of another thread, that thread.
fn who(e: &Event, name: &dyn Fn(TaskId) -> String) -> String {
    match (e.task(), &e.kind) {
        (Some(t), _) => name(t),
        (None, EventKind::Log(line)) => match &line.thread {
            Some(thread) => thread.clone(),
            None => "tokio".to_string(),
        },
        (None, _) => "tokio".to_string(),
    }
}

fn what(e: &Event, name: &dyn Fn(TaskId) -> String, exact: bool) -> String {
    match &e.kind {
        EventKind::Spawned { child } => format!("spawned {}", name(*child as TaskId)),
        EventKind::Polled { options, chosen: 0 } if *options > 1 => {
            format!("polled (first of {options} ready)")
        }
        EventKind::Polled { options, chosen } if *options > 1 => {
            format!("polled (option {} of {options} ready: a preemption)", chosen + 1)
        }
        EventKind::Polled { .. } => "polled".to_string(),
        EventKind::Pending => "waits".to_string(),
        EventKind::Completed => "completed".to_string(),
        EventKind::Panicked => "panicked".to_string(),
        EventKind::ReturnedErr => "returned Err".to_string(),
        EventKind::Cancelled => "cancelled".to_string(),
        EventKind::Yielded { at } => format!("yield point at {at}"),
        EventKind::TokioTurn => "tokio's own tasks ran".to_string(),
        EventKind::ClockMoved { from } if exact => format!(
            "clock moved from {:#} to {:#}",
            Vt(Duration::from_nanos(*from)),
            Vt(e.at())
        ),
        EventKind::ClockMoved { from } => format!(
            "clock moved from {} to {}",
            Vt(Duration::from_nanos(*from)),
            Vt(e.at())
        ),
        EventKind::Settled => "settled: nothing more runnable now".to_string(),
        EventKind::Log(line) => format!("{} {}: {}", line.level, line.target, line.text),
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A run whose every event was kept, as Chrome trace JSON: implemented by [`crate::Report`]
/// and [`crate::Failure`], for [`write_chrome_trace`].
///
/// ```
/// use async_testkit::trace::ChromeTrace;
/// let r = async_testkit::Builder::new().full_trace(true).try_run(|| async {}).unwrap();
/// assert!(r.chrome_json().unwrap().contains("traceEvents"));
/// ```
pub trait ChromeTrace {
    /// The JSON, if the run kept every event.
    fn chrome_json(&self) -> Option<&str>;
}

/// Writes a run as Chrome trace JSON to `path` (creating its folder), to open in
/// Perfetto (ui.perfetto.dev) or `chrome://tracing`.
///
/// # Errors
///
/// When the run did not keep every event (use [`crate::Builder::full_trace`]), or the
/// file cannot be written.
///
/// ```
/// let r = async_testkit::Builder::new().try_run(|| async {}).unwrap();
/// let err = async_testkit::trace::write_chrome_trace(&r, "unused.json").unwrap_err();
/// assert!(err.to_string().contains("Builder::full_trace(true)"));
/// ```
pub fn write_chrome_trace(run: &impl ChromeTrace, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
    let json = run.chrome_json().ok_or_else(|| {
        std::io::Error::other(
            "this run kept only its last events: start it with Builder::full_trace(true) to export a Chrome trace",
        )
    })?;
    let path = path.as_ref();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, json)
}

/// Formats a virtual elapsed time compactly: `0s`, `1.5ms`, `2.000s`, `1h02m03.004s`,
/// `3y0d00h00m00.000s` (years of 365 days). The alternate form (`{:#}`) is exact: a time
/// that is not a whole millisecond gets nine decimals (`+2.000000250s`).
pub(crate) struct Vt(pub(crate) Duration);

/// A span of virtual time written like the crate's virtual instants, without the `+`:
/// `2.000s`, `1.5ms`, `1h02m03.004s`, `0s`.
pub(crate) fn span(d: Duration) -> String {
    Vt(d).to_string().trim_start_matches('+').to_string()
}

impl fmt::Display for Vt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let total = d.as_secs();
        let nanos = d.subsec_nanos();
        if total == 0 && nanos == 0 {
            return f.write_str("+0s");
        }
        let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
        // Milliseconds, or in the exact form every nanosecond when they are not whole.
        let frac = if f.alternate() && nanos % 1_000_000 != 0 {
            format!("{nanos:09}")
        } else {
            format!("{:03}", nanos / 1_000_000)
        };
        // Past a year (of 365 days), years and days instead of thousands of hours.
        const YEAR_H: u64 = 365 * 24;
        if h >= YEAR_H {
            let (y, d, h) = (h / YEAR_H, (h % YEAR_H) / 24, h % 24);
            write!(f, "+{y}y{d}d{h:02}h{m:02}m{s:02}.{frac}s")
        } else if h > 0 {
            write!(f, "+{h}h{m:02}m{s:02}.{frac}s")
        } else if m > 0 {
            write!(f, "+{m}m{s:02}.{frac}s")
        } else if total > 0 || nanos % 1_000_000 == 0 {
            write!(f, "+{s}.{frac}s")
        } else {
            write!(f, "+{:?}", d)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spans_drop_the_plus() {
        assert_eq!(super::span(Duration::ZERO), "0s");
        assert_eq!(super::span(Duration::from_millis(1500)), "1.500s");
        assert_eq!(super::span(Duration::from_micros(1500)), "1.5ms");
    }

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
        assert_eq!(
            Vt(Duration::from_secs(8759 * 3600)).to_string(),
            "+8759h00m00.000s"
        );
        let year = Duration::from_secs(365 * 86_400);
        assert_eq!(
            Vt(year * 3 + Duration::from_secs(86_400 + 3723)).to_string(),
            "+3y1d01h02m03.000s"
        );
        assert_eq!(Vt(Duration::MAX).to_string(), "+584942417355y26d07h00m15.999s");
        assert_eq!(format!("{:#}", Vt(Duration::from_millis(1500))), "+1.500s");
        assert_eq!(
            format!("{:#}", Vt(Duration::from_secs(61) + Duration::from_nanos(7))),
            "+1m01.000000007s"
        );
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
    fn a_full_trace_keeps_the_first_and_the_last_events_of_a_long_run() {
        let mut full = Trace::new(usize::MAX);
        let mut all = Trace::new(0);
        let n = KEPT_EVENTS as u64 * 3;
        for i in 0..n {
            full.record(Duration::from_millis(i), Some(0), EventKind::Pending);
            all.record(Duration::from_millis(i), Some(0), EventKind::Pending);
        }
        assert_eq!((full.count(), full.hash()), (n, all.hash()));
        assert_eq!(full.dropped(), n - KEPT_EVENTS as u64);
        let lines = full.lines(&|t| format!("#{t}"));
        assert_eq!(lines.len(), KEPT_EVENTS);
        let half = KEPT_EVENTS as u64 / 2;
        assert_eq!(lines[0].0, 1);
        assert_eq!(lines[half as usize - 1].0, half);
        assert_eq!(lines[half as usize].0, n - half + 1);
        assert_eq!(lines.last().unwrap().0, n);
        let note = full.truncation().unwrap();
        assert!(
            note.contains(&format!(
                "the run had {n} events; the trace keeps at most {KEPT_EVENTS}"
            )),
            "{note}"
        );
        assert!(
            note.contains(&format!("events {} to {} are not kept", half + 1, n - half)),
            "{note}"
        );
        let json = full.chrome_json(&|t| format!("#{t}"));
        assert_eq!(json.matches("trace truncated: events").count(), 1);
        assert!(
            json.matches("\"ph\":").count() <= KEPT_EVENTS + 2,
            "one per event, a name, the gap"
        );
        let text = full.render(&|t| format!("#{t}"), 3);
        assert!(
            text.contains(&format!("{} earlier events not shown", n - 3)),
            "{text}"
        );
        assert!(text.contains(&format!("{n}  ")), "{text}");
    }

    #[test]
    fn a_full_trace_of_a_short_run_keeps_every_event_and_says_nothing() {
        let mut t = Trace::new(usize::MAX);
        for i in 0..KEPT_EVENTS as u64 {
            t.record(Duration::from_millis(i), Some(0), EventKind::Pending);
        }
        assert_eq!(t.dropped(), 0);
        assert!(t.truncation().is_none());
        let lines = t.lines(&|t| format!("#{t}"));
        assert!(lines.iter().zip(1..).all(|((seq, _), n)| *seq == n));
        assert!(!t.chrome_json(&|t| format!("#{t}")).contains("truncated"));
    }

    #[test]
    fn a_ring_keeps_at_most_the_bound() {
        let mut t = Trace::new(usize::MAX - 1);
        for i in 0..KEPT_EVENTS as u64 + 10 {
            t.record(Duration::from_millis(i), Some(0), EventKind::Pending);
        }
        assert_eq!(t.lines(&|t| format!("#{t}")).len(), KEPT_EVENTS);
        assert!(!t.keeps_all() && t.truncation().is_none());
    }

    /// The hash and the exact lines cover the same fields: events that fold alike read
    /// alike, and events that read alike fold alike.
    #[test]
    fn hash_and_exact_lines_cover_the_same_fields() {
        let here = Location::caller();
        let kinds = [
            (Duration::from_secs(5), EventKind::Pending),
            (
                Duration::from_secs(5) + Duration::from_nanos(1),
                EventKind::Pending,
            ),
            (
                Duration::from_secs(5),
                EventKind::clock_moved(Duration::from_secs(1)),
            ),
            (
                Duration::from_secs(5),
                EventKind::clock_moved(Duration::from_secs(1) + Duration::from_nanos(3)),
            ),
            (Duration::from_secs(5), EventKind::Yielded { at: here }),
            (Duration::from_secs(5), EventKind::polled(2, 1)),
            (Duration::from_secs(5), EventKind::polled(3, 1)),
        ];
        let one = |(at, kind): &(Duration, EventKind)| {
            let mut t = Trace::new(usize::MAX);
            t.record(*at, Some(1), kind.clone());
            (t.hash(), t.lines(&|t| format!("#{t}"))[0].1.clone())
        };
        for a in &kinds {
            for b in &kinds {
                let ((ha, la), (hb, lb)) = (one(a), one(b));
                assert_eq!(ha == hb, la == lb, "{la} / {lb}");
            }
        }
        assert_eq!(one(&kinds[1]).1, "+5.000000001s  #1: waits");
        assert_eq!(
            one(&kinds[3]).1,
            "+5.000s  #1: clock moved from +1.000000003s to +5.000s"
        );
    }

    /// Log lines show in the timeline, by task or by thread, and leave the hash and the
    /// exact lines (the schedule's) alone: lines from other threads race with it.
    #[test]
    fn log_lines_show_in_the_timeline_and_leave_the_hash_alone() {
        let log = |thread: Option<&str>| {
            EventKind::Log(Box::new(LogLine {
                level: "WARN",
                target: "app::client".into(),
                text: "retrying attempt=2".into(),
                thread: thread.map(str::to_string),
            }))
        };
        let (mut plain, mut logged) = (Trace::new(100), Trace::new(100));
        plain.record(Duration::ZERO, Some(1), EventKind::Pending);
        logged.record(Duration::ZERO, Some(1), EventKind::Pending);
        logged.record(Duration::from_secs(3600), Some(1), log(None));
        logged.record(
            Duration::from_secs(3600),
            None,
            log(Some("thread \"tokio-rt-worker\"")),
        );
        logged.record(Duration::from_secs(3600), None, log(None));
        assert_eq!(plain.hash(), logged.hash());
        assert_eq!(logged.count(), 4);
        let name = |t: TaskId| format!("#{t}");
        assert_eq!(logged.lines(&name), plain.lines(&name));
        let text = logged.render(&name, 10);
        let rows: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(
            rows,
            [
                "1           +0s  #1: waits",
                "2  +1h00m00.000s  #1: WARN app::client: retrying attempt=2",
                "3  +1h00m00.000s  thread \"tokio-rt-worker\": WARN app::client: retrying attempt=2",
                "4  +1h00m00.000s  tokio: WARN app::client: retrying attempt=2",
            ]
        );
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
