//! Credit repair and objections (DOMAIN.md §5) as explicit state machines.
//!
//! A repair: apply → accepted (under review by the identifying department) or rejected → approved or
//! denied; approval ends the record from its effective date (no more display, sharing or joint
//! measures). An objection against a wrong record: file → accepted or rejected → corrected (a new
//! version), revoked, or dismissed. Every step is a version of the case, attributed to its operator, and
//! lands atomically with its effects and their feed events. Nothing is deleted.

#[cfg(test)]
mod tests;

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

use crate::audit::{Actor, AuditEvent, Operation};
use crate::disclosure::{Disclosure, DisclosureRules};
use crate::engine::Engine;
use crate::feed::record_change;
use crate::model::{RecordContent, RecordId, RecordStatus, Stamp, SubjectId};
use crate::store::{BatchGuard, Store, StoreError};

pub use crate::model::case::{
    Action, Case, CaseKind, CaseState, CaseStep, CommitmentText, Operator, RepairApplication,
};

/// At most this many evidence references per application, each at most [`MAX_TEXT`] characters.
pub const MAX_EVIDENCE: usize = 20;
/// The longest evidence reference or `acting_for`, in characters.
pub const MAX_TEXT: usize = 300;
/// The longest commitment text, in characters.
pub const MAX_COMMITMENT: usize = 4000;
/// The most overdue cases one listing returns.
pub const MAX_OVERDUE: usize = 1000;

/// The whole state machine: the state each action leads to from each state, per kind.
const TRANSITIONS: &[(CaseKind, CaseState, Action, CaseState)] = &[
    (CaseKind::Repair, CaseState::Applied, Action::Accept, CaseState::Accepted),
    (CaseKind::Repair, CaseState::Applied, Action::Reject, CaseState::Rejected),
    (CaseKind::Repair, CaseState::Accepted, Action::Approve, CaseState::Approved),
    (CaseKind::Repair, CaseState::Accepted, Action::Deny, CaseState::Denied),
    (CaseKind::Objection, CaseState::Applied, Action::Accept, CaseState::Accepted),
    (CaseKind::Objection, CaseState::Applied, Action::Reject, CaseState::Rejected),
    (CaseKind::Objection, CaseState::Accepted, Action::Correct, CaseState::Corrected),
    (CaseKind::Objection, CaseState::Accepted, Action::Revoke, CaseState::Revoked),
    (CaseKind::Objection, CaseState::Accepted, Action::Dismiss, CaseState::Dismissed),
];

/// The state `action` leads to, or `None` when it is not allowed from `state`.
pub fn next_state(kind: CaseKind, state: CaseState, action: Action) -> Option<CaseState> {
    TRANSITIONS.iter().find(|(k, s, a, _)| *k == kind && *s == state && *a == action).map(|(_, _, _, next)| *next)
}

/// The actions allowed from `state`.
pub fn allowed_actions(kind: CaseKind, state: CaseState) -> Vec<Action> {
    TRANSITIONS.iter().filter(|(k, s, _, _)| *k == kind && *s == state).map(|(_, _, a, _)| *a).collect()
}

/// A step on an open case.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decision {
    pub action: Action,
    pub operator: Operator,
    pub note: Option<String>,
    /// The day of the decision.
    pub on: NaiveDate,
    /// When the outcome takes effect on the record (approve, correct, revoke); default `on`.
    pub effective: Option<NaiveDate>,
    /// For `correct`: a JSON merge patch (RFC 7396) over the record's content.
    pub correction: Option<serde_json::Value>,
}

