//! Feedback (反馈): the approval system reports, per measure of a check, what it did.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CheckError, CheckRecord, Checker};
use crate::division::DivisionTable;
use crate::engine::Engine;
use crate::model::{AmountWan, Stamp};
use crate::store::{Store, StoreError, from_json, to_json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    /// Not applied; the reason is required.
    NotApplied,
    /// Passed up to a higher authority.
    Escalated,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Applied, Outcome::NotApplied, Outcome::Escalated];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::NotApplied => "not_applied",
            Outcome::Escalated => "escalated",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Feedback as a department submits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackInput {
    pub check_id: u64,
    pub measure_id: String,
    pub outcome: Outcome,
    pub reason: Option<String>,
    /// In 万元, as a decimal (the amount involved: a contract, a subsidy, a bond).
    pub amount: Option<String>,
    pub department: String,
    /// GB/T 2260 code of where it happened; defaults to the checked subject's division.
    pub division: Option<String>,
    /// Defaults to the check's item.
    pub item: Option<String>,
    /// When it happened; defaults to now.
    pub time: Option<DateTime<Utc>>,
    pub operator: String,
}

/// Feedback as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    pub check_id: u64,
    /// Several reports on one check are kept; the latest per measure counts.
    pub sequence: u32,
    pub measure_id: String,
    pub memorandum_id: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<AmountWan>,
    pub department: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    pub item: String,
    pub time: DateTime<Utc>,
    pub operator: String,
    pub recorded_at: DateTime<Utc>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> CheckError {
    CheckError::InvalidFeedback { field, reason: reason.into() }
}

fn required(value: &str, field: &'static str) -> Result<String, CheckError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(field, "is required"));
    }
    Ok(value.to_string())
}

impl<E: Engine> Checker<'_, E> {
    /// The recorded check with this id.
    pub fn recorded_check(&self, check_id: u64) -> Result<Option<CheckRecord>, CheckError> {
        Ok(self.store.check_entry(check_id)?.map(|b| from_json(&b)).transpose()?)
    }

    /// Validates and stores feedback on a measure of a recorded check.
    pub fn submit_feedback(&self, input: FeedbackInput) -> Result<Feedback, CheckError> {
        Ok(self.submit_feedback_stamped(input)?.0)
    }

    /// [`Checker::submit_feedback`], saying under which stamp the feedback landed: the write command
    /// a replica applies with [`apply_feedback`] is the feedback and that stamp.
    pub fn submit_feedback_stamped(&self, input: FeedbackInput) -> Result<(Feedback, Stamp), CheckError> {
        let check = self.recorded_check(input.check_id)?.ok_or(CheckError::UnknownCheck(input.check_id))?;
        let Some(measure) = check.measures.iter().find(|m| m.measure_id == input.measure_id) else {
            return Err(CheckError::MeasureNotInCheck { check_id: input.check_id, measure_id: input.measure_id });
        };
        let reason = input.reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
        if input.outcome == Outcome::NotApplied && reason.is_none() {
            return Err(invalid("reason", "is required when the measure was not applied"));
        }
        let amount = match input.amount.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(text) => match AmountWan::parse(text) {
                Some(amount) if amount.fen >= 0 => Some(amount),
                _ => return Err(invalid("amount", format!("{text:?} is not an amount in 万元 (e.g. 12.5)"))),
            },
        };
        let division = match input.division.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => check.division.clone(),
            Some(code) if DivisionTable::builtin().get(code).is_some() => Some(code.to_string()),
            Some(code) => return Err(invalid("division", format!("{code} is not a GB/T 2260 division code"))),
        };
        let item = match input.item.as_deref().map(str::trim).filter(|i| !i.is_empty()) {
            None => check.item.clone(),
            Some(item) if self.rules.items.contains_key(item) => item.to_string(),
            Some(item) => return Err(invalid("item", format!("unknown approval item {item}"))),
        };
        let now = Utc::now();
        let feedback = Feedback {
            check_id: input.check_id,
            sequence: 0,
            measure_id: measure.measure_id.clone(),
            memorandum_id: measure.memorandum_id.clone(),
            outcome: input.outcome,
            reason,
            amount,
            department: required(&input.department, "department")?,
            division,
            item,
            time: input.time.unwrap_or(now),
            operator: required(&input.operator, "operator")?,
            recorded_at: now,
        };
        Ok(apply_feedback(self.store, feedback, None)?)
    }

    /// Every feedback entry on a check, oldest first.
    pub fn feedback_of(&self, check_id: u64) -> Result<Vec<Feedback>, CheckError> {
        Ok(self.store.feedback_entries(check_id)?.iter().map(|b| from_json(b)).collect::<Result<_, _>>()?)
    }
}

/// Stores validated feedback in a batch of its own, under `stamp` when one is given (a replica; the
/// check it is about may be in another node's check log) or the next batch, recorded at the feedback's
/// `recorded_at`. Its sequence on the check is the next free one.
pub fn apply_feedback<E: Engine>(
    store: &Store<E>,
    mut feedback: Feedback,
    stamp: Option<Stamp>,
) -> Result<(Feedback, Stamp), StoreError> {
    let at = stamp.map_or(feedback.recorded_at, |s| s.at);
    let mut guard = store.begin_batch_as(stamp.map(|s| s.batch), "feedback", Vec::new(), None, at)?;
    let stamp = Stamp { batch: guard.info().id, at };
    guard.put_feedback(feedback.check_id, |sequence| {
        feedback.sequence = sequence;
        to_json(&feedback)
    })?;
    guard.commit()?;
    Ok((feedback, stamp))
}
