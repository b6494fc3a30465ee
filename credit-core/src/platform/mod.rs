//! The one way in: every use case of the platform, for the gRPC service, the commands on a data
//! directory and approval systems that embed this crate alike.
//!
//! Each use case takes the [`Actor`] who asks, decides what that actor may see and do, does it, and
//! writes its own audit entry, so no door can forget one: an embedder's [`Platform::check`] is in the
//! audit log exactly as a check over gRPC is. The doors parse their input, call, and convert the
//! answer.

mod admin;
mod cases;
mod error;
mod evaluation;
mod files;
mod inspection;
mod permits;
mod replay;
mod statistics;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, NaiveDate, Utc};

pub use crate::evaluation::ShownEvaluation;
pub use admin::AdminAct;
pub use cases::CaseWithSteps;
pub use error::PlatformError;
pub use evaluation::{EvaluationRun, GradeDistribution};
pub use files::{make_private, private_dir};
pub use inspection::{ClassDraw, Drawn, InspectionPlan, MAX_PLAN_TEXT, PlanRequest};
pub use permits::{UseCase, permit};
pub use statistics::{Count, CreditStatistics, DEFAULT_MIN_CELL, StatsBy, StatsCell, StatsRequest};

use crate::actor::{Actor, Role};
use crate::audit::{AuditEvent, Operation};
use crate::cancel::Cancel;
use crate::checks::{CheckError, CheckRequest, CheckResult, CheckStats, Checker, Feedback, FeedbackInput, StatsFilter};
use crate::command::{Command, CommandSink};
use crate::disclosure::DisclosureRules;
use crate::engine::{Engine, RocksEngine};
use crate::feed::FeedEvent;
use crate::ident::Codebook;
use crate::import::{ImportObserver, ImportOptions, ImportSummary, ImportTables};
use crate::model::{RecordId, RecordVersion, Stamp, Subject, SubjectId, SubjectType};
use crate::rules::RuleSet;
use crate::search::{CatchUp, SearchIndex, SearchRequest, SearchResults};
use crate::store::{RecordView, Store};
use crate::view::{Audience, SubjectPage, View};

/// The store, its search index and the rules in force, with the use cases over them.
pub struct Platform<E: Engine = RocksEngine> {
    store: Arc<Store<E>>,
    rules: Arc<RuleSet>,
    disclosure: Arc<DisclosureRules>,
    evaluation: Arc<crate::evaluation::EvaluationModel>,
    index: Option<Arc<RwLock<SearchIndex>>>,
    /// Where the write commands applied here go (a replication transport), if anywhere.
    sink: Option<Arc<dyn CommandSink>>,
    /// The statistics cube last read or written, while it matches the store's mark.
    cube: Arc<std::sync::Mutex<Option<Arc<crate::evaluation::StatsCube>>>>,
}

impl<E: Engine> std::fmt::Debug for Platform<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform").field("rules_version", &self.rules.version).finish_non_exhaustive()
    }
}

/// One subject as someone asks to read it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubjectQuery {
    /// Any identifier: unified code, organisation code, registration number, tax number, ID number.
    pub identifier: String,
    pub view: View,
    /// Why a regulator reads a natural person (required then, and written to the audit log).
    pub purpose: Option<String>,
    /// The day the view is computed for (regulators only; default today, China Standard Time).
    pub as_of: Option<NaiveDate>,
    /// What the platform knew at this instant (regulators only; default now).
    pub known_at: Option<DateTime<Utc>>,
}

impl SubjectQuery {
    /// The day the view is computed for.
    pub fn day(&self) -> NaiveDate {
        self.as_of.unwrap_or_else(crate::time::today_cst)
    }
}

/// A subject as the query's view shows it.
#[derive(Debug, Clone)]
pub struct SubjectRead {
    pub subject: Subject,
    /// Its records, as stored; which of them the view shows, and how, is the caller's
    /// [`SubjectPage`] or [`crate::view::shown_records`].
    pub records: Vec<RecordView>,
}

impl<E: Engine> Platform<E> {
    pub fn new(store: Arc<Store<E>>, rules: Arc<RuleSet>, disclosure: Arc<DisclosureRules>) -> Platform<E> {
        let evaluation = crate::evaluation::EvaluationModel::builtin();
        Platform { store, rules, disclosure, evaluation, index: None, sink: None, cube: Arc::default() }
    }

