//! Credit repair and objections as use cases: who may take which step, who may read a case, and the
//! audit entry of every step, whichever door it came through.

use super::{Platform, PlatformError, UseCase, permit};
use crate::actor::{Actor, Role};
use crate::audit::AuditEvent;
use crate::cases::{Action, Case, CaseCommand, CaseError, CaseStep, Decision, Operator, RepairApplication, Workflow};
use crate::command::Command;
use crate::engine::Engine;
use crate::model::{RecordId, SubjectId};
use chrono::NaiveDate;

/// A case as its reader may see it: the case and every step, oldest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseWithSteps {
    #[serde(flatten)]
    pub case: Case,
    pub steps: Vec<CaseStep>,
}

impl<E: Engine> Platform<E> {
    /// Files an objection to `record`, or applies for its repair without evidence or commitment (which
    /// the rules refuse: see [`Platform::apply_for_repair`]).
    pub fn open_case(
        &self,
        actor: &Actor,
        action: Action,
        record: RecordId,
        operator: Operator,
        reason: &str,
        on: NaiveDate,
    ) -> Result<Case, PlatformError> {
        self.open_case_with(actor, action, record, operator, reason, on, RepairApplication::default())
    }

    /// Applies for repair of `record` with its evidence and the subject's public credit commitment.
    pub fn apply_for_repair(
        &self,
        actor: &Actor,
        record: RecordId,
        operator: Operator,
        reason: &str,
        on: NaiveDate,
        application: RepairApplication,
    ) -> Result<Case, PlatformError> {
        self.open_case_with(actor, Action::Apply, record, operator, reason, on, application)
    }

    /// Opens a case. `operator` is the person or system acting through the actor's key, as the case's
    /// steps name it. Who may open one is bound to the record (Order 36): the department that
    /// delivered it, a regulator acting for the subject (naming whom, recorded on the case), the
    /// subject's own key, or an admin; a subject key only ever for its own records.
    #[allow(clippy::too_many_arguments)]
    pub fn open_case_with(
        &self,
        actor: &Actor,
        action: Action,
        record: RecordId,
        operator: Operator,
        reason: &str,
        on: NaiveDate,
        application: RepairApplication,
    ) -> Result<Case, PlatformError> {
        permit(actor, UseCase::OpenCase)?;
        if !matches!(action, Action::Apply | Action::File) {
            return Err(PlatformError::invalid("action", format!("{:?} does not open a case", action.as_str())));
        }
        if let Err(refused) = self.may_open(actor, action, record, &application) {
            let outcome: Result<&Case, &PlatformError> = Err(&refused);
            self.audit(vec![AuditEvent::case_step(actor.clone(), action, &outcome).detail("record", record.0)])?;
            return Err(refused);
        }
        let step = CaseCommand::Open { action, record, operator, reason: reason.to_string(), on, application };
        self.case_step(actor, step, action, ("record", record.0))
    }

    /// Whether the actor may open a case about `record`: see [`Platform::open_case_with`].
    fn may_open(
        &self,
        actor: &Actor,
        action: Action,
        record: RecordId,
        application: &RepairApplication,
    ) -> Result<(), PlatformError> {
        let own = self.is_own_record(actor, record)?;
        if actor.role == Role::Subject {
            if own {
                return Ok(());
            }
            // Another subject's record does not exist for this key.
            return Err(CaseError::NoRecord(record).into());
        }
        let allowed = match (action, actor.role) {
            (_, Role::Admin) => true,
            (Action::Apply, Role::Regulator) => application.acting_for.is_some(),
            (Action::Apply, _) => self.owns(actor, record)?,
            // An objection may come from any key: anyone may point out a wrong record.
            (_, _) => true,
        };
        if allowed {
            return Ok(());
        }
        Err(PlatformError::Forbidden {
            what: "applying for repair (the record's department, a regulator acting for the subject naming it in \
                   acting_for, the subject's own key, or an admin)",
            role: actor.role,
        })
    }

    /// Whether `record` belongs to the subject a `subject` key is bound to.
    fn is_own_record(&self, actor: &Actor, record: RecordId) -> Result<bool, PlatformError> {
        if actor.role != Role::Subject {
            return Ok(false);
        }
        let Some(head) = self.store.record_head(record)? else { return Ok(false) };
        self.is_own_subject(actor, head.subject)
    }

    /// Whether `subject` is the one a `subject` key is bound to.
    pub(crate) fn is_own_subject(&self, actor: &Actor, subject: SubjectId) -> Result<bool, PlatformError> {
        if actor.role != Role::Subject {
            return Ok(false);
        }
        let Some(subject) = self.store.subject(subject)? else { return Ok(false) };
        Ok(actor.is_subject_of(subject.identifiers.iter().map(|i| i.value.as_str())))
    }

