//! Telling long work that nobody waits for it any more.
//!
//! A server runs store and index work on a blocking thread; when the caller's deadline passes or it
//! hangs up, the answer is no longer wanted and the thread should be freed for callers that still
//! wait. A [`Cancel`] travels with the work: the waiting side calls [`Cancel::cancel`], the work polls
//! [`Cancel::check`] at its loop heads and stops with [`Cancelled`] before writing anything.
//! Embedders that never cancel pass [`Cancel::never`] (the default), which costs one branch per poll.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The work stopped because [`Cancel::cancel`] was called; nothing it would have written was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the work was abandoned: its caller is gone")]
pub struct Cancelled;

/// A flag shared between long work and whoever waits for it. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Option<Arc<AtomicBool>>);

impl Cancel {
    /// A flag that can be raised.
    pub fn new() -> Cancel {
        Cancel(Some(Arc::new(AtomicBool::new(false))))
    }

    /// A flag nobody can raise: the work always runs to its end.
    pub fn never() -> Cancel {
        Cancel(None)
    }

    /// Raises the flag: every clone sees it from now on.
    pub fn cancel(&self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::Release);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.as_ref().is_some_and(|flag| flag.load(Ordering::Acquire))
    }

    /// `Err(Cancelled)` once the flag is raised: call it where work can stop without leaving half of it.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() { Err(Cancelled) } else { Ok(()) }
    }
}

/// Two requests are equal whatever flag they carry: the flag says nothing about what is asked.
impl PartialEq for Cancel {
    fn eq(&self, _: &Cancel) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_and_never_stays_down() {
        let cancel = Cancel::new();
        let work = cancel.clone();
        assert_eq!(work.check(), Ok(()));
        cancel.cancel();
        assert_eq!(work.check(), Err(Cancelled));
        let never = Cancel::never();
        never.cancel();
        assert!(!never.is_cancelled());
        assert!(!Cancel::default().is_cancelled());
    }
}
