//! Writes as commands: every change of the store's credit data (an import, a case step, feedback on a
//! check, the sweep) is one value that carries everything not decided by the store itself (the batch
//! it lands in, the clock, the parsed rows), applied by one function of that value and the store.
//!
//! The batch id is the sequence of a store's write commands: the origin allocates it, the command
//! carries it, and a replica applies the command under the same id ([`crate::store::Store::begin_batch_as`]),
//! so the same commands in the same order make the same store, and a command delivered twice is
//! recognised ([`Replayed::Skipped`]). Ids an origin skipped (a step refused, a batch lost in a crash)
//! stay unused on the replica too.
//!
//! A [`Platform`](crate::Platform) with a [`CommandSink`] hands every command it applied to it: a
//! case step, feedback or sweep once committed; an import frame by frame as it goes
//! ([`ImportFrame`]), its end once the batch committed or rolled back. Replicating a store is then a
//! transport from the sink to [`crate::Platform::replay`] elsewhere.
//!
//! Not commands: the check log and the audit chain, which record what was asked of and done by this
//! node, each node its own; report numbers, reserved per node.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::cases::{Case, CaseCommand};
use crate::checks::Feedback;
use crate::feed::SweepSummary;
use crate::import::{ImportFrame, ImportSummary};
use crate::model::{BatchId, Stamp};

pub use crate::model::PublishError;

/// One write command, as a replication transport carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// One frame of an import (begin, rows, end).
    Import { frame: ImportFrame },
    /// A repair or objection step.
    Case { stamp: Stamp, step: CaseCommand },
    /// Feedback on a measure of a check, validated where the check was made.
    Feedback { stamp: Stamp, feedback: Feedback },
    /// Windows and planned list removals that ended, through a day.
    Sweep { stamp: Stamp, through: NaiveDate },
    /// An evaluation run (full, or over the subjects changed since the last): a replica runs the same
    /// model over the same store at the same point of the command stream, so its evaluations, statistics
    /// and `grade_changed` events are the origin's, under the same feed sequence numbers.
    Evaluate { stamp: Stamp, full: bool, as_of: NaiveDate, model_version: String },
}

impl Command {
    /// The batch the command lands in.
    pub fn batch(&self) -> BatchId {
        match self {
            Command::Import { frame } => match frame {
                ImportFrame::Begin { batch, .. } | ImportFrame::Rows { batch, .. } | ImportFrame::End { batch, .. } => {
                    *batch
                }
            },
            Command::Case { stamp, .. }
            | Command::Feedback { stamp, .. }
            | Command::Sweep { stamp, .. }
            | Command::Evaluate { stamp, .. } => stamp.batch,
        }
    }

    /// The command's kind, as logs and audit entries name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Import { .. } => "import",
            Command::Case { .. } => "case",
            Command::Feedback { .. } => "feedback",
            Command::Sweep { .. } => "sweep",
            Command::Evaluate { .. } => "evaluate",
        }
    }
}

/// Where a platform hands the write commands it applied: a replication transport.
pub trait CommandSink: Send + Sync {
    /// Takes one command; an error stops the write that produced it (an import rolls back) or, for a
    /// command already committed here, is returned to the caller, who must publish it again.
    fn publish(&self, command: &Command) -> Result<(), PublishError>;
}

/// A sink that keeps every command in memory, in order (tests, and embedders that ship commands
/// themselves).
#[derive(Debug, Default)]
pub struct Recorder {
    commands: std::sync::Mutex<Vec<Command>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// The commands published so far, taken out of the recorder.
    pub fn take(&self) -> Vec<Command> {
        std::mem::take(&mut *self.commands.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

impl CommandSink for Recorder {
    fn publish(&self, command: &Command) -> Result<(), PublishError> {
        self.commands.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(command.clone());
        Ok(())
    }
}

/// What replaying one command did.
#[derive(Debug, Clone, PartialEq)]
pub enum Replayed {
    Import(ImportSummary),
    Case(Case),
    Feedback(Feedback),
    Sweep(SweepSummary),
    Evaluate(crate::platform::EvaluationRun),
    /// Applied here before (its batch is behind this store's next batch): nothing done.
    Skipped(BatchId),
}
