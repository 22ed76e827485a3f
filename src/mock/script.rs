//! What scripted I/O and scripted streams share: the steps left, the listing shown in
//! messages, waits on virtual time, and how a script not followed fails the test.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::Sleep;

use crate::runtime::executor::{self, Executor};
use crate::runtime::family::{self, Adopted, Owner};
use crate::util::lock;

/// A step that may be a wait.
pub(crate) trait ScriptStep {
    fn wait(&self) -> Option<Duration>;
}

/// A script being played.
pub(crate) struct Script<S> {
    pub(crate) label: String,
    /// Each step as messages show it.
    described: Vec<String>,
    pub(crate) left: VecDeque<S>,
    /// A failure was reported already: only the first is.
    reported: bool,
    /// A task waiting for the script to move on.
    pub(crate) waker: Option<Waker>,
    /// The run playing the script. The first run of a test to play it keeps what it
    /// finds; each later run (another explored schedule, a replay) starts from that
    /// again, when its steps can be cloned (`restart`), and otherwise fails saying why.
    owner: Owner,
    clone_step: Option<fn(&S) -> S>,
    restart: VecDeque<S>,
    restart_len: usize,
    /// [`adopt`] for these steps, chosen where they are known to be `'static`.
    adopter: Adopter<S>,
}

type Adopter<S> = fn(&Arc<Mutex<Script<S>>>, &Executor);

impl<S: ScriptStep + 'static> Script<S> {
    /// A script of `steps` (each with its description), checked by the current run at
    /// its end if there is one.
    /// Steps that can be cloned (`clone_step`) let each run of a test start the script
    /// afresh.
    pub(crate) fn start(
        kind: &str,
        name: Option<&str>,
        site: &'static Location<'static>,
        steps: Vec<(S, String)>,
        clone_step: Option<fn(&S) -> S>,
    ) -> Arc<Mutex<Self>> {
        let (left, described) = steps.into_iter().unzip();
        let script = Arc::new(Mutex::new(Script {
            label: match name {
                Some(n) => format!("{kind} script `{n}`"),
                None => format!("the {kind} script built at {site}"),
            },
            described,
            left,
            reported: false,
            waker: None,
            owner: Owner::here(),
            clone_step,
            restart: VecDeque::new(),
            restart_len: 0,
            adopter: adopt::<S>,
        }));
        adopt_current(&script);
        script
    }
}

/// Makes the current run, if any, the one playing `script` (what every use of a
/// scripted object does first): it checks the script at its end.
pub(crate) fn adopt_current<S>(script: &Arc<Mutex<Script<S>>>) {
    if let Some(core) = executor::try_current() {
        let adopt = lock(script).adopter;
        adopt(script, &core);
    }
}

fn adopt<S: ScriptStep + 'static>(script: &Arc<Mutex<Script<S>>>, core: &Executor) {
    let (adopted, outlives) = {
        let mut s = lock(script);
        (s.restart(core), s.owner.outlives_runs())
    };
    match adopted {
        Adopted::Already => return,
        Adopted::FirstOfFamily if outlives => {
            family::adopt_each_run(script, |script, core| adopt(&script, core));
        }
        Adopted::FirstOfFamily | Adopted::Again => {}
    }
    let s = script.clone();
    core.at_end(Box::new(move || lock(&s).leftover().map_or(Ok(()), Err)));
}

impl<S> Script<S> {
    /// Makes `core`'s run the script's: see [`Script::owner`].
    fn restart(&mut self, core: &Executor) -> Adopted {
        let adopted = self.owner.adopt(core);
        match (adopted, self.clone_step) {
            (Adopted::FirstOfFamily, Some(clone)) => self.restart = self.left.iter().map(clone).collect(),
            (Adopted::FirstOfFamily, None) => self.restart_len = self.left.len(),
            (Adopted::Again, Some(clone)) => {
                self.left = self.restart.iter().map(clone).collect();
                self.reported = false;
                self.waker = None;
            }
            (Adopted::Again, None) if self.left.len() < self.restart_len => {
                self.reported = true;
                core.fail(format!(
                    "{} was built outside the test's closure, and an earlier run of this test (the \
                     schedules of an exploration, a failure's replays) took {} of its {} steps: its items \
                     are handed to the code and cannot be given again, so this run would find them gone. \
                     Build the script inside the closure, so that each run has its own.",
                    self.label,
                    self.restart_len - self.left.len(),
                    self.restart_len
                ));
            }
            _ => {}
        }
        adopted
    }

    fn total(&self) -> usize {
        self.described.len()
    }

    /// The front step is done.
    pub(crate) fn advance(&mut self) {
        self.take();
    }

    /// Takes the front step: it is done.
    pub(crate) fn take(&mut self) -> Option<S> {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
        self.left.pop_front()
    }

    /// `step 2 of 3`: the step the script is at.
    pub(crate) fn step_no(&self) -> String {
        format!("step {} of {}", self.total() - self.left.len() + 1, self.total())
    }

    /// The script, one step a line, with where the code is.
    fn listing(&self) -> String {
        let current = self.total() - self.left.len();
        let mut t = String::from("script:");
        for (i, s) in self.described.iter().enumerate() {
            let mark = match i.cmp(&current) {
                std::cmp::Ordering::Less => "done",
                std::cmp::Ordering::Equal => "next",
                std::cmp::Ordering::Greater => "",
            };
            let _ = write!(t, "\n  {:>3}. {mark:<5} {s}", i + 1);
        }
        t
    }

    /// The message for steps left over (once).
    pub(crate) fn leftover(&mut self) -> Option<String> {
        if self.left.is_empty() || self.reported {
            return None;
        }
        self.reported = true;
        let next = &self.described[self.total() - self.left.len()];
        Some(format!(
            "{} was not followed to its end: {} of {} steps left, the next is: {next}\n{}",
            self.label,
            self.left.len(),
            self.total(),
            self.listing()
        ))
    }

    /// Reports that the code went off the script (through the run, or by panicking
    /// outside one; the first time only) and returns the message.
    pub(crate) fn broken(&mut self, what: String) -> String {
        let message = format!("{}: {what}\n{}", self.label, self.listing());
        if !self.reported {
            self.reported = true;
            report(message.clone());
        }
        message
    }
}

fn report(message: String) {
    match executor::try_current() {
        Some(core) => core.fail(message),
        None => panic!("{message}"),
    }
}

/// For `Drop` of a scripted object: steps left over fail the test (or panic outside a
/// run, unless the thread already panics).
pub(crate) fn check_dropped<S>(script: &Mutex<Script<S>>) {
    let message = lock(script).leftover();
    if let Some(message) = message {
        if executor::try_current().is_some() || !std::thread::panicking() {
            report(message);
        }
    }
}

/// Waits out a wait step at the front of the script; `Ready` when there is none (any
/// more).
pub(crate) fn poll_wait<S: ScriptStep>(
    script: &Mutex<Script<S>>,
    sleep: &mut Option<Pin<Box<Sleep>>>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    loop {
        let Some(wait) = lock(script).left.front().and_then(ScriptStep::wait) else {
            return Poll::Ready(());
        };
        let timer = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(wait)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        *sleep = None;
        lock(script).advance();
    }
}
