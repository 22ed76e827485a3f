//! What a run says when it ends: [`Report`] on success, [`Failure`] otherwise. The
//! report renders the oracles' [`Verdict`] (see `oracles.rs`); it decides nothing.

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::executor::Executor;
pub use super::oracles::FailureKind;
use super::oracles::{Snapshot, Verdict, describe_panic};
use super::tasks::TaskMeta;
use crate::schedule::{Choice, Schedule, Strategy};
use crate::trace::Vt;

/// How many trace events a failure report shows.
const TIMELINE_EVENTS: usize = 24;

/// A failed run: what failed, and the full report a person reads.
///
/// `Display` (and `Debug`) print the report: the headline, the tasks that were alive,
/// the panics, the last events as a timeline in virtual time, the seed and a one-line
/// replay command.
///
/// ```
/// let f = async_testkit::Builder::new()
///     .name("demo")
///     .try_run(|| async {
///         async_testkit::task::Builder::new().name("worker").spawn(async { panic!("disk full") });
///         tokio::time::sleep(std::time::Duration::from_secs(1)).await;
///     })
///     .unwrap_err();
/// assert!(f.headline().contains("task #1 \"worker\" panicked"));
/// assert!(f.to_string().contains("disk full"));
/// assert!(f.to_string().contains("ASYNC_TESTKIT_SEED=0 cargo test -- --exact demo"));
/// ```
#[derive(Clone)]
pub struct Failure(Box<FailureData>);

#[derive(Clone)]
struct FailureData {
    kind: FailureKind,
    headline: String,
    text: String,
    seed: u64,
    panics: Vec<String>,
    /// Where each panic happened (`file:line:col`), when known.
    panic_sites: Vec<Option<String>>,
    leaked: Vec<String>,
    choices: Vec<Choice>,
    schedule: Schedule,
    /// Choices the run made past the most it records (its schedule is the first ones).
    unrecorded_choices: u64,
    trace_hash: u64,
    /// For a run that kept every event: the kept ones, numbered (a long run's first and
    /// last ones only).
    events: Option<Vec<(u64, String)>>,
    /// tokio's clock ran in real time during the run: its events' times are not
    /// reproducible.
    clock_ran: bool,
    chrome: Option<String>,
}

impl Failure {
    /// Which oracle failed.
    ///
    /// ```
    /// let f = async_testkit::Builder::new().try_run(|| async { panic!("x") }).unwrap_err();
    /// assert_eq!(f.kind(), async_testkit::FailureKind::Panic);
    /// ```
    pub fn kind(&self) -> FailureKind {
        self.0.kind
    }

    /// The one-line summary that starts the report.
    ///
    /// ```
    /// let f = async_testkit::Builder::new().try_run(|| async { panic!("x") }).unwrap_err();
    /// assert!(f.headline().starts_with("the test body panicked"));
    /// ```
    pub fn headline(&self) -> &str {
        &self.0.headline
    }

    /// The seed of the failing run.
    ///
    /// ```
    /// let f = async_testkit::Builder::new().seed(5).try_run(|| async { panic!("x") }).unwrap_err();
    /// assert_eq!(f.seed(), 5);
    /// ```
    pub fn seed(&self) -> u64 {
        self.0.seed
    }

    /// The messages of every unhandled panic, in the order they happened.
    ///
    /// ```
    /// let f = async_testkit::Builder::new().try_run(|| async { panic!("x") }).unwrap_err();
    /// assert_eq!(f.panic_messages(), ["x"]);
    /// ```
    pub fn panic_messages(&self) -> &[String] {
        &self.0.panics
    }

    /// The tasks reported as leaked, as `#3 "name" (spawned at file:line:col)`.
    ///
    /// ```
    /// let f = async_testkit::Builder::new()
    ///     .try_run(|| async { async_testkit::spawn(std::future::pending::<()>()); })
    ///     .unwrap_err();
    /// assert_eq!(f.leaked_tasks().len(), 1);
    /// ```
    pub fn leaked_tasks(&self) -> &[String] {
        &self.0.leaked
    }
}

