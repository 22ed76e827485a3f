//! Work outside the runtime that may still wake a task of the run: OS threads the test
//! started, child processes, `spawn_blocking` closures.
//!
//! tokio's paused clock jumps to the next timer as soon as its thread has nothing to run,
//! so a wake on its way from outside (a thread's reply, a child's exit) would come after
//! the jump, or, with no timer of the test's pending, after the kit's deadline sentinel
//! fired and the run was judged a deadlock. The executor asks [`Outside::pending`]
//! before it lets the clock jump in `auto` mode (and before a manual clock's stall), and
//! while something is pending it holds virtual time still for a real-time grace.
//!
//! What can be seen, and how (all of it cheap enough to look at every park):
//! - `spawn_blocking` closures: the blocking pool's count of live threads (`pool.rs`).
//!   tokio itself keeps its paused clock still while one runs.
//! - Child processes (Linux): the children of the run's thread,
//!   `/proc/thread-self/children`, as `tokio::process` spawns on the calling thread.
//! - OS threads the test started (Linux): threads whose name is the run thread's. An
//!   unnamed thread inherits its parent's name, and the test's thread is named after the
//!   test, so a thread given a name of its own is not seen, and another test whose name
//!   starts with the same 15 bytes (the kernel keeps no more) may be mistaken for this
//!   one's (its threads then only cost this run some waiting). Only threads started
//!   since the run began are looked at: those with an id above the last the kernel had
//!   handed out when the run began (it numbers threads in increasing order, until its
//!   numbers wrap around). A run reads that one number when it starts
//!   (`/proc/sys/kernel/ns_last_pid`, which each thread opens once); the rest only when
//!   it looks. The reading goes through the kernel's sysctl code and cost an
//!   exploration's short schedule a tenth of its time, so the runs of one family (an
//!   exploration's schedules) that start within one tick of the coarse clock share it:
//!   a thread that an earlier schedule of that tick started, named as the test, and
//!   left running counts for them too, which costs them only some waiting.
//!
//! Elsewhere only the blocking pool is seen.

use std::cell::Cell;

use super::wall;

/// What outside work is pending now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    threads: usize,
    children: usize,
    blocking: usize,
}

impl Pending {
    pub(crate) fn any(&self) -> bool {
        self.threads + self.children + self.blocking > 0
    }