    /// Under the evaluation model `model` instead of the compiled-in one.
    pub fn with_evaluation_model(self, evaluation: Arc<crate::evaluation::EvaluationModel>) -> Platform<E> {
        Platform { evaluation, ..self }
    }

    /// Under `rules` instead of those it was made with.
    pub fn with_rules(self, rules: Arc<RuleSet>) -> Platform<E> {
        Platform { rules, ..self }
    }

    /// Under `disclosure` instead of the disclosure rules it was made with.
    pub fn with_disclosure(self, disclosure: Arc<DisclosureRules>) -> Platform<E> {
        Platform { disclosure, ..self }
    }

    /// The search index of the store (searches fail without one).
    pub fn with_index(self, index: Arc<RwLock<SearchIndex>>) -> Platform<E> {
        Platform { index: Some(index), ..self }
    }

    /// Hands every write command applied here to `sink` ([`crate::command`]).
    pub fn with_command_sink(self, sink: Arc<dyn CommandSink>) -> Platform<E> {
        Platform { sink: Some(sink), ..self }
    }

    /// Hands a committed command to the sink, if there is one.
    fn publish(&self, command: impl FnOnce() -> Command) -> Result<(), PlatformError> {
        match &self.sink {
            Some(sink) => Ok(sink.publish(&command())?),
            None => Ok(()),
        }
    }

    pub fn store(&self) -> &Arc<Store<E>> {
        &self.store
    }

    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    pub fn disclosure(&self) -> &Arc<DisclosureRules> {
        &self.disclosure
    }

