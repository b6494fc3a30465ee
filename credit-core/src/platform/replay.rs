//! Applying the write commands of another store ([`crate::command`]): a replica's one way in.

use super::{Platform, PlatformError, UseCase, permit};
use crate::actor::Actor;
use crate::audit::{AuditEvent, Operation};
use crate::cases::{CaseError, Workflow};
use crate::command::{Command, Replayed};
use crate::engine::Engine;
use crate::import::{ImportError, ImportFrame};
use crate::model::BatchId;
use crate::store::StoreError;

impl<E: Engine> Platform<E> {
    /// Applies `commands`, in order, as the store they come from applied them: each under its batch
    /// and clock, so the same commands make the same store. A command this store has applied already
    /// is skipped (delivered twice); an import's frames are read from `commands` up to its end frame.
    /// Stops at the first command that cannot be applied as it was at its origin, which means this
    /// store has diverged from it (or runs other rules). Audited as one `replay` entry (admins only);
    /// the search index catches up at the end. Commands replayed here are not handed on to this
    /// platform's own sink.
    pub fn replay(
        &self,
        actor: &Actor,
        commands: &mut dyn Iterator<Item = Command>,
    ) -> Result<Vec<Replayed>, PlatformError> {
        permit(actor, UseCase::Replay)?;
        let (mut done, mut last) = (Vec::new(), None);
        let outcome = self.replay_all(commands, &mut done, &mut last);
        let applied = done.iter().filter(|r| !matches!(r, Replayed::Skipped(_))).count();
        let mut event = AuditEvent::new(actor.clone(), Operation::Replay)
            .detail("applied", applied)
            .detail("skipped", done.len() - applied)
            .result_of(&outcome);
        if let Some(last) = last {
            event = event.detail("last_batch", last.0);
        }
        self.audit(vec![event])?;
        self.catch_up_index()?;
        outcome.map(|()| done)
    }

    fn replay_all(
        &self,
        commands: &mut dyn Iterator<Item = Command>,
        done: &mut Vec<Replayed>,
        last: &mut Option<BatchId>,
    ) -> Result<(), PlatformError> {
        while let Some(command) = commands.next() {
            let batch = command.batch();
            *last = Some(batch);
            let failed = |reason: String| PlatformError::Replay { batch: batch.0, reason };
            let replayed = match command {
                Command::Import { frame: begin @ ImportFrame::Begin { .. } } => {
                    let mut next = || match commands.next() {
                        Some(Command::Import { frame }) => Some(frame),
                        // Nothing else lands while an import holds the writer at its origin.
                        _ => None,
                    };
                    match crate::import::apply_frames(&self.store, begin, &mut next) {
                        Ok(summary) => Replayed::Import(summary),
                        Err(ImportError::Store(StoreError::AlreadyApplied { .. })) => {
                            // Its frames follow; pass over them.
                            loop {
                                match next() {
                                    Some(ImportFrame::End { batch: of, .. }) if of == batch => break,
                                    Some(_) => {}
                                    None => return Err(failed("the frames of an applied import end early".into())),
                                }
                            }
                            Replayed::Skipped(batch)
                        }
                        Err(e) => return Err(failed(e.to_string())),
                    }
                }
                Command::Import { frame } => {
                    return Err(failed(format!("an import frame without its begin frame: {frame:?}")));
                }
                Command::Case { stamp, step } => {
                    match Workflow::new(&self.store, &self.disclosure).run(step, Some(stamp)) {
                        Ok((case, _)) => Replayed::Case(case),
                        Err(CaseError::Store(StoreError::AlreadyApplied { .. })) => Replayed::Skipped(batch),
                        Err(e) => return Err(failed(e.to_string())),
                    }
                }
                Command::Feedback { stamp, feedback } => {
                    match crate::checks::apply_feedback(&self.store, feedback, Some(stamp)) {
                        Ok((feedback, _)) => Replayed::Feedback(feedback),
                        Err(StoreError::AlreadyApplied { .. }) => Replayed::Skipped(batch),
                        Err(e) => return Err(failed(e.to_string())),
                    }
                }
                Command::Evaluate { stamp, full, as_of, model_version } => {
                    if model_version != self.evaluation.version {
                        return Err(failed(format!(
                            "the origin evaluated under model {model_version}, this node has {}",
                            self.evaluation.version
                        )));
                    }
                    let run = if full {
                        self.full_run(Some(stamp), as_of).map(Some)
                    } else {
                        self.incremental_run(Some(stamp), as_of)
                    };
                    match run {
                        Ok(Some(run)) => Replayed::Evaluate(run),
                        Ok(None) => {
                            return Err(failed(
                                "the origin ran an incremental evaluation this node's stored ones do not allow".into(),
                            ));
                        }
                        Err(PlatformError::Store(StoreError::AlreadyApplied { .. })) => Replayed::Skipped(batch),
                        Err(e) => return Err(failed(e.to_string())),
                    }
                }
                Command::Sweep { stamp, through } => {
                    match crate::feed::sweep_as(&self.store, &self.disclosure, through, Some(stamp.batch), stamp.at) {
                        Ok(summary) => Replayed::Sweep(summary),
                        Err(StoreError::AlreadyApplied { .. }) => Replayed::Skipped(batch),
                        Err(e) => return Err(failed(e.to_string())),
                    }
                }
            };
            done.push(replayed);
        }
        Ok(())
    }
}