    /// Takes a decision on case `id`: accepting and rejecting are for regulators and admins; the
    /// outcome of a review for the department that delivered the record (its provider key) or an admin.
    pub fn decide_case(&self, actor: &Actor, id: u64, decision: Decision) -> Result<Case, PlatformError> {
        permit(actor, UseCase::DecideCase)?;
        let flow = self.workflow();
        let case = flow.case(id)?.ok_or(CaseError::NoCase(id))?;
        self.may_take(actor, decision.action, case.record)?;
        let action = decision.action;
        self.case_step(actor, CaseCommand::Decide { case: id, decision }, action, ("case", id))
    }

    /// Takes a case step, audits it (with `detail`) and hands it on as a command once it landed.
    fn case_step(
        &self,
        actor: &Actor,
        step: CaseCommand,
        action: Action,
        detail: (&str, u64),
    ) -> Result<Case, PlatformError> {
        let command = self.sink.is_some().then(|| step.clone());
        let taken = self.workflow().run(step, None);
        let outcome = taken.as_ref().map(|(case, _)| case);
        self.audit(vec![AuditEvent::case_step(actor.clone(), action, &outcome).detail(detail.0, detail.1)])?;
        let (case, stamp) = taken?;
        if let Some(step) = command {
            self.publish(|| Command::Case { stamp, step })?;
        }
        Ok(case)
    }

    /// Case `id` with its steps, for those who may read it; to anyone else it does not exist.
    pub fn case(&self, actor: &Actor, id: u64) -> Result<CaseWithSteps, PlatformError> {
        permit(actor, UseCase::GetCase)?;
        let flow = self.workflow();
        let case = flow.case(id)?.ok_or(CaseError::NoCase(id))?;
        if !self.may_read(actor, &flow, &case)? {
            return Err(CaseError::NoCase(id).into());
        }
        Ok(CaseWithSteps { steps: flow.steps(id)?, case })
    }

    /// The cases about `record` that the actor may read, oldest first.
    pub fn cases_of(&self, actor: &Actor, record: RecordId) -> Result<Vec<Case>, PlatformError> {
        permit(actor, UseCase::ListCases)?;
        let flow = self.workflow();
        let mut readable = Vec::new();
        for case in flow.cases_of(record)? {
            if self.may_read(actor, &flow, &case)? {
                readable.push(case);
            }
        }
        Ok(readable)
    }

    /// Open cases past the deadline of their current step on `today` (regulators and admins), at most
    /// `limit`.
    pub fn overdue_cases(&self, actor: &Actor, today: NaiveDate, limit: usize) -> Result<Vec<Case>, PlatformError> {
        permit(actor, UseCase::RegulatorView)?;
        Ok(self.workflow().overdue(today, limit.min(crate::cases::MAX_OVERDUE))?)
    }

    fn workflow(&self) -> Workflow<'_, E> {
        Workflow::new(&self.store, &self.disclosure)
    }

    /// The department that delivered a record: that of its first version (a record's department is
    /// part of its identity, so every version has it).
    fn record_owner(&self, record: RecordId) -> Result<Option<String>, PlatformError> {
        Ok(self.store.record_version(record, 1)?.and_then(|version| version.content.source_dept))
    }

    fn owns(&self, actor: &Actor, record: RecordId) -> Result<bool, PlatformError> {
        Ok(actor.role == Role::Provider
            && actor.department.is_some()
            && self.record_owner(record)?.as_deref() == actor.department.as_deref())
    }

    fn may_take(&self, actor: &Actor, action: Action, record: RecordId) -> Result<(), PlatformError> {
        let allowed = match action {
            Action::Apply | Action::File => true,
            Action::Accept | Action::Reject => actor.role.is_regulator(),
            _ => actor.role == Role::Admin || self.owns(actor, record)?,
        };
        if allowed {
            return Ok(());
        }
        let what = match action {
            Action::Accept | Action::Reject => "accepting or rejecting a case (regulators and admins)",
            _ => "deciding a case (the department that delivered the record, or an admin)",
        };
        Err(PlatformError::Forbidden { what, role: actor.role })
    }

    /// Regulators and admins, the department that delivered the record, the subject's own key, and the
    /// key that applied or objected.
    fn may_read(&self, actor: &Actor, flow: &Workflow<'_, E>, case: &Case) -> Result<bool, PlatformError> {
        if actor.role.is_regulator() || self.owns(actor, case.record)? || self.is_own_subject(actor, case.subject)? {
            return Ok(true);
        }
        let applicant = flow.steps(case.id)?.into_iter().next().and_then(|step| step.operator.key_id);
        Ok(actor.key_id.is_some() && applicant == actor.key_id)
    }
}