impl Failure {
    /// The schedule of the failing run (after exploration, the minimised one): replay it
    /// with [`crate::Builder::replay`] or `ASYNC_TESTKIT_REPLAY=<token>`.
    ///
    /// A run records its first 100,000 choices: the schedule of a longer run (one that
    /// livelocks until its wall-clock limit) is those, and a replay runs FIFO after them.
    /// The report says so (a `schedule: truncated` line).
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// let f = async_testkit::Builder::new()
    ///     .explore(100)
    ///     .try_run(|| async {
    ///         let x = Rc::new(Cell::new(0));
    ///         let y = x.clone();
    ///         let t = async_testkit::spawn(async move { y.set(1) });
    ///         async_testkit::yield_point().await;
    ///         assert_eq!(x.get(), 0, "the task ran before the body resumed");
    ///         t.await.unwrap();
    ///     })
    ///     .unwrap_err();
    /// assert_eq!(f.schedule().preemptions(), 0); // FIFO already runs the task at the yield
    /// ```
    pub fn schedule(&self) -> &Schedule {
        &self.0.schedule
    }

    /// The run as Chrome trace JSON (open it in Perfetto or `chrome://tracing`), for runs
    /// that kept every event: failures found by exploration, or any run with
    /// [`crate::Builder::full_trace`]. Of a run longer than 100,000 events it holds the
    /// first 50,000 and the last 50,000, with an event marking the gap; the report then
    /// has a `trace: truncated` line.
    ///
    /// ```
    /// let f = async_testkit::Builder::new()
    ///     .full_trace(true)
    ///     .try_run(|| async { panic!("x") })
    ///     .unwrap_err();
    /// assert!(f.chrome_trace().unwrap().starts_with("{\"traceEvents\":["));
    /// ```
    pub fn chrome_trace(&self) -> Option<&str> {
        self.0.chrome.as_deref()
    }

    /// Where the first panic happened, when known.
    pub(crate) fn first_panic_site(&self) -> Option<&str> {
        self.0.panic_sites.first().and_then(|s| s.as_deref())
    }

    pub(crate) fn choices(&self) -> &[Choice] {
        &self.0.choices
    }

    pub(crate) fn trace_hash(&self) -> u64 {
        self.0.trace_hash
    }

    pub(crate) fn events(&self) -> Option<&[(u64, String)]> {
        self.0.events.as_deref()
    }

    /// Whether tokio's clock ran in real time during the run (`tokio::time::resume()`),
    /// which makes its events' times differ between replays.
    pub(crate) fn clock_ran(&self) -> bool {
        self.0.clock_ran
    }

    /// Choices the run made and did not record (past the most a run records).
    pub(crate) fn unrecorded_choices(&self) -> u64 {
        self.0.unrecorded_choices
    }

    /// Adds a section at the end of the report.
    pub(crate) fn add_note(&mut self, note: &str) {
        self.0.text.push('\n');
        self.0.text.push_str(note);
    }

    /// A failure no single run made (the runner's own limits, such as an exploration's
    /// wall-clock limit): its kind, headline and lines, and the replay line it ends with.
    pub(crate) fn of_runner(
        kind: FailureKind,
        headline: String,
        lines: &str,
        seed: u64,
        replay: &str,
    ) -> Failure {
        let text = format!("async-testkit: {headline}\n{lines}\n{replay}");
        Failure(Box::new(FailureData {
            kind,
            headline,
            text,
            seed,
            panics: Vec::new(),
            panic_sites: Vec::new(),
            leaked: Vec::new(),
            choices: Vec::new(),
            schedule: Schedule::new("fifo".into(), seed, Vec::new()),
            unrecorded_choices: 0,
            trace_hash: 0,
            events: None,
            clock_ran: false,
            chrome: None,
        }))
    }

    /// Sets the report's last line, the replay command (replacing the one it had).
    pub(crate) fn set_replay_line(&mut self, line: &str) {
        // The line ends the report; a run started without one (an exploration's) gets it.
        if let Some(i) = self.0.text.rfind("\nreplay: ") {
            self.0.text.truncate(i + 1);
        } else if !self.0.text.ends_with('\n') {
            self.0.text.push('\n');
        }
        self.0.text.push_str(line);
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.text)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.text)
    }
}