/// A case step as a write command: everything it needs but its stamp (the batch and clock it is
/// applied under).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum CaseCommand {
    /// Applies for repair (`apply`) or files an objection (`file`).
    Open {
        action: Action,
        record: RecordId,
        operator: Operator,
        reason: String,
        on: NaiveDate,
        /// A repair's evidence and commitment (empty for objections, and in commands written before
        /// they existed).
        #[serde(default, skip_serializing_if = "is_empty_application")]
        application: RepairApplication,
    },
    Decide {
        case: u64,
        decision: Decision,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("no record {0}")]
    NoRecord(RecordId),
    #[error("no case {0}")]
    NoCase(u64),
    #[error(
        "record {record} is not negative information (a licence, red list entry or other record): nothing to repair"
    )]
    NotNegative { record: RecordId },
    #[error("record {record} has no decision date, so its window and repair date cannot be computed")]
    Undated { record: RecordId },
    #[error(
        "record {record} may be repaired from {repairable_from} on (minimum window of the {tier} tier under rule set {rule_set})"
    )]
    TooEarly { record: RecordId, repairable_from: NaiveDate, tier: &'static str, rule_set: String },
    #[error("record {record} ({tier}) has no window under rule set {rule_set}, so it cannot be repaired")]
    Unruled { record: RecordId, tier: &'static str, rule_set: String },
    #[error("record {record} is an entry of {list_type}, which is not repaired on the platform ({basis})")]
    ListNotRepairable { record: RecordId, list_type: String, basis: String },
    #[error(
        "record {record}: a repair needs proof that the act was corrected and the obligations fulfilled (evidence: \
         references to the documents)"
    )]
    NoEvidence { record: RecordId },
    #[error(
        "record {record}: a repair needs the subject's public credit commitment (its text and the day it was made)"
    )]
    NoCommitment { record: RecordId },
    #[error("record {record} is already {status}")]
    RecordEnded { record: RecordId, status: &'static str },
    #[error("record {record} already has an open {kind} case {case}")]
    AlreadyOpen { record: RecordId, kind: CaseKind, case: u64 },
    #[error("{kind} case {case} is {state}: cannot {action} ({})", allowed_text(.allowed))]
    InvalidTransition { case: u64, kind: CaseKind, state: CaseState, action: Action, allowed: Vec<Action> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CaseError {
    /// The stable name of a refusal, for programs to branch on (`None` for faults and bad input).
    pub fn refusal(&self) -> Option<&'static str> {
        Some(match self {
            CaseError::NotNegative { .. } => "not_negative",
            CaseError::Undated { .. } => "undated",
            CaseError::Unruled { .. } => "no_window",
            CaseError::TooEarly { .. } => "minimum_period_not_reached",
            CaseError::ListNotRepairable { .. } => "list_not_repairable",
            CaseError::NoEvidence { .. } => "no_fulfilment_evidence",
            CaseError::NoCommitment { .. } => "no_credit_commitment",
            CaseError::RecordEnded { .. } => "record_ended",
            CaseError::AlreadyOpen { .. } => "already_open",
            CaseError::InvalidTransition { .. } => "invalid_transition",
            CaseError::Invalid { .. } | CaseError::NoRecord(_) | CaseError::NoCase(_) | CaseError::Store(_) => {
                return None;
            }
        })
    }
}

fn is_empty_application(application: &RepairApplication) -> bool {
    *application == RepairApplication::default()
}

/// Bounds every text an application carries.
fn check_application(application: &RepairApplication) -> Result<(), CaseError> {
    let invalid = |field: &'static str, reason: String| CaseError::Invalid { field, reason };
    if application.evidence.len() > MAX_EVIDENCE {
        return Err(invalid("evidence", format!("at most {MAX_EVIDENCE} references")));
    }
    if let Some(long) = application.evidence.iter().find(|e| e.chars().count() > MAX_TEXT) {
        return Err(invalid(
            "evidence",
            format!("{:?}… is longer than {MAX_TEXT} characters", long.chars().take(20).collect::<String>()),
        ));
    }
    if application.acting_for.as_ref().is_some_and(|a| a.chars().count() > MAX_TEXT || a.trim().is_empty()) {
        return Err(invalid(
            "acting_for",
            format!("name whom the regulator acts for, in at most {MAX_TEXT} characters"),
        ));
    }
    if let Some(commitment) = &application.commitment
        && commitment.text.chars().count() > MAX_COMMITMENT
    {
        return Err(invalid("commitment", format!("longer than {MAX_COMMITMENT} characters")));
    }
    Ok(())
}

fn allowed_text(allowed: &[Action]) -> String {
    if allowed.is_empty() {
        return "the case is closed".into();
    }
    let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
    format!("allowed now: {}", names.join(", "))
}

/// Opens and decides cases on a store, under a set of disclosure rules (for repair dates).
pub struct Workflow<'s, E: Engine> {
    store: &'s Store<E>,
    rules: &'s DisclosureRules,
}

