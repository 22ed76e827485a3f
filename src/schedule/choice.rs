//! What a strategy sees and returns: the [`Step`] it chooses at, the [`Choice`] a run
//! records, and the [`Chooser`] trait every strategy implements.

use crate::trace::TaskId;

/// What the choice source sees at a step with two or more options.
pub(crate) struct Step<'a> {
    /// Ready kit tasks, in the order they were woken (FIFO takes the first).
    pub(crate) ready: &'a [TaskId],
    /// Whether a turn for tokio's own queue is offered, as the last option.
    pub(crate) tokio: bool,
}

impl Step<'_> {
    pub(crate) fn options(&self) -> usize {
        self.ready.len() + usize::from(self.tokio)
    }
}

/// One recorded choice of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Choice {
    /// How many options the step had: at least 2 (a step with one option is no choice
    /// and is not recorded).
    pub(crate) options: u32,
    /// The option taken: always below `options`; 0 is what FIFO (or the default latency
    /// level) would have taken.
    pub(crate) chosen: u32,
    /// A choice of the next task (a deviation is a preemption), not of a value (a mock
    /// latency level).
    pub(crate) task: bool,
}

/// How many recorded choices preempt (pick a task FIFO would not have).
pub(crate) fn preemptions(choices: &[Choice]) -> usize {
    choices.iter().filter(|c| c.task && c.chosen != 0).count()
}

/// A source of scheduling decisions for one run.
pub(crate) trait Chooser {
    /// Picks an option of `step` (there are at least 2) and returns its index.
    fn choose(&mut self, step: &Step<'_>) -> usize;

    /// For a value choice (a mock latency level): the replayed value, if this source
    /// replays a schedule; otherwise the run draws it from its seeded generator.
    fn replay_value(&mut self, _options: usize) -> Option<usize> {
        None
    }

    /// The task just polled woke itself during its poll (a yield point, `yield_now`).
    fn yielded(&mut self, _task: TaskId) {}

    /// Whether [`Chooser::yielded`] matters to this source. Inside tokio's loop a
    /// `tokio::task::yield_now()` is deferred and cannot be told from a wait, so the
    /// executor then polls every task from its main loop, where yields are seen.
    fn watches_yields(&self) -> bool {
        false
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A step over `ready` tasks, with tokio's turn offered if `tokio`: for the tests of
    /// every strategy.
    pub(crate) fn step(ready: &[TaskId], tokio: bool) -> Step<'_> {
        Step { ready, tokio }
    }
}