impl std::error::Error for Failure {}

/// A run that passed: the body's value, and what the run did.
///
/// ```
/// use std::time::Duration;
/// let r = async_testkit::Builder::new()
///     .try_run(|| async {
///         tokio::time::sleep(Duration::from_secs(90)).await;
///         "done"
///     })
///     .unwrap();
/// assert_eq!(*r.value(), "done");
/// assert_eq!(r.elapsed(), Duration::from_secs(90));
/// assert!(r.warnings().is_empty());
/// ```
#[derive(Debug)]
pub struct Report<T> {
    value: T,
    seed: u64,
    strategy: Strategy,
    schedules: u32,
    exhausted: bool,
    pub(crate) choices: Vec<Choice>,
    /// How many times each task was polled, by id.
    pub(crate) task_polls: Vec<u64>,
    chrome: Option<String>,
    elapsed: Duration,
    polls: u64,
    tasks: usize,
    trace_hash: u64,
    trace_events: u64,
    /// The most tasks of tokio's own alive at once (0: none).
    tokio_tasks: usize,
    /// Of the schedules run, how many had tasks of tokio's own.
    tokio_schedules: u32,
    warnings: Vec<String>,
    timeline: Timeline,
}

/// What a report says in place of the timeline of a run that recorded none.
const NOT_RECORDED: &str = "    (not recorded: an exploration records the events of its last planned schedule \
     only, and this one ended on its wall-time budget or an exhausted search)\n";

/// A passing run's last events, rendered as text only when asked for: exploration makes
/// a report for every schedule and keeps one.
struct Timeline {
    trace: crate::trace::Trace,
    tasks: Vec<TaskMeta>,
    text: std::sync::OnceLock<String>,
}