    /// The audience of a view on a day, under the disclosure rules in force.
    pub fn audience(&self, view: View, day: NaiveDate) -> Audience<'_> {
        Audience::new(view, day, &self.disclosure)
    }

    /// Writes `events` to the audit log before the use case answers: when that fails, so does the use
    /// case (nothing is answered that was not written down).
    fn audit(&self, events: Vec<AuditEvent>) -> Result<(), PlatformError> {
        Ok(self.store.audit().append_all(events)?)
    }

    /// A subject page: the subject and the records the query's view shows, newest decision first,
    /// with every version when `history` is asked (regulator view only). A regulator's read of a
    /// natural person needs a purpose and is audited before any record is read.
    pub fn read_subject(
        &self,
        actor: &Actor,
        query: &SubjectQuery,
        history: bool,
    ) -> Result<SubjectPage, PlatformError> {
        if history && query.view != View::Regulator {
            return Err(PlatformError::invalid("include_history", "history is part of the regulator view only"));
        }
        let read = self.subject_records(actor, query, Operation::SubjectRead, |record| {
            query.as_of.is_none_or(|day| record.current.content.in_force_on(day))
        })?;
        let current: Vec<&RecordVersion> = read.records.iter().map(|r| &r.current).collect();
        let evaluation = self.page_evaluation(&read.subject, query.view, &current, query.day());
        let mut page = SubjectPage::new(&read.subject, read.records, &self.audience(query.view, query.day()));
        page.evaluation = evaluation;
        if history {
            page.add_history(&self.store)?;
        }
        Ok(page)
    }

    /// The subject and those of its records `keep` accepts, as known at `query.known_at`, for a view
    /// the actor may have; the read is attributed under `operation` (and refused without a needed
    /// purpose) before any record is decoded. Today's page comes from one seek in the store.
    pub fn subject_records(
        &self,
        actor: &Actor,
        query: &SubjectQuery,
        operation: Operation,
        keep: impl Fn(&RecordView) -> bool,
    ) -> Result<SubjectRead, PlatformError> {
        // A subject's own key reads its own full record: checked once the subject is known.
        let own_view = query.view == View::Regulator && actor.role == Role::Subject;
        if query.view == View::Regulator && !own_view {
            permit(actor, UseCase::RegulatorView)?;
        }
        refuse_time_travel(actor, "as_of", query.as_of.is_some())?;
        refuse_time_travel(actor, "known_at", query.known_at.is_some())?;
        let not_found = || PlatformError::NoSubject(query.identifier.clone());
        let id = self.store.find_subject_id(&query.identifier)?.ok_or_else(not_found)?;
        let (subject, today) = match query.known_at {
            None => {
                let page = self.store.current_page(id)?.ok_or_else(not_found)?;
                (page.subject, Some(page.records))
            }
            Some(_) => (self.store.subject_known_at(id, query.known_at)?.ok_or_else(not_found)?, None),
        };
        if query.view == View::Public && !crate::view::is_public(&subject) {
            return Err(not_found());
        }
        if own_view && !actor.is_subject_of(subject.identifiers.iter().map(|i| i.value.as_str())) {
            return Err(PlatformError::Forbidden { what: "the full record of another subject", role: actor.role });
        }
        self.attribute(actor, query.view, &subject, query.purpose.as_deref(), operation)?;
        let records = match today {
            Some(records) => records.decode()?,
            None => self.store.records_of(subject.id, query.known_at)?,
        };
        let records = records.into_iter().filter(|r| keep(r)).collect();
        Ok(SubjectRead { subject, records })
    }

    /// Every version of one record as the view shows it, oldest first; a record the view hides today
    /// is reported missing, so its existence does not leak. A regulator's read of a natural person's
    /// record needs a purpose and is audited.
    pub fn record_history(
        &self,
        actor: &Actor,
        record: RecordId,
        view: View,
        purpose: Option<&str>,
    ) -> Result<(SubjectId, Vec<RecordVersion>), PlatformError> {
        let own_view = view == View::Regulator && actor.role == Role::Subject;
        if view == View::Regulator && !own_view {
            permit(actor, UseCase::RegulatorView)?;
        }
        let not_found = || PlatformError::NoRecord(record);
        let head = self.store.record_head(record)?.ok_or_else(not_found)?;
        if own_view && !self.is_own_subject(actor, head.subject)? {
            return Err(PlatformError::Forbidden { what: "the full record of another subject", role: actor.role });
        }
        let subject = self.store.subject(head.subject)?.ok_or_else(not_found)?;
        if view == View::Public && !crate::view::is_public(&subject) {
            return Err(not_found());
        }
        self.attribute(actor, view, &subject, purpose, Operation::RecordHistory)?;
        let history = self.store.record_history(record)?;
        let audience = self.audience(view, crate::time::today_cst());
        // The public sees a record's history only while they see the record itself.
        if history.last().is_none_or(|current| !crate::view::shows_record(&subject, current, &audience)) {
            return Err(not_found());
        }
        let versions = history.into_iter().filter_map(|v| crate::view::record(&subject, v, &audience)).collect();
        Ok((head.subject, versions))
    }

    /// The subject the query names, as known at `query.known_at`, if the query's view may see it: a
    /// subject not to be disclosed (SFGK) does not exist for the public.
    fn visible_subject(&self, query: &SubjectQuery) -> Result<Subject, PlatformError> {
        let not_found = || PlatformError::NoSubject(query.identifier.clone());
        let id = self.store.find_subject_id(&query.identifier)?.ok_or_else(not_found)?;
        let subject = self.store.subject_known_at(id, query.known_at)?.ok_or_else(not_found)?;
        if query.view == View::Public && !crate::view::is_public(&subject) {
            return Err(not_found());
        }
        Ok(subject)
    }

    /// A regulator reading a natural person must say why (DOMAIN.md §8), and the read is written down
    /// before any of the person's data is read.
    fn attribute(
        &self,
        actor: &Actor,
        view: View,
        subject: &Subject,
        purpose: Option<&str>,
        operation: Operation,
    ) -> Result<(), PlatformError> {
        if !needs_purpose(view, subject) {
            return Ok(());
        }
        let Some(purpose) = purpose else { return Err(PlatformError::PurposeRequired) };
        self.audit(vec![AuditEvent::new(actor.clone(), operation).subject(subject.id).purpose(Some(purpose))])
    }

    /// A joint check, recorded in the check log and the audit log (regulators only).
    pub fn check(&self, actor: &Actor, request: &CheckRequest) -> Result<CheckResult, PlatformError> {
        permit(actor, UseCase::Check)?;
        let result = self.checker().check(request)?;
        self.audit(vec![AuditEvent::check(actor.clone(), &result)])?;
        Ok(result)
    }

    /// Many checks: per request its answer or its error; the answered ones are recorded and audited
    /// together. Stops, recording nothing, once `cancel` is raised.
    pub fn check_batch(
        &self,
        actor: &Actor,
        requests: &[CheckRequest],
        cancel: &Cancel,
    ) -> Result<Vec<Result<CheckResult, CheckError>>, PlatformError> {
        permit(actor, UseCase::BatchCheck)?;
        let answers = self.checker().with_cancel(cancel.clone()).check_batch(requests)?;
        let events =
            answers.iter().filter_map(|a| a.as_ref().ok()).map(|r| AuditEvent::check(actor.clone(), r)).collect();
        self.audit(events)?;
        Ok(answers)
    }

    /// Feedback on a measure of an earlier check (regulators only), audited whether or not it was taken.
    pub fn submit_feedback(&self, actor: &Actor, input: FeedbackInput) -> Result<Feedback, PlatformError> {
        permit(actor, UseCase::SubmitFeedback)?;
        let event = AuditEvent::new(actor.clone(), Operation::Feedback)
            .detail("check_id", input.check_id)
            .detail("measure_id", &input.measure_id)
            .detail("outcome", input.outcome.as_str());
        let stamped = self.checker().submit_feedback_stamped(input);
        let feedback = stamped.as_ref().map(|(feedback, _)| feedback);
        self.audit(vec![event.result_of(&feedback)])?;
        let (feedback, stamp) = stamped?;
        self.publish(|| Command::Feedback { stamp, feedback: feedback.clone() })?;
        Ok(feedback)
    }

    /// How checks and their feedback went, by item and measure (regulators only).
    pub fn check_statistics(
        &self,
        actor: &Actor,
        filter: &StatsFilter,
        cancel: &Cancel,
    ) -> Result<CheckStats, PlatformError> {
        permit(actor, UseCase::GetStatistics)?;
        Ok(self.checker().with_cancel(cancel.clone()).statistics(filter)?)
    }

    /// A search in the view the request names (the regulator view for regulators only).
    pub fn search(&self, actor: &Actor, request: &SearchRequest) -> Result<SearchResults, PlatformError> {
        if request.view == View::Regulator {
            permit(actor, UseCase::RegulatorView)?;
        }
        let index = self.index.as_ref().ok_or(PlatformError::NoIndex)?;
        let index = index.read().unwrap_or_else(PoisonError::into_inner);
        let request = SearchRequest { disclosure: Some(self.disclosure.clone()), ..request.clone() };
        Ok(index.search_results(&self.store, &request)?)
    }

    /// Imports `files` as one batch, named `label` in the audit log: for an admin any department's
    /// rows, for a provider only its own department's (`options.only_dept`). The batch lands whole or
    /// not at all; its new and changed subjects are searchable when this returns.
    pub fn import(
        &self,
        actor: &Actor,
        files: &[PathBuf],
        options: &ImportOptions,
        label: &str,
        observer: &mut dyn ImportObserver,
    ) -> Result<ImportSummary, PlatformError> {
        match actor.role {
            Role::Admin => {}
            Role::Provider if actor.department.is_some() && options.only_dept == actor.department => {}
            Role::Provider => {
                return Err(PlatformError::Forbidden {
                    what: "an import beyond the key's department",
                    role: actor.role,
                });
            }
            _ => permit(actor, UseCase::Import)?,
        }
        let mut import = |subjects: Option<&mut dyn FnMut(Vec<Subject>)>| {
            let mut publish = self.sink.as_ref().map(|sink| move |frame| sink.publish(&Command::Import { frame }));
            let hooks = crate::import::ImportHooks {
                frames: publish.as_mut().map(|p| p as &mut dyn FnMut(_) -> _),
                subjects: match subjects {
                    Some(hook) => Some(&mut *hook),
                    None => None,
                },
            };
            let (tables, book) = (ImportTables::builtin(), Codebook::builtin());
            crate::import::import_files_to(&self.store, files, options, tables, book, &mut *observer, hooks)
        };
        let imported = match &self.index {
            // A registration file is indexed as it is imported, one pass over the rows.
            Some(index) if options.kind == crate::import::ImportKind::Subject => {
                let mut index = index.write().unwrap_or_else(PoisonError::into_inner);
                let committed = |outcome: &Result<ImportSummary, _>| match outcome {
                    Ok(summary) if summary.committed => Some(crate::model::BatchId(summary.batch_id)),
                    _ => None,
                };
                index.alongside(&self.store, import, committed)?.0
            }
            _ => import(None),
        };
        let event =
            AuditEvent::import(actor.clone(), options.kind.as_str(), label, options.source_dept.as_deref(), &imported);
        self.audit(vec![event])?;
        let summary = imported?;
        self.catch_up_index()?;
        Ok(summary)
    }

    /// A signed credit report of the query's subject in the query's view, today's (no `as_of` or
    /// `known_at`), audited with its number, digest and signing key; an anonymous actor is known in
    /// the log by its name (the server gives its network address).
    pub fn issue_report(
        &self,
        actor: &Actor,
        query: &SubjectQuery,
        issuer: &crate::report::Issuer,
        key: &credit_sign::keys::SigningKey,
        published: &credit_sign::keys::KeySet,
    ) -> Result<IssuedReport, PlatformError> {
        if query.as_of.is_some() || query.known_at.is_some() {
            return Err(PlatformError::invalid("as_of", "a report is of today's data"));
        }
        // A subject's own key may have its own full report, as it reads its own full record.
        let own_view = query.view == View::Regulator && actor.role == Role::Subject;
        if query.view == View::Regulator && !own_view {
            permit(actor, UseCase::RegulatorView)?;
        }
        let subject = self.visible_subject(query)?;
        if own_view && !actor.is_subject_of(subject.identifiers.iter().map(|i| i.value.as_str())) {
            return Err(PlatformError::Forbidden { what: "the full report of another subject", role: actor.role });
        }
        if needs_purpose(query.view, &subject) && query.purpose.is_none() {
            return Err(PlatformError::PurposeRequired);
        }
        let (id, now) = (subject.id, Utc::now());
        let mut report = crate::report::build(&self.store, &self.rules, &self.disclosure, id, query.view, issuer, now)?
            .ok_or_else(|| PlatformError::NoSubject(query.identifier.clone()))?;
        report.evaluation = self.report_evaluation(id, query.view, report.as_of)?;
        let value = serde_json::to_value(&report).map_err(|e| PlatformError::Report(e.to_string()))?;
        let file = credit_sign::sign_report(&value, key).map_err(|e| PlatformError::Report(e.to_string()))?;
        let signed = credit_sign::verify_report(&file, published, now)
            .map_err(|e| PlatformError::Report(format!("a report just signed does not verify: {e}")))?;
        let mut event = AuditEvent::new(actor.clone(), Operation::ReportIssue)
            .subject(id)
            .purpose(query.purpose.as_deref())
            .detail("report_number", &report.report_number)
            .detail("view", query.view.as_str())
            .detail("digest", &signed.digest)
            .detail("key_id", &signed.key_id);
        if actor.key_id.is_none() {
            event = event.detail("peer", actor.name.as_deref().unwrap_or("unknown"));
        }
        self.audit(vec![event])?;
        Ok(IssuedReport { file, report_number: report.report_number, signed })
    }

    /// Opens the change feed for `actor` (regulators only). Natural persons' ID numbers come in full
    /// only with a stated purpose, and such a follow is written down before any event is read.
    pub fn follow_feed(&self, actor: &Actor, from: u64, purpose: Option<&str>) -> Result<FeedAccess, PlatformError> {
        permit(actor, UseCase::Follow)?;
        let Some(purpose) = purpose else { return Ok(FeedAccess { unmasked: false }) };
        let event = AuditEvent::new(actor.clone(), Operation::FeedFollow)
            .purpose(Some(purpose))
            .detail("from_seq", from.max(1));
        self.audit(vec![event])?;
        Ok(FeedAccess { unmasked: true })
    }

    /// Up to `limit` committed feed events from sequence number `from` on, as `access` may see them.
    pub fn feed_page(&self, access: &FeedAccess, from: u64, limit: usize) -> Result<Vec<FeedEvent>, PlatformError> {
        let events = self.store.feed(from, limit)?;
        Ok(if access.unmasked { events } else { events.into_iter().map(crate::feed::masked).collect() })
    }

    /// Audit log entries matching `query`, oldest first (admins only); `subject`, any identifier of
    /// the subject the entries are about, narrows it further.
    pub fn query_audit(
        &self,
        actor: &Actor,
        mut query: crate::audit::AuditQuery,
        subject: Option<&str>,
    ) -> Result<Vec<crate::audit::StoredEntry>, PlatformError> {
        permit(actor, UseCase::QueryAuditLog)?;
        if let Some(identifier) = subject {
            let id = self.store.find_subject_id(identifier)?;
            query.subject = Some(id.ok_or_else(|| PlatformError::NoSubject(identifier.to_string()))?);
        }
        Ok(self.store.audit().query(&query)?)
    }

    /// Writes the feed events of windows and planned list removals that ended up to `through`, then
    /// brings the search index up to date (list memberships change with them). A task of the platform
    /// itself, run by its operator or the server's timer, not a use case of any caller.
    pub fn sweep(&self, through: NaiveDate) -> Result<crate::feed::SweepSummary, PlatformError> {
        let at = Utc::now();
        let summary = crate::feed::sweep_as(&self.store, &self.disclosure, through, None, at)?;
        if let Some(batch) = summary.batch {
            self.publish(|| Command::Sweep { stamp: Stamp { batch, at }, through })?;
        }
        self.catch_up_index()?;
        Ok(summary)
    }

    /// How many subjects the search index holds (0 without one).
    pub fn indexed_subjects(&self) -> u64 {
        self.index.as_ref().map_or(0, |index| index.read().unwrap_or_else(PoisonError::into_inner).len())
    }

    /// Brings the search index, if there is one, up to the store's last committed batch.
    fn catch_up_index(&self) -> Result<(), PlatformError> {
        if let Some(index) = &self.index {
            index.write().unwrap_or_else(PoisonError::into_inner).catch_up(&self.store)?;
        }
        Ok(())
    }

    /// Rebuilds the search index from the store (admins only).
    pub fn reindex(&self, actor: &Actor) -> Result<CatchUp, PlatformError> {
        permit(actor, UseCase::Reindex)?;
        let index = self.index.as_ref().ok_or(PlatformError::NoIndex)?;
        let rebuilt = index.write().unwrap_or_else(PoisonError::into_inner).rebuild(&self.store);
        self.audit(vec![AuditEvent::new(actor.clone(), Operation::Reindex).result_of(&rebuilt)])?;
        Ok(rebuilt?)
    }

    /// A consistent copy of the store in the new directory `to` (its parents created), readable by the
    /// owner only: directories 0700, files 0600 (admins only).
    pub fn backup(&self, actor: &Actor, to: &Path) -> Result<(), PlatformError> {
        permit(actor, UseCase::Backup)?;
        let written = files::write_backup(&self.store, to);
        let event = AuditEvent::new(actor.clone(), Operation::Backup).detail("to", to.display()).result_of(&written);
        self.audit(vec![event])?;
        written.map_err(PlatformError::Backup)
    }

    fn checker(&self) -> Checker<'_, E> {
        Checker::new(&self.store, self.rules.clone())
    }
}

/// A report as issued: the signed file, its number, and what verifying it found.
#[derive(Debug, Clone)]
pub struct IssuedReport {
    pub file: Vec<u8>,
    pub report_number: String,
    pub signed: credit_sign::VerifiedReport,
}

/// What [`Platform::follow_feed`] granted: events with ID numbers in full, or masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedAccess {
    unmasked: bool,
}

impl FeedAccess {
    pub fn unmasked(self) -> bool {
        self.unmasked
    }
}

/// A regulator reading a natural person must state why (DOMAIN.md §8).
fn needs_purpose(view: View, subject: &Subject) -> bool {
    view == View::Regulator && subject.subject_type == SubjectType::NaturalPerson
}

/// Reading the past or the future is for regulators and admins: the public and providers see today's
/// public view only, so expired, repaired and revoked records stay out of their reach.
pub fn refuse_time_travel(actor: &Actor, field: &'static str, asked: bool) -> Result<(), PlatformError> {
    if !asked || actor.role.is_regulator() {
        return Ok(());
    }
    Err(PlatformError::TimeTravel { field, role: actor.role })
}
