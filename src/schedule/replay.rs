//! [`Replay`]: the choice source that plays back a recorded [`super::Schedule`]'s
//! choices (a replay token, a minimisation candidate, a DFS prefix), then FIFO.

use super::choice::{Chooser, Step};

/// Replays a list of choices, then FIFO.
pub(crate) struct Replay {
    /// The choices to play, task and value choices alike, in the order the run asks for
    /// them; each is read modulo the options of the step it answers, so any list of
    /// numbers is valid.
    choices: Vec<u32>,
    /// The index in `choices` of the next one to play: the number of choices asked for
    /// so far. Once it reaches `choices.len()` every answer is 0 (FIFO).
    next: usize,
}

impl Replay {
    pub(crate) fn new(choices: Vec<u32>) -> Self {
        Replay { choices, next: 0 }
    }
}

impl Replay {
    fn next_choice(&mut self, options: usize) -> usize {
        let c = self.choices.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        c as usize % options
    }
}

impl Chooser for Replay {
    fn choose(&mut self, step: &Step<'_>) -> usize {
        self.next_choice(step.options())
    }

    fn replay_value(&mut self, options: usize) -> Option<usize> {
        Some(self.next_choice(options))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::choice::tests::step;

    #[test]
    fn replay_reads_choices_modulo_options_then_fifo() {
        let mut r = Replay::new(vec![5, 1]);
        assert_eq!(r.choose(&step(&[1, 2], false)), 1); // 5 % 2
        assert_eq!(r.choose(&step(&[1, 2, 3], false)), 1);
        assert_eq!(r.choose(&step(&[1, 2, 3], false)), 0); // ran out: FIFO
    }
}