impl Timeline {
    fn text(&self) -> &str {
        self.text.get_or_init(|| {
            if !self.trace.is_on() {
                return NOT_RECORDED.to_string();
            }
            let name_of = |id: usize| self.tasks.get(id).map_or_else(|| format!("#{id}"), |m| m.label());
            self.trace.render(&name_of, TIMELINE_EVENTS)
        })
    }
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl<T> Report<T> {
    /// The body's value.
    ///
    /// ```
    /// let r = async_testkit::Builder::new().try_run(|| async { 7 }).unwrap();
    /// assert_eq!(*r.value(), 7);
    /// ```
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Takes the body's value.
    ///
    /// ```
    /// let r = async_testkit::Builder::new().try_run(|| async { vec![1] }).unwrap();
    /// assert_eq!(r.into_value(), vec![1]);
    /// ```
    pub fn into_value(self) -> T {
        self.value
    }

    /// The seed of the (last) run.
    ///
    /// ```
    /// assert_eq!(async_testkit::Builder::new().seed(3).try_run(|| async {}).unwrap().seed(), 3);
    /// ```
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The scheduling strategy used.
    ///
    /// ```
    /// use async_testkit::Strategy;
    /// assert_eq!(async_testkit::Builder::new().try_run(|| async {}).unwrap().strategy(), Strategy::Fifo);
    /// ```
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// How many schedules ran (1 unless exploring).
    ///
    /// ```
    /// assert_eq!(async_testkit::Builder::new().try_run(|| async {}).unwrap().schedules(), 1);
    /// ```
    pub fn schedules(&self) -> u32 {
        self.schedules
    }

    /// Virtual time from the start of the (last) run to the body's return.
    ///
    /// ```
    /// let r = async_testkit::Builder::new().try_run(|| async {}).unwrap();
    /// assert_eq!(r.elapsed(), std::time::Duration::ZERO);
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// How many times kit tasks were polled.
    ///
    /// ```
    /// let r = async_testkit::Builder::new().try_run(|| async {}).unwrap();
    /// assert_eq!(r.polls(), 1);
    /// ```
    pub fn polls(&self) -> u64 {
        self.polls
    }

    /// How many kit tasks the run had, the body included.
    ///
    /// ```
    /// let r = async_testkit::Builder::new()
    ///     .try_run(|| async { async_testkit::spawn(async {}).await.unwrap() })
    ///     .unwrap();
    /// assert_eq!(r.tasks_spawned(), 2);
    /// ```
    pub fn tasks_spawned(&self) -> usize {
        self.tasks
    }

    /// A hash of every event of the run: equal for equal runs.
    ///
    /// ```
    /// let a = async_testkit::Builder::new().try_run(|| async {}).unwrap();
    /// let b = async_testkit::Builder::new().try_run(|| async {}).unwrap();
    /// assert_eq!(a.trace_hash(), b.trace_hash());
    /// ```
    pub fn trace_hash(&self) -> u64 {
        self.trace_hash
    }

    /// How many events the run recorded.
    ///
    /// ```
    /// assert!(async_testkit::Builder::new().try_run(|| async {}).unwrap().trace_events() >= 2);
    /// ```
    pub fn trace_events(&self) -> u64 {
        self.trace_events
    }

    /// Warnings from oracles set to [`Policy::Warn`](crate::Policy::Warn) (leaks, slow polls).
    ///
    /// ```
    /// assert!(async_testkit::Builder::new().try_run(|| async {}).unwrap().warnings().is_empty());
    /// ```
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The last events of the run as text, one per line, with virtual timestamps. After an
    /// exploration, the last schedule's; an exploration that ends before its planned
    /// last schedule (on its `explore_for` budget, or a bounded DFS that ran out of
    /// schedules) records none.
    ///
    /// ```
    /// let r = async_testkit::Builder::new().try_run(|| async {}).unwrap();
    /// assert!(r.timeline().contains("#0 test body: completed"));
    /// ```
    pub fn timeline(&self) -> &str {
        self.timeline.text()
    }

    /// For a bounded DFS exploration: whether every schedule within the preemption bound
    /// was run (the space was exhausted before the budget ran out).
    ///
    /// ```
    /// use async_testkit::{Builder, Strategy};
    /// let r = Builder::new()
    ///     .strategy(Strategy::Dfs { max_preemptions: 1 })
    ///     .explore(1000)
    ///     .try_run(|| async {
    ///         let t = async_testkit::spawn(async {});
    ///         async_testkit::yield_point().await;
    ///         t.await.unwrap();
    ///     })
    ///     .unwrap();
    /// assert!(r.exhausted());
    /// assert!(r.schedules() < 1000);
    /// ```
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// The schedule of the (last) run: its choices at every step with two or more options
    /// (the first 100,000 of a longer run; a replay runs FIFO after them).
    ///
    /// ```
    /// let r = async_testkit::Builder::new().try_run(|| async {}).unwrap();
    /// assert_eq!(r.schedule().preemptions(), 0);
    /// ```
    pub fn schedule(&self) -> Schedule {
        Schedule::recorded(self.strategy.name(), self.seed, &self.choices)
    }

    /// The run as Chrome trace JSON, when it kept every event ([`crate::Builder::full_trace`]):
    /// of a run longer than 100,000 events, the first 50,000 and the last 50,000, with an
    /// event marking the gap.
    ///
    /// ```
    /// let r = async_testkit::Builder::new().full_trace(true).try_run(|| async {}).unwrap();
    /// assert!(r.chrome_trace().unwrap().contains("\"#0 test body\""));
    /// ```
    pub fn chrome_trace(&self) -> Option<&str> {
        self.chrome.as_deref()
    }

    /// The most tasks that tokio schedules itself (started with `tokio::spawn` and
    /// friends straight on tokio, by the code under test or a library) alive at once, in
    /// the run or in any schedule of an exploration; 0 when every task was the kit's. The
    /// kit does not choose their order: an exploration of a test with such tasks warns.
    ///
    /// ```
    /// let r = async_testkit::Builder::new()
    ///     .try_run(|| async {
    ///         tokio::spawn(async {}).await.unwrap();
    ///         async_testkit::spawn(async {}).await.unwrap();
    ///     })
    ///     .unwrap();
    /// assert_eq!(r.tokio_tasks(), 1);
    /// ```
    pub fn tokio_tasks(&self) -> usize {
        self.tokio_tasks
    }

    /// An exploration's figures: how many schedules ran, whether DFS exhausted its space,
    /// and what the runs had of tasks the kit did not order (`most` alive at once, in
    /// `schedules` of them).
    pub(crate) fn with_schedules(mut self, schedules: u32, exhausted: bool, tokio: (usize, u32)) -> Self {
        self.schedules = schedules;
        self.exhausted = exhausted;
        (self.tokio_tasks, self.tokio_schedules) = tokio;
        self
    }

    /// Of the schedules run, how many had tasks of tokio's own (see
    /// [`Report::tokio_tasks`]).
    pub(crate) fn tokio_schedules(&self) -> u32 {
        self.tokio_schedules
    }

    /// Adds a warning (printed with the others when the run is over).
    pub(crate) fn add_warning(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    pub(crate) fn print_warnings(&self) {
        for w in &self.warnings {
            eprintln!("async-testkit warning: {w}");
        }
    }
}

impl<T> crate::trace::ChromeTrace for Report<T> {
    fn chrome_json(&self) -> Option<&str> {
        self.chrome_trace()
    }
}

impl crate::trace::ChromeTrace for Failure {
    fn chrome_json(&self) -> Option<&str> {
        self.chrome_trace()
    }
}

/// What a report says about the run it renders: the test, the schedule, how to replay.
pub(crate) struct RunLabel<'a> {
    pub(crate) name: &'a str,
    pub(crate) seed: u64,
    /// The strategy the user asked for (what `Report::strategy` says).
    pub(crate) strategy: Strategy,
    /// This run's own strategy: `fifo`, `pct2`, `replay`, ...
    pub(crate) label: &'a str,
    /// Lines added before the seed line (what exploration found).
    pub(crate) notes: &'a [String],
    /// The replay line the report ends with.
    pub(crate) replay: &'a str,
}

/// How a test makes tasks that tokio schedules itself into kit tasks.
const SEE_TOKIO_TASKS: &str = "depend on tokio through async-testkit-tokio with its explore feature (README: \
     \"Exploring code that uses tokio::spawn\"), or start them with async_testkit::spawn";

/// Turns the end of a run, and the oracles' verdict on it, into the run's result.
pub(crate) fn finish<T>(
    verdict: Verdict,
    snap: Snapshot,
    core: &Executor,
    attempt: &RunLabel<'_>,
    output: Option<T>,
) -> Result<Report<T>, Failure> {
    let config = &core.config;
    let Verdict {
        failure,
        panics,
        late,
        returned_err,
        expectations,
        leaked: leak_lines,
        warnings,
    } = verdict;
    let trace = core.trace.borrow();
    let name_of = |id| core.label(id);
    // The run is over: its record moves into the report.
    let choices = core.choosing.choices.take();
    let chrome = trace.keeps_all().then(|| trace.chrome_json(&name_of));
    match failure {
        None => {
            let (trace_hash, trace_events) = (trace.hash(), trace.count());
            drop(trace);
            Ok(Report {
                value: output.expect("the body finished, so its value is there"),
                seed: attempt.seed,
                strategy: attempt.strategy,
                schedules: 1,
                exhausted: false,
                choices,
                task_polls: core.tasks.borrow().iter().map(|e| e.stats.polls).collect(),
                chrome,
                elapsed: snap.elapsed,
                polls: core.findings.polls.get(),
                tasks: core.tasks.borrow().len(),
                trace_hash,
                trace_events,
                tokio_tasks: snap.tokio_most,
                tokio_schedules: u32::from(snap.tokio_most > 0),
                warnings,
                timeline: Timeline {
                    trace: core.trace.replace(crate::trace::Trace::new(0)),
                    // The run is over: its task descriptions move into the report.
                    tasks: std::mem::take(&mut *crate::util::lock(&core.shared.metas)),
                    text: std::sync::OnceLock::new(),
                },
            })
        }
        Some((kind, headline)) => {
            let mut t = String::new();
            let _ = writeln!(t, "async-testkit: {headline}");
            let _ = writeln!(t, "  test: {}", attempt.name);
            if kind == FailureKind::Leak {
                let _ = writeln!(
                    t,
                    "  Await or abort these tasks before the test returns, start long-lived ones with \
                     async_testkit::spawn_background, or set leaks = \"warn\"."
                );
                if snap.blocking_alive > 0 {
                    let _ = writeln!(
                        t,
                        "  A spawn_blocking closure cannot be aborted: await its JoinHandle before the test \
                         returns (and make the closure return)."
                    );
                }
            }
            if let Some(err) = returned_err.as_ref().filter(|_| kind == FailureKind::ReturnedErr) {
                let _ = writeln!(
                    t,
                    "  The test returns a Result{}: an Err on any schedule fails it, as a panic does.",
                    err.location
                        .as_deref()
                        .map(|l| format!(" (at {l})"))
                        .unwrap_or_default()
                );
            }
            let _ = writeln!(t);
            if !snap.alive.is_empty() || snap.tokio_alive > 0 || snap.blocking_alive > 0 {
                let _ = writeln!(t, "tasks alive when the run stopped:");
                for info in &snap.alive {
                    let last = info.last_poll.map_or_else(
                        || "never polled".to_string(),
                        |at| format!("last polled {}", Vt(at)),
                    );
                    let _ = writeln!(
                        t,
                        "  {:<24} spawned at {:<32} {:<8} {:>4} poll{}, {last}{}",
                        info.meta.label(),
                        info.meta.site.to_string(),
                        info.state.word(),
                        info.polls,
                        if info.polls == 1 { "" } else { "s" },
                        if info.meta.background { " (background)" } else { "" }
                    );
                }
                if snap.tokio_alive > 0 {
                    let n = snap.tokio_alive;
                    let untimed = if config.slow_poll_policy == crate::Policy::Ignore {
                        String::new()
                    } else {
                        format!(
                            ", and the slow-poll oracle does not time {} polls",
                            if n == 1 { "its" } else { "their" }
                        )
                    };
                    let _ = writeln!(
                        t,
                        "  and {n} task{} started with tokio::spawn (tokio gives no names, ids or spawn sites of \
                         its live tasks{untimed}: {SEE_TOKIO_TASKS} to see them here)",
                        if n == 1 { "" } else { "s" }
                    );
                    if kind == FailureKind::Deadlock {
                        let _ = writeln!(
                            t,
                            "  The kit does not see what tasks started with tokio::spawn wait on, when tokio polls \
                             them, or when they last ran:\n  they are not in the timeline below, which shows the \
                             kit's own tasks only. To see them in it,\n  {SEE_TOKIO_TASKS}."
                        );
                    }
                }
                if snap.blocking_alive > 0 {
                    let n = snap.blocking_alive;
                    let _ = writeln!(
                        t,
                        "  and {n} spawn_blocking closure{} still running on tokio's blocking pool (tokio keeps no \
                         names or spawn sites for {}, and the kit cannot cancel {})",
                        if n == 1 { "" } else { "s" },
                        if n == 1 { "it" } else { "them" },
                        if n == 1 { "it" } else { "them" },
                    );
                }
                let _ = writeln!(t);
            }
            // Teardown panics join the list when one of them is the headline, else they
            // follow it as "also".
            let (panics, late) = if panics.is_empty() && kind == FailureKind::Panic {
                (late, Vec::new())
            } else {
                (panics, late)
            };
            if !panics.is_empty() {
                let _ = writeln!(t, "panics ({}):", panics.len());
                for p in &panics {
                    let at = p.at.map(|a| format!(" [{}]", Vt(a))).unwrap_or_default();
                    let _ = writeln!(t, "  {}{at}", describe_panic(p));
                    if let Some(bt) = p.backtrace.as_ref().filter(|b| !b.is_empty()) {
                        let _ = writeln!(t, "    backtrace (your frames):");
                        for line in bt.lines() {
                            let _ = writeln!(t, "      {line}");
                        }
                    }
                }
                let hint = if panics.iter().any(|p| p.task.as_ref().is_some_and(|m| m.id != 0)) {
                    "  (a panic the test expects is taken by awaiting the task's JoinHandle and calling \
                     JoinError::into_panic)"
                } else {
                    "  (a panic that ends a task outside kit tasks always fails the test; to expect one, catch it \
                     inside the task with catch_unwind, or start the task with async_testkit::spawn and take the \
                     panic with JoinError::into_panic)"
                };
                if panics.iter().any(|p| p.task.as_ref().is_none_or(|m| m.id != 0)) {
                    let _ = writeln!(t, "{hint}");
                }
                let _ = writeln!(t);
            }
            if !late.is_empty() {
                let _ = writeln!(
                    t,
                    "also, after the run had stopped, while its tasks were cancelled and its runtime shut down ({}):",
                    late.len()
                );
                for p in &late {
                    let at = p.at.map(|a| format!(" [{}]", Vt(a))).unwrap_or_default();
                    let _ = writeln!(t, "  {}{at}", describe_panic(p));
                }
                let _ = writeln!(t);
            }
            if let Some(err) = returned_err.as_ref().filter(|_| kind != FailureKind::ReturnedErr) {
                let _ = writeln!(t, "also: {}", err.message);
                let _ = writeln!(t);
            }
            if expectations.len() > 1 || (!expectations.is_empty() && kind != FailureKind::Expectation) {
                let _ = writeln!(t, "broken expectations ({}):", expectations.len());
                for e in &expectations {
                    for (i, line) in e.lines().enumerate() {
                        let _ = writeln!(t, "  {}{line}", if i == 0 { "" } else { "  " });
                    }
                }
                let _ = writeln!(t);
            }
            if !warnings.is_empty() {
                let _ = writeln!(t, "warnings:");
                for w in &warnings {
                    let _ = writeln!(t, "  {w}");
                }
                let _ = writeln!(t);
            }
            if trace.is_on() {
                let _ = writeln!(t, "timeline (virtual time):");
                t.push_str(&trace.render(&name_of, TIMELINE_EVENTS));
            } else {
                let _ = writeln!(
                    t,
                    "timeline: not recorded (an exploration runs its schedules untraced and shows a failure \
                     from a traced replay; this failure did not happen again)"
                );
            }
            if let Some(line) = trace.truncation() {
                let _ = writeln!(t, "{line}");
            }
            let unrecorded = core.choosing.unrecorded.get();
            if unrecorded > 0 {
                let _ = writeln!(
                    t,
                    "schedule: truncated: the run made {} scheduling choices and records the first {}: \
                     the schedule and its replay token are those, and a replay runs FIFO after them",
                    choices.len() as u64 + unrecorded,
                    choices.len()
                );
            }
            let _ = writeln!(t);
            for note in attempt.notes {
                let _ = writeln!(t, "{note}");
            }
            let _ = writeln!(
                t,
                "seed {}, strategy {}, clock {}",
                attempt.seed,
                attempt.label,
                config.clock.describe()
            );
            let _ = write!(t, "{}", attempt.replay);
            let schedule = Schedule::recorded(attempt.label.to_string(), attempt.seed, &choices);
            Err(Failure(Box::new(FailureData {
                kind,
                headline,
                text: t,
                seed: attempt.seed,
                panics: panics.iter().chain(&late).map(|p| p.message.clone()).collect(),
                panic_sites: panics.iter().chain(&late).map(|p| p.location.clone()).collect(),
                leaked: if kind == FailureKind::Leak {
                    leak_lines
                } else {
                    Vec::new()
                },
                choices,
                schedule,
                unrecorded_choices: unrecorded,
                trace_hash: trace.hash(),
                events: trace.keeps_all().then(|| trace.lines(&name_of)),
                clock_ran: core.findings.clock_ran.get(),
                chrome,
            })))
        }
    }
}