    /// `1 OS thread the test started, 2 child processes` (empty when nothing is pending).
    pub(crate) fn describe(&self) -> String {
        let count = |n: usize, one: &str, many: &str| match n {
            0 => None,
            1 => Some(format!("1 {one}")),
            n => Some(format!("{n} {many}")),
        };
        [
            count(
                self.threads,
                "OS thread the test started",
                "OS threads the test started",
            ),
            count(self.children, "child process", "child processes"),
            count(self.blocking, "spawn_blocking closure", "spawn_blocking closures"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// The run's view of outside work; made and asked on the run's thread.
pub(crate) struct Outside {
    /// The coarse wall clock's reading at the last look for the park hook, and what
    /// that look found (see [`Outside::pending_at_park`]).
    looked: Cell<Option<(u64, Pending)>>,
    /// The blocking pool's live threads (`pool::BlockingThreads::alive`).
    blocking: Box<dyn Fn() -> usize>,
    /// Whether child processes are looked for (they need tokio's I/O driver).
    children: bool,
    #[cfg(target_os = "linux")]
    threads: linux::Threads,
}

impl Outside {
    /// `family`: the run's family (0: none), whose runs may share the reading of where
    /// thread ids stood.
    pub(crate) fn new(blocking: Box<dyn Fn() -> usize>, io: bool, family: u64) -> Self {
        #[cfg(not(target_os = "linux"))]
        let _ = family;
        Outside {
            looked: Cell::new(None),
            blocking,
            children: io,
            #[cfg(target_os = "linux")]
            threads: linux::Threads::new(family),
        }
    }

    /// What is pending, for the park hook, which runs before every jump of the clock:
    /// a look costs some microseconds of system calls, a jump one or two, so the hook
    /// looks again only once the coarse wall clock has ticked (a few milliseconds) since
    /// its last look, or when that look found something. Work started and awaited within
    /// one tick of a look is not seen here; the deadline and a manual clock's stall look
    /// afresh.
    pub(crate) fn pending_at_park(&self) -> Pending {
        let now = wall::coarse();
        match self.looked.get() {
            Some((at, found)) if at == now && !found.any() => found,
            _ => {
                let found = self.pending();
                self.looked.set(Some((now, found)));
                found
            }
        }
    }

    /// The blocking pool's live threads: `spawn_blocking` closures running.
    pub(crate) fn blocking(&self) -> usize {
        (self.blocking)()
    }

    /// What is pending now.
    pub(crate) fn pending(&self) -> Pending {
        #[cfg(target_os = "linux")]
        let (threads, children) = (
            self.threads.started(),
            if self.children { linux::children() } else { 0 },
        );
        #[cfg(not(target_os = "linux"))]
        let (threads, children) = (0, 0);
        Pending {
            threads,
            children,
            blocking: self.blocking(),
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::cell::{Cell, OnceCell};
    use std::fs;
    use std::os::unix::fs::FileExt;

    use crate::util::thread_comm;

    /// Where thread ids stood when the run began: the kernel hands ids out in increasing
    /// order, so a thread started since has a higher one.
    pub(super) struct Threads {
        /// The last id the kernel handed out (in the process's pid namespace) when the run
        /// began, read from one small file; where that cannot be read, the highest id of
        /// the process's threads.
        max_at_start: u32,
    }

    thread_local! {
        /// `/proc/sys/kernel/ns_last_pid`, opened once per thread: each run reads it again
        /// from its start (one system call, where opening and reading it took five).
        static LAST_PID: OnceCell<Option<fs::File>> = const { OnceCell::new() };
        /// The last run's reading on this thread: its family, the coarse clock's tick
        /// it was made in, and the id it found.
        static LAST_READING: Cell<Option<(u64, u64, u32)>> = const { Cell::new(None) };
    }

    /// The last id the kernel handed out, now.
    fn last_pid() -> Option<u32> {
        LAST_PID
            .try_with(|f| {
                let file = f
                    .get_or_init(|| fs::File::open("/proc/sys/kernel/ns_last_pid").ok())
                    .as_ref()?;
                let mut buf = [0u8; 24];
                let n = file.read_at(&mut buf, 0).ok()?;
                std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
            })
            .ok()
            .flatten()
    }

    impl Threads {
        /// Where ids stand now, or, for a run of `family` (not 0) in the coarse clock's
        /// tick of the family's last reading on this thread, where they stood then.
        pub(super) fn new(family: u64) -> Self {
            let tick = super::wall::coarse();
            if let Some((f, at, max)) = LAST_READING.with(Cell::get)
                && family != 0
                && f == family
                && at == tick
            {
                return Threads { max_at_start: max };
            }
            let max_at_start = last_pid().unwrap_or_else(|| tids().max().unwrap_or(u32::MAX));
            LAST_READING.with(|r| r.set(Some((family, tick, max_at_start))));
            Threads { max_at_start }
        }

        /// Threads started since the run began that carry the run thread's name.
        pub(super) fn started(&self) -> usize {
            let Some(comm) = thread_comm() else {
                return 0;
            };
            tids()
                .filter(|&tid| tid > self.max_at_start)
                .filter(|tid| fs::read(format!("/proc/self/task/{tid}/comm")).is_ok_and(|c| c == comm))
                .count()
        }
    }

    /// The ids of the process's threads.
    fn tids() -> impl Iterator<Item = u32> {
        fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
    }

    /// Child processes of this thread, exited ones not yet reaped included.
    pub(super) fn children() -> usize {
        fs::read_to_string("/proc/thread-self/children").map_or(0, |s| s.split_whitespace().count())
    }

    #[cfg(test)]
    mod tests {
        use super::{Threads, last_pid};
        use crate::runtime::wall;

        #[test]
        fn runs_of_one_family_in_one_tick_share_the_reading_and_others_read_afresh() {
            for _ in 0..1000 {
                let tick = wall::coarse();
                let first = Threads::new(u64::MAX - 7);
                std::thread::spawn(|| {}).join().unwrap();
                let same_family = Threads::new(u64::MAX - 7);
                let no_family = Threads::new(0);
                if wall::coarse() != tick {
                    continue;
                }
                assert_eq!(same_family.max_at_start, first.max_at_start);
                if last_pid().is_some() {
                    assert!(
                        no_family.max_at_start > first.max_at_start,
                        "a thread started in between"
                    );
                }
                return;
            }
            panic!("never three readings within one tick of the coarse clock");
        }
    }
}