impl<E: Engine> fmt::Debug for Workflow<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workflow").finish_non_exhaustive()
    }
}

impl<'s, E: Engine> Workflow<'s, E> {
    pub fn new(store: &'s Store<E>, rules: &'s DisclosureRules) -> Workflow<'s, E> {
        Workflow { store, rules }
    }

    /// Files an objection against a record (`Action::File`), or applies for repair (`Action::Apply`)
    /// without evidence or commitment (which the rules refuse: see [`Workflow::apply`]).
    pub fn open(
        &self,
        action: Action,
        record: RecordId,
        operator: Operator,
        reason: &str,
        on: NaiveDate,
    ) -> Result<Case, CaseError> {
        let application = RepairApplication::default();
        let command = CaseCommand::Open { action, record, operator, reason: reason.to_string(), on, application };
        Ok(self.run(command, None)?.0)
    }

    /// Applies for repair of a record with the application's evidence and commitment.
    pub fn apply(
        &self,
        record: RecordId,
        operator: Operator,
        reason: &str,
        on: NaiveDate,
        application: RepairApplication,
    ) -> Result<Case, CaseError> {
        let command =
            CaseCommand::Open { action: Action::Apply, record, operator, reason: reason.to_string(), on, application };
        Ok(self.run(command, None)?.0)
    }

    /// Takes the next step on a case; invalid steps are refused naming the case's state.
    pub fn decide(&self, id: u64, decision: Decision) -> Result<Case, CaseError> {
        Ok(self.run(CaseCommand::Decide { case: id, decision }, None)?.0)
    }

    /// Applies a case step in a batch of its own, under `stamp` when one is given (a replica), and
    /// says under which stamp it landed. A step that fails changes nothing.
    pub fn run(&self, command: CaseCommand, stamp: Option<Stamp>) -> Result<(Case, Stamp), CaseError> {
        match command {
            CaseCommand::Open { action, record, operator, reason, on, application } => {
                self.open_in(action, record, operator, &reason, on, application, stamp)
            }
            CaseCommand::Decide { case, decision } => self.decide_in(case, decision, stamp),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn open_in(
        &self,
        action: Action,
        record: RecordId,
        operator: Operator,
        reason: &str,
        on: NaiveDate,
        application: RepairApplication,
        stamp: Option<Stamp>,
    ) -> Result<(Case, Stamp), CaseError> {
        let kind = match action {
            Action::Apply => CaseKind::Repair,
            Action::File => CaseKind::Objection,
            other => {
                return Err(CaseError::Invalid {
                    field: "action",
                    reason: format!("{other} decides a case; apply or file opens one"),
                });
            }
        };
        check_operator(&operator)?;
        if reason.trim().is_empty() {
            return Err(CaseError::Invalid { field: "reason", reason: "state why the case is opened".into() });
        }
        check_application(&application)?;
        if kind == CaseKind::Objection && application.commitment.is_some() {
            return Err(CaseError::Invalid {
                field: "commitment",
                reason: "a credit commitment goes with a repair application, not an objection".into(),
            });
        }
        in_batch(self.store, kind.as_str(), stamp, |cases| {
            let (subject, content) = cases.current_record(record)?;
            if let Some(open) = cases.cases_of(record)?.into_iter().find(|c| c.kind == kind && c.state.is_open()) {
                return Err(CaseError::AlreadyOpen { record, kind, case: open.id });
            }
            let ended = |status| CaseError::RecordEnded { record, status };
            match (kind, content.status) {
                (_, RecordStatus::Revoked) => return Err(ended("revoked")),
                (CaseKind::Repair, RecordStatus::Repaired) => return Err(ended("repaired")),
                _ => {}
            }
            if kind == CaseKind::Repair {
                repairable(self.rules, record, &content, on)?;
                if application.evidence.iter().all(|e| e.trim().is_empty()) {
                    return Err(CaseError::NoEvidence { record });
                }
                match &application.commitment {
                    Some(c) if !c.text.trim().is_empty() && c.made_on <= on => {}
                    _ => return Err(CaseError::NoCommitment { record }),
                }
            }
            let id = cases.allocate_id()?;
            let mut case = Case {
                id,
                kind,
                record,
                subject,
                state: CaseState::Applied,
                version: 1,
                opened_on: on,
                reason: reason.to_string(),
                updated_at: cases.at(),
                outcome_version: None,
                effective: None,
                evidence: application.evidence.iter().map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect(),
                commitment_record: None,
                acting_for: application.acting_for.clone(),
                due: self.due(on, "accept"),
            };
            if let Some(commitment) = &application.commitment
                && kind == CaseKind::Repair
            {
                case.commitment_record = Some(cases.commit_to(&case, &content, commitment)?);
            }
            let step = CaseStep {
                case: id,
                version: 1,
                action,
                state: CaseState::Applied,
                operator,
                on,
                at: case.updated_at,
                note: None,
            };
            cases.save(&case, &step)?;
            Ok(case)
        })
    }

    fn decide_in(&self, id: u64, decision: Decision, stamp: Option<Stamp>) -> Result<(Case, Stamp), CaseError> {
        check_operator(&decision.operator)?;
        in_batch(self.store, "case", stamp, |cases| {
            let mut case = cases.case(id)?.ok_or(CaseError::NoCase(id))?;
            let Some(next) = next_state(case.kind, case.state, decision.action) else {
                return Err(CaseError::InvalidTransition {
                    case: id,
                    kind: case.kind,
                    state: case.state,
                    action: decision.action,
                    allowed: allowed_actions(case.kind, case.state),
                });
            };
            if decision.correction.is_some() != (decision.action == Action::Correct) {
                return Err(CaseError::Invalid {
                    field: "correction",
                    reason: "a correction goes with `correct`, and `correct` needs one".into(),
                });
            }
            let effective = decision.effective.unwrap_or(decision.on);
            if case.kind == CaseKind::Repair && effective < case.opened_on {
                return Err(CaseError::Invalid {
                    field: "effective",
                    reason: format!("a repair cannot take effect before it was applied for ({})", case.opened_on),
                });
            }
            let outcome = match decision.action {
                Action::Approve => Some(Outcome::Status(RecordStatus::Repaired)),
                Action::Revoke => Some(Outcome::Status(RecordStatus::Revoked)),
                Action::Correct => decision.correction.clone().map(Outcome::Correction),
                _ => None,
            };
            if let Some(outcome) = outcome {
                let version = cases.apply(&case, outcome, effective)?;
                case.outcome_version = Some(version);
                case.effective = Some(effective);
            }
            case.state = next;
            case.due = match next {
                CaseState::Accepted => self.due(decision.on, "decide"),
                _ => None,
            };
            case.version += 1;
            case.updated_at = cases.at();
            let step = CaseStep {
                case: id,
                version: case.version,
                action: decision.action,
                state: next,
                operator: decision.operator,
                on: decision.on,
                at: case.updated_at,
                note: decision.note,
            };
            cases.save(&case, &step)?;
            Ok(case)
        })
    }

    pub fn case(&self, id: u64) -> Result<Option<Case>, CaseError> {
        Ok(self.store.case(id)?)
    }

    /// The last day a step may be taken when it comes due `from`, if the rules set a deadline for it.
    fn due(&self, from: NaiveDate, step: &str) -> Option<NaiveDate> {
        let days = self.rules.repair().deadline(step)?;
        from.checked_add_days(chrono::Days::new(u64::from(days)))
    }

    /// Every step of a case, oldest first.
    pub fn steps(&self, id: u64) -> Result<Vec<CaseStep>, CaseError> {
        Ok(self.store.case_steps(id)?)
    }

    /// Open cases past their step's deadline on `today`, oldest first, at most `limit`.
    pub fn overdue(&self, today: NaiveDate, limit: usize) -> Result<Vec<Case>, CaseError> {
        let mut overdue = Vec::new();
        self.store.scan_cases(&mut |case| {
            if case.overdue_on(today) {
                overdue.push(case);
            }
            overdue.len() < limit
        })?;
        Ok(overdue)
    }

    /// The cases about a record, oldest first.
    pub fn cases_of(&self, record: RecordId) -> Result<Vec<Case>, CaseError> {
        Ok(self.store.cases_about(record)?)
    }
}

/// Refuses a repair application the rules do not allow yet (or at all), naming why.
fn repairable(
    rules: &DisclosureRules,
    record: RecordId,
    content: &RecordContent,
    on: NaiveDate,
) -> Result<(), CaseError> {
    match rules.disclosure(content) {
        Disclosure::NotNegative => Err(CaseError::NotNegative { record }),
        Disclosure::Undated { .. } => Err(CaseError::Undated { record }),
        Disclosure::Unruled { tier, rule_set } => Err(CaseError::Unruled { record, tier: tier.as_str(), rule_set }),
        Disclosure::Listed(listing) if !listing.repairable => {
            Err(CaseError::ListNotRepairable { record, list_type: listing.list_type, basis: listing.basis })
        }
        Disclosure::Listed(_) => Ok(()),
        Disclosure::Windowed(w) if on < w.repairable_from => Err(CaseError::TooEarly {
            record,
            repairable_from: w.repairable_from,
            tier: w.tier.as_str(),
            rule_set: w.rule_set,
        }),
        Disclosure::Windowed(_) => Ok(()),
    }
}

/// Runs `step` in a batch of its own (under `stamp`, or the next batch and the clock now): committed
/// when it succeeds, rolled back when it fails.
fn in_batch<E: Engine, T>(
    store: &Store<E>,
    kind: &str,
    stamp: Option<Stamp>,
    step: impl FnOnce(&mut Cases<'_, E>) -> Result<T, CaseError>,
) -> Result<(T, Stamp), CaseError> {
    // The step's clock, read once: everything the batch writes carries it.
    let at = stamp.map_or_else(Utc::now, |s| s.at);
    let mut cases = Cases { guard: store.begin_batch_as(stamp.map(|s| s.batch), kind, Vec::new(), None, at)? };
    let stamp = Stamp { batch: cases.guard.info().id, at };
    match step(&mut cases) {
        Ok(value) => {
            cases.guard.commit()?;
            Ok((value, stamp))
        }
        Err(error) => {
            cases.guard.abort()?;
            Err(error)
        }
    }
}

enum Outcome {
    Status(RecordStatus),
    Correction(serde_json::Value),
}

fn check_operator(operator: &Operator) -> Result<(), CaseError> {
    if operator.name.trim().is_empty() {
        return Err(CaseError::Invalid { field: "operator", reason: "name who takes the step".into() });
    }
    Ok(())
}

/// Case storage inside one batch: reads see the batch's own writes.
struct Cases<'s, E: Engine> {
    guard: BatchGuard<'s, E>,
}

impl<E: Engine> Cases<'_, E> {
    /// When the step is recorded.
    fn at(&self) -> DateTime<Utc> {
        self.guard.info().started_at
    }

    fn allocate_id(&mut self) -> Result<u64, StoreError> {
        self.guard.next_case_id()
    }

    fn case(&self, id: u64) -> Result<Option<Case>, StoreError> {
        self.guard.pending_case(id)
    }

    /// Inside a case's batch this reads the committed store, which is current: the batch holds the
    /// writer and reads before it writes.
    fn cases_of(&self, record: RecordId) -> Result<Vec<Case>, StoreError> {
        self.guard.store().cases_about(record)
    }

    fn save(&mut self, case: &Case, step: &CaseStep) -> Result<(), StoreError> {
        self.guard.put_case(case, step)
    }

    fn current_record(&self, record: RecordId) -> Result<(SubjectId, RecordContent), CaseError> {
        let head = self.guard.store().record_head(record)?.ok_or(CaseError::NoRecord(record))?;
        // Read before this batch writes any version (versions are not read back within a batch).
        let version = self
            .guard
            .store()
            .record_version(record, head.versions)?
            .ok_or_else(|| StoreError::Corrupt(format!("record {record} lacks version {}", head.versions)))?;
        Ok((head.subject, version.content))
    }

    /// Keeps the applicant's public credit commitment as a record of the subject (public, with the
    /// feed event followers need), and returns its id.
    fn commit_to(
        &mut self,
        case: &Case,
        about: &RecordContent,
        commitment: &CommitmentText,
    ) -> Result<RecordId, CaseError> {
        let content = RecordContent {
            subject_name: about.subject_name.clone(),
            subject_identifiers: about.subject_identifiers.clone(),
            document_number: None,
            decision_date: Some(commitment.made_on),
            valid_from: None,
            valid_to: None,
            authority: None,
            authority_code: None,
            source_dept: None,
            source_dept_code: None,
            disclosure_deadline: None,
            usage_scope: crate::model::UsageScope::Public,
            status: RecordStatus::Active,
            status_raw: None,
            status_since: None,
            legal_representative: about.legal_representative.clone(),
            details: crate::model::RecordDetails::Commitment {
                commitment_kind: "repair".into(),
                text: commitment.text.trim().to_string(),
                made_on: commitment.made_on,
                about_record: Some(case.record),
                case: Some(case.id),
            },
            extra: Default::default(),
        };
        let key = format!("commitment|case|{}", case.id);
        let crate::store::RecordWrite::Written { head, .. } = self.guard.put_record(case.subject, key, &content)?
        else {
            return Err(StoreError::Corrupt(format!("case {} already has a commitment record", case.id)).into());
        };
        let change = record_change(case.subject, head.id, 1, None, &content);
        self.guard.emit(change)?;
        Ok(head.id)
    }

    /// Writes the outcome as a new version of the case's record, with its feed event; returns the version.
    fn apply(&mut self, case: &Case, outcome: Outcome, effective: NaiveDate) -> Result<u32, CaseError> {
        let (subject, before) = self.current_record(case.record)?;
        let mut after = match outcome {
            Outcome::Status(status) => RecordContent { status, ..before.clone() },
            Outcome::Correction(patch) => corrected(&before, &patch)?,
        };
        if after.status == before.status && after.status != RecordStatus::Repaired {
            after.status = RecordStatus::Corrected;
        }
        after.status_since = Some(effective);
        let version = self.guard.amend_record(case.record, &after)?;
        let mut change = record_change(subject, case.record, version, Some(&before), &after);
        change.case = Some(case.id);
        change.effective = Some(effective);
        self.guard.emit(change)?;
        Ok(version)
    }
}

