//! The runs of one test: an exploration's schedules, a failure's minimisation and its
//! replays. What outlives a run and is used by the next ones (a mock built outside the
//! test's closure) registers here, and is told when each later run of the family starts.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use super::executor::Executor;

/// Told of each new run of the family; false once it has nothing left to do (its owner
/// was dropped), and it is forgotten.
pub(crate) type Hook = Box<dyn Fn(&Executor) -> bool>;

thread_local! {
    /// The family of the runs on this thread (0: none).
    static CURRENT: Cell<u64> = const { Cell::new(0) };
    static HOOKS: RefCell<Vec<Hook>> = const { RefCell::new(Vec::new()) };
    static NEXT: Cell<u64> = const { Cell::new(1) };
}

/// A family of runs, current on this thread until dropped.
pub(crate) struct Family {
    outer: u64,
    outer_hooks: Vec<Hook>,
}

impl Family {
    pub(crate) fn enter() -> Family {
        let id = NEXT.with(|n| n.replace(n.get() + 1));
        Family {
            outer: CURRENT.with(|c| c.replace(id)),
            outer_hooks: HOOKS.with(|h| h.take()),
        }
    }
}

impl Drop for Family {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.outer));
        let hooks = std::mem::take(&mut self.outer_hooks);
        // The family's own hooks are dropped here, outside the borrow.
        drop(HOOKS.with(|h| h.replace(hooks)));
    }
}

/// The family of the runs on this thread, 0 outside one.
pub(crate) fn current() -> u64 {
    CURRENT.with(Cell::get)
}

/// Tells `hook` of every later run of the current family (nothing outside one).
pub(crate) fn on_each_run(hook: Hook) {
    if current() != 0 {
        HOOKS.with(|h| h.borrow_mut().push(hook));
    }
}

/// A run of the current family has started on `core`.
pub(crate) fn run_started(core: &Executor) {
    let mut hooks = HOOKS.with(|h| h.take());
    hooks.retain(|hook| hook(core));
    HOOKS.with(|h| {
        let added = std::mem::replace(&mut *h.borrow_mut(), hooks);
        h.borrow_mut().extend(added);
    });
}

/// Which run an object that may outlive a run (built outside a test's closure: a mock,
/// a gate, a script) belongs to, for the one way all of them start each run afresh: the
/// first run of a family to use the object takes it as it is ([`Adopted::FirstOfFamily`],
/// and the object remembers what it starts from), each later run of the family starts it
/// again from there ([`Adopted::Again`]).
///
/// Only an object made outside every run is told of each run of a family as it starts:
/// one made inside a run belongs to it, and a later run that uses it (kept alive, say,
/// with `mem::forget`) still starts it afresh, but one that does not is not checked by it.
#[derive(Default, Debug)]
pub(crate) struct Owner {
    /// The run (0: none yet).
    run: u64,
    /// That run's family.
    family: u64,
    /// Made inside a run.
    made_in_run: bool,
}

/// What [`Owner::adopt`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Adopted {
    /// The object was this run's already.
    Already,
    /// The first run of its family to use the object.
    FirstOfFamily,
    /// A later run of the family: the object starts afresh.
    Again,
}

impl Owner {
    /// The owner of an object made now, inside a run or not.
    pub(crate) fn here() -> Owner {
        Owner {
            made_in_run: super::executor::try_current().is_some(),
            ..Owner::default()
        }
    }

    /// Whether the runs of a family should be told of the object as each starts (see
    /// [`adopt_each_run`]): only when it was made outside every run.
    pub(crate) fn outlives_runs(&self) -> bool {
        !self.made_in_run
    }

    /// Makes `core`'s run the object's.
    pub(crate) fn adopt(&mut self, core: &Executor) -> Adopted {
        if self.run == core.run_id {
            return Adopted::Already;
        }
        let family = current();
        let first = self.run == 0 || self.family != family;
        self.run = core.run_id;
        self.family = family;
        if first {
            Adopted::FirstOfFamily
        } else {
            Adopted::Again
        }
    }

    /// Whether a run has used the object.
    pub(crate) fn used(&self) -> bool {
        self.run != 0
    }
}

/// Has every later run of the current family call `adopt` on `object` as it starts,
/// while the object lives: what the first run of a family to use an object calls.
pub(crate) fn adopt_each_run<T: ?Sized + 'static>(
    object: &Arc<T>,
    adopt: impl Fn(Arc<T>, &Executor) + 'static,
) {
    let weak = Arc::downgrade(object);
    on_each_run(Box::new(move |core| match weak.upgrade() {
        Some(object) => {
            adopt(object, core);
            true
        }
        None => false,
    }));
}
