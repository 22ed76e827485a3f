//! [`Dfs`]: bounded depth-first search over FIFO deviations, one schedule per run.
//! Exploration's `dfs` strategy runs it, and the minimiser searches with it for a
//! failing schedule with fewer preemptions.

use super::choice::{Choice, preemptions};

/// Bounded depth-first search over FIFO deviations: each run replays a prefix of choices
/// and continues FIFO; the next prefix bumps the deepest choice that can still change
/// within the preemption bound.
pub(crate) struct Dfs {
    /// The most preemptions a schedule may have; fixed for the search.
    bound: u32,
    /// The prefix the next run replays (then FIFO): the empty prefix (all FIFO) before
    /// the first run, `None` once every schedule within `bound` has run. The caller takes
    /// it for a run and gives that run's choices to [`Dfs::advance`], which sets the next
    /// one. A prefix never holds more than `bound` preemptions, and ends in a bumped task
    /// choice (except the first, empty one).
    pub(crate) next: Option<Vec<u32>>,
}

impl Dfs {
    pub(crate) fn new(bound: u32) -> Self {
        Dfs {
            bound,
            next: Some(Vec::new()),
        }
    }

    pub(crate) fn advance(&mut self, run: &[Choice]) {
        self.next = None;
        for i in (0..run.len()).rev() {
            let c = run[i];
            // Latency levels are not branched on: DFS explores task orders.
            if c.task && c.chosen + 1 < c.options {
                let before = preemptions(&run[..i]) as u32;
                if before < self.bound {
                    let mut prefix: Vec<u32> = run[..i].iter().map(|c| c.chosen).collect();
                    prefix.push(c.chosen + 1);
                    self.next = Some(prefix);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(options: u32, chosen: u32) -> Choice {
        Choice {
            options,
            chosen,
            task: true,
        }
    }

    #[test]
    fn dfs_does_not_branch_on_latency_levels() {
        let mut dfs = Dfs::new(2);
        dfs.next.take();
        dfs.advance(&[
            c(2, 0),
            Choice {
                options: 16,
                chosen: 0,
                task: false,
            },
        ]);
        assert_eq!(dfs.next.take(), Some(vec![1]));
    }

    #[test]
    fn dfs_enumerates_prefixes_within_the_bound_then_stops() {
        let mut dfs = Dfs::new(1);
        assert_eq!(dfs.next.take(), Some(vec![]));
        // A run with three binary choices, all FIFO.
        dfs.advance(&[c(2, 0), c(2, 0), c(2, 0)]);
        assert_eq!(dfs.next.take(), Some(vec![0, 0, 1]));
        dfs.advance(&[c(2, 0), c(2, 0), c(2, 1)]);
        assert_eq!(dfs.next.take(), Some(vec![0, 1]));
        dfs.advance(&[c(2, 0), c(2, 1), c(2, 0)]); // a third deviation would exceed the bound
        assert_eq!(dfs.next.take(), Some(vec![1]));
        dfs.advance(&[c(2, 1), c(2, 0), c(2, 0)]);
        assert_eq!(dfs.next, None);
    }

    #[test]
    fn dfs_with_bound_zero_runs_fifo_once() {
        let mut dfs = Dfs::new(0);
        assert_eq!(dfs.next.take(), Some(vec![]));
        dfs.advance(&[c(3, 0), c(2, 0)]);
        assert_eq!(dfs.next, None);
    }
}