/// `content` with a JSON merge patch applied; the record's category cannot change.
fn corrected(content: &RecordContent, patch: &serde_json::Value) -> Result<RecordContent, CaseError> {
    let invalid = |reason: String| CaseError::Invalid { field: "correction", reason };
    if !patch.is_object() {
        return Err(invalid("a correction is a JSON object of the fields to change".into()));
    }
    let mut value = serde_json::to_value(content).map_err(|e| invalid(e.to_string()))?;
    merge_patch(&mut value, patch);
    let after: RecordContent =
        serde_json::from_value(value).map_err(|e| invalid(format!("the corrected record is not valid: {e}")))?;
    if after.category() != content.category() {
        return Err(invalid(format!(
            "a correction cannot change the category ({} to {})",
            content.category().as_str(),
            after.category().as_str()
        )));
    }
    if after == *content {
        return Err(invalid("the correction changes nothing".into()));
    }
    Ok(after)
}

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let serde_json::Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::Value::Object(serde_json::Map::new());
    }
    let object = target.as_object_mut().expect("made an object above");
    for (key, change) in changes {
        if change.is_null() {
            object.remove(key);
        } else {
            merge_patch(object.entry(key.clone()).or_insert(serde_json::Value::Null), change);
        }
    }
}

/// The audit entry of a case step.
impl AuditEvent {
    /// A repair or objection step (`repair.approve`, `objection.file`, …) with its case and outcome.
    pub fn case_step<E: fmt::Display>(actor: Actor, action: Action, outcome: &Result<&Case, E>) -> AuditEvent {
        let guessed = match action {
            Action::Apply | Action::Approve | Action::Deny => Some(CaseKind::Repair),
            Action::File | Action::Correct | Action::Revoke | Action::Dismiss => Some(CaseKind::Objection),
            Action::Accept | Action::Reject => None,
        };
        let kind = outcome.as_ref().map_or(guessed, |case| Some(case.kind));
        let mut event = AuditEvent::new(actor, Operation::Case(kind, action)).result_of(outcome);
        if let Ok(case) = outcome {
            event = event
                .subject(case.subject)
                .detail("case", case.id)
                .detail("record", case.record.0)
                .detail("state", case.state.as_str());
        }
        event
    }
}
