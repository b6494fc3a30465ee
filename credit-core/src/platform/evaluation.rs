//! Evaluation as use cases: one subject's evaluation (computed from its current records, so it is as
//! fast as reading the subject and never stale), the distribution of stored grades, and the runs that
//! keep the stored evaluations current — a full run over every subject, and an incremental one over the
//! subjects the store's change log names — with grade changes on the change feed.

use std::collections::BTreeMap;
use std::sync::{Arc, mpsc};

use chrono::NaiveDate;
use serde::Serialize;

use super::{Platform, PlatformError, UseCase, permit};
use crate::actor::Actor;
use crate::audit::{AuditEvent, Operation};
use crate::engine::Engine;
use crate::evaluation::{CubeBuilder, Evaluation, EvaluationModel, ShownEvaluation, StatsCube, StoredEvaluation};
use crate::model::feed::{Change, ChangeKind, GradeChange};
use crate::model::{BatchId, RecordCategory, RecordId, RecordVersion, Stamp, Subject, SubjectId};
use crate::store::{BatchGuard, Committer, EvaluatedThrough, StoreError, decode_stored_evaluation, stored_grade};
use crate::view::View;

/// Evaluations a full run's part hands to the writer at once (the writer reads their stored grades in
/// one batched read).
const RUN_CHUNK: usize = if cfg!(test) { 16 } else { 2_000 };

/// The parts a full run reads and evaluates on threads of their own. Fixed, not the machine's core
/// count: the order of a run's writes depends on it, and a replica must write in the origin's order.
const RUN_PARTS: u64 = 2;

/// The stripes of the subject id range the parts take in turn.
const RUN_STRIPES: u64 = 64;

/// What a part of a full run hands to the writer.
enum Chunk {
    Evaluated(Vec<StoredEvaluation>),
    Done,
    Failed(PlatformError),
}

/// The most subjects an incremental run evaluates, in one batch; more changed, and a full run is
/// cheaper.
pub const INCREMENTAL_MAX: usize = 50_000;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EvaluationRun {
    /// `full` or `incremental`.
    pub kind: &'static str,
    pub model_version: String,
    pub as_of: Option<NaiveDate>,
    /// Subjects evaluated (in the model's scope).
    pub evaluated: u64,
    /// Of those, whose grade differs from the stored one (a `grade_changed` feed event each).
    pub grade_changed: u64,
    /// Subjects read but outside the model's scope.
    pub out_of_scope: u64,
    /// The last store batch whose changes the evaluations now reflect.
    pub through_batch: Option<u64>,
    /// The batch the run wrote in, and when it began (none when it wrote nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The subjects an incremental run evaluates, the cube it starts from and the mark it leaves.
struct IncrementalPlan {
    subjects: Vec<SubjectId>,
    cube: Arc<StatsCube>,
    through: Option<BatchId>,
}

/// How many stored evaluations have each grade, and each risk class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GradeDistribution {
    pub model_version: Option<String>,
    pub as_of: Option<NaiveDate>,
    pub total: u64,
    pub grades: BTreeMap<String, u64>,
    pub risk_classes: BTreeMap<String, u64>,
}

impl<E: Engine> Platform<E> {
    pub fn evaluation_model(&self) -> &EvaluationModel {
        &self.evaluation
    }

    /// The evaluation of the subject `identifier` names, on `as_of` (default today), explained per
    /// indicator for regulators, admins and the subject's own key; anyone else gets the grade alone
    /// ([`ShownEvaluation::grade_only`]), and only for the model's `public_scope` and subjects the public
    /// may see (otherwise the subject does not exist for them). `None` when the model does not cover the
    /// subject's type.
    pub fn evaluate_subject(
        &self,
        actor: &Actor,
        identifier: &str,
        as_of: Option<NaiveDate>,
    ) -> Result<Option<ShownEvaluation>, PlatformError> {
        let not_found = || PlatformError::NoSubject(identifier.into());
        let id = self.store.find_subject_id(identifier)?.ok_or_else(not_found)?;
        let view =
            if actor.role.is_regulator() || self.is_own_subject(actor, id)? { View::Regulator } else { View::Public };
        super::refuse_time_travel(actor, "as_of", as_of.is_some())?;
        let (subject, records) = self.current_versions(id)?.ok_or_else(not_found)?;
        if view == View::Public
            && (!crate::view::is_public(&subject) || !self.evaluation.public_scope.contains(&subject.subject_type))
        {
            return Err(not_found());
        }
        Ok(self.page_evaluation(&subject, view, &records, as_of.unwrap_or_else(crate::time::today_cst)))
    }

    /// A subject and its current record versions, decoded.
    fn current_versions(&self, id: SubjectId) -> Result<Option<(Subject, Vec<RecordVersion>)>, PlatformError> {
        let Some(page) = self.store.current_page(id)? else { return Ok(None) };
        let records = page.records.decode()?.into_iter().map(|r| r.current).collect();
        Ok(Some((page.subject, records)))
    }

    /// A report's evaluation section: in full for the regulator view; the grade alone for the public
    /// view where the model publishes it.
    pub(super) fn report_evaluation(
        &self,
        subject: SubjectId,
        view: View,
        as_of: NaiveDate,
    ) -> Result<Option<ShownEvaluation>, PlatformError> {
        let Some((subject, records)) = self.current_versions(subject)? else { return Ok(None) };
        Ok(self.page_evaluation(&subject, view, &records, as_of))
    }

    /// A subject page's evaluation from the records it read: in full for the regulator view (which a
    /// subject's own key reads too), the grade alone for the public where the model publishes it.
    pub(super) fn page_evaluation<R: std::borrow::Borrow<RecordVersion>>(
        &self,
        subject: &Subject,
        view: View,
        records: &[R],
        as_of: NaiveDate,
    ) -> Option<ShownEvaluation> {
        let public = view == View::Public;
        if public && !self.evaluation.public_scope.contains(&subject.subject_type) {
            return None;
        }
        let evaluation = self.evaluation.evaluate(&self.disclosure, subject, records, as_of)?;
        Some(if public { ShownEvaluation::grade_only(evaluation) } else { ShownEvaluation::Full(evaluation) })
    }

    /// The grade a check or a public page shows for a subject: its stored evaluation, if any.
    pub fn stored_evaluation(&self, subject: SubjectId) -> Result<Option<Evaluation>, PlatformError> {
        Ok(self.store.evaluation(subject)?)
    }

    /// The distribution of the stored evaluations (regulators and admins): from the statistics cube
    /// the last run kept (in memory), which counts every evaluated subject's grade and class; read
    /// from every stored evaluation only for a cube stored before it counted subjects with no division.
    pub fn grade_distribution(&self, actor: &Actor) -> Result<GradeDistribution, PlatformError> {
        permit(actor, UseCase::RegulatorView)?;
        // The cube matches the mark, so it carries the mark's model version and day.
        let Some(cube) = self.current_cube()? else { return self.grade_distribution_scanned() };
        let Some(totals) = cube.totals() else { return self.grade_distribution_scanned() };
        let mut distribution = GradeDistribution {
            model_version: Some(cube.model_version.clone()),
            as_of: cube.as_of,
            ..GradeDistribution::default()
        };
        for (column, count) in totals.into_iter().filter(|(_, count)| *count > 0) {
            if let Some(grade) = column.strip_prefix("grade:") {
                distribution.total += count;
                distribution.grades.insert(grade.to_string(), count);
            } else if let Some(class) = column.strip_prefix("class:") {
                distribution.risk_classes.insert(class.to_string(), count);
            }
        }
        Ok(distribution)
    }

    /// [`Self::grade_distribution`] counted from every stored evaluation.
    pub(crate) fn grade_distribution_scanned(&self) -> Result<GradeDistribution, PlatformError> {
        let mark = self.store.evaluated_through()?;
        let mut distribution = GradeDistribution {
            model_version: mark.as_ref().map(|m| m.model_version.clone()),
            as_of: mark.as_ref().map(|m| m.as_of),
            ..GradeDistribution::default()
        };
        self.store.scan_evaluations(&mut |e| {
            distribution.total += 1;
            *distribution.grades.entry(e.grade).or_default() += 1;
            if let Some(class) = e.risk_class {
                *distribution.risk_classes.entry(class).or_default() += 1;
            }
            true
        })?;
        Ok(distribution)
    }

    /// Evaluates every subject on `as_of` and stores the results with the statistics they add up to
    /// (admins, or the console), in one batch: a run lands whole or not at all. Audited.
    pub fn evaluate_all(&self, actor: &Actor, as_of: NaiveDate) -> Result<EvaluationRun, PlatformError> {
        permit(actor, UseCase::Administer)?;
        let run = self.full_run(None, as_of)?;
        self.publish_run(&run, as_of)?;
        self.audit_run(actor, &run, as_of)?;
        Ok(run)
    }

    /// Evaluates on `as_of` the subjects changed since the stored evaluations were made (from the
    /// store's change log), in one batch with the statistics they change; a full run when there are
    /// none yet, or they were made under another model or for another day (records age with the day),
    /// or more than [`INCREMENTAL_MAX`] subjects changed. Audited.
    pub fn evaluate_changed(&self, actor: &Actor, as_of: NaiveDate) -> Result<EvaluationRun, PlatformError> {
        permit(actor, UseCase::Administer)?;
        let run = match self.incremental_run(None, as_of)? {
            Some(run) if run.evaluated + run.out_of_scope == 0 => {
                // Nothing changed: nothing is written, nor audited (the server asks at every sweep).
                return Ok(run);
            }
            Some(run) => run,
            None => self.full_run(None, as_of)?,
        };
        self.publish_run(&run, as_of)?;
        self.audit_run(actor, &run, as_of)?;
        Ok(run)
    }

    /// Hands a run that wrote something to the replication sink, if there is one.
    fn publish_run(&self, run: &EvaluationRun, as_of: NaiveDate) -> Result<(), PlatformError> {
        let (Some(batch), Some(at)) = (run.batch, run.at) else { return Ok(()) };
        self.publish(|| crate::command::Command::Evaluate {
            stamp: Stamp { batch: BatchId(batch), at },
            full: run.kind == "full",
            as_of,
            model_version: run.model_version.clone(),
        })
    }

    /// The full run, in the batch `stamp` names (a replayed command's) or the next.
    pub(super) fn full_run(&self, stamp: Option<Stamp>, as_of: NaiveDate) -> Result<EvaluationRun, PlatformError> {
        let mut run = EvaluationRun {
            kind: "full",
            model_version: self.evaluation.version.clone(),
            as_of: Some(as_of),
            ..Default::default()
        };
        let mut guard = self.begin_run(stamp)?;
        // Nothing else commits while the batch runs: its changes are all the run can see.
        let through = self.store.last_committed_batch()?;
        let outcome = std::thread::scope(|scope| -> Result<StatsCube, PlatformError> {
            // Chunks land on their own thread while the next subjects are evaluated.
            guard.set_committer(Committer::spawn(scope, self.store.engine()));
            let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut cube = CubeBuilder::default();
                // Each part of the subjects is read and evaluated on a thread of its own; their chunks
                // are written here in turn, part 0, part 1, part 0, …, so the order of the writes (and
                // of the feed events) depends on the store alone, and a replica's run is the origin's.
                let bound = self.store.subject_id_bound()?;
                let mut parts: Vec<mpsc::Receiver<Chunk>> = (0..RUN_PARTS)
                    .map(|part| {
                        // Stripes of the id range, dealt out in turn: subjects with many records and
                        // those with few (persons were often registered first) spread over both.
                        let stripes: Vec<(SubjectId, SubjectId)> = (part..RUN_STRIPES)
                            .step_by(RUN_PARTS as usize)
                            .map(|s| (SubjectId(bound * s / RUN_STRIPES), SubjectId(bound * (s + 1) / RUN_STRIPES)))
                            .collect();
                        let (chunks, received) = mpsc::sync_channel(2);
                        scope.spawn(move || self.evaluate_part(&stripes, as_of, chunks));
                        received
                    })
                    .collect();
                while !parts.is_empty() {
                    let mut ended = Vec::new();
                    for (i, part) in parts.iter().enumerate() {
                        match part.recv() {
                            Ok(Chunk::Evaluated(mut pending)) => {
                                write_evaluations(&mut guard, &mut pending, &mut run, &mut cube, false)?;
                            }
                            Ok(Chunk::Done) => ended.push(i),
                            Ok(Chunk::Failed(error)) => return Err(error),
                            Err(_) => return Err(PlatformError::RunFailed("a part of the run ended early".into())),
                        }
                    }
                    for i in ended.into_iter().rev() {
                        parts.remove(i);
                    }
                }
                Ok(self.set_mark(&mut guard, cube, through, as_of)?)
            }));
            // The committer thread must end inside the scope, even after a panic.
            let stopped = guard.stop_committer();
            let written =
                written.map_err(|panic| PlatformError::RunFailed(crate::import::panic_message(panic.as_ref())))??;
            stopped?;
            Ok(written)
        });
        self.land(&mut run, guard, outcome, through)?;
        Ok(run)
    }

    /// Reads and evaluates the subjects of `stripes` (from, up to), handing them on in chunks of
    /// [`RUN_CHUNK`], then [`Chunk::Done`]; stops when the writer has gone.
    fn evaluate_part(&self, stripes: &[(SubjectId, SubjectId)], as_of: NaiveDate, chunks: mpsc::SyncSender<Chunk>) {
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<bool, StoreError> {
            let mut pending = Vec::with_capacity(RUN_CHUNK);
            let mut writer_gone = false;
            for (start, end) in stripes {
                self.store.scan_current_pages_between(*start, Some(*end), &mut |subject, records| {
                    pending.push(self.stored_evaluation_of(&subject, &records, as_of));
                    if pending.len() >= RUN_CHUNK {
                        let chunk = std::mem::replace(&mut pending, Vec::with_capacity(RUN_CHUNK));
                        writer_gone = chunks.send(Chunk::Evaluated(chunk)).is_err();
                    }
                    !writer_gone
                })?;
                if writer_gone {
                    return Ok(true);
                }
            }
            Ok(!pending.is_empty() && chunks.send(Chunk::Evaluated(pending)).is_err())
        }));
        let last = match read {
            Ok(Ok(true)) => return,
            Ok(Ok(false)) => Chunk::Done,
            Ok(Err(error)) => Chunk::Failed(error.into()),
            Err(panic) => Chunk::Failed(PlatformError::RunFailed(crate::import::panic_message(panic.as_ref()))),
        };
        let _ = chunks.send(last);
    }

    /// The incremental run, in the batch `stamp` names (a replayed command's) or the next; `None` when
    /// it has to be a full one. Nothing is written when nothing changed.
    pub(super) fn incremental_run(
        &self,
        stamp: Option<Stamp>,
        as_of: NaiveDate,
    ) -> Result<Option<EvaluationRun>, PlatformError> {
        let mut run = EvaluationRun {
            kind: "incremental",
            model_version: self.evaluation.version.clone(),
            as_of: Some(as_of),
            ..Default::default()
        };
        if stamp.is_none() {
            // A look without the writer first: the server asks at every sweep, and mostly nothing changed.
            match self.incremental_plan(as_of)? {
                None => return Ok(None),
                Some(plan) if plan.subjects.is_empty() => {
                    run.through_batch = plan.through.map(|b| b.0);
                    return Ok(Some(run));
                }
                Some(_) => {}
            }
        }
        // Under the writer, nothing commits in between: the plan read now is the one carried out.
        let mut guard = self.begin_run(stamp)?;
        let plan = match self.incremental_plan(as_of) {
            Ok(Some(plan)) => plan,
            Ok(None) => {
                guard.abort()?;
                return Ok(None);
            }
            Err(error) => {
                guard.abort()?;
                return Err(error);
            }
        };
        let outcome = (|| -> Result<StatsCube, PlatformError> {
            let mut pending = Vec::with_capacity(plan.subjects.len());
            for subject in &plan.subjects {
                let Some((subject, records)) = self.current_versions(*subject)? else { continue };
                pending.push(self.stored_evaluation_of(&subject, &records, as_of));
            }
            let mut cube = CubeBuilder::from_cube(&plan.cube);
            write_evaluations(&mut guard, &mut pending, &mut run, &mut cube, true)?;
            Ok(self.set_mark(&mut guard, cube, plan.through, as_of)?)
        })();
        self.land(&mut run, guard, outcome, plan.through)?;
        Ok(Some(run))
    }

    /// What an incremental run on `as_of` would evaluate: the subjects changed since the mark, and the
    /// mark it leaves; `None` when it has to be a full run (no mark or cube, another model or day, or
    /// more than [`INCREMENTAL_MAX`] subjects changed).
    fn incremental_plan(&self, as_of: NaiveDate) -> Result<Option<IncrementalPlan>, PlatformError> {
        let mark = match self.store.evaluated_through()? {
            Some(mark) if mark.model_version == self.evaluation.version && mark.as_of == as_of => mark,
            _ => return Ok(None),
        };
        // The cube in memory, not decoded from the store again at every sweep.
        let Some(cube) = self.cube_of(&mark)? else { return Ok(None) };
        let (changed, last) = self.store.changes_by_batch_after(mark.batch)?;
        let mut subjects: Vec<SubjectId> = changed.into_iter().map(|(_, s)| s).collect();
        subjects.sort_unstable();
        subjects.dedup();
        if subjects.len() > INCREMENTAL_MAX {
            return Ok(None);
        }
        Ok(Some(IncrementalPlan { subjects, cube, through: last.or(mark.batch) }))
    }

    /// The batch of a run: `stamp`'s (a replayed command's) or the next, now.
    fn begin_run(&self, stamp: Option<Stamp>) -> Result<BatchGuard<'_, E>, PlatformError> {
        let (id, at) = match stamp {
            Some(stamp) => (Some(stamp.batch), stamp.at),
            None => (None, chrono::Utc::now()),
        };
        Ok(self.store.begin_batch_as(id, "evaluate", Vec::new(), None, at)?)
    }

    /// Writes the run's mark and its finished statistics cube into the batch.
    fn set_mark(
        &self,
        guard: &mut BatchGuard<'_, E>,
        cube: CubeBuilder,
        through: Option<crate::model::BatchId>,
        as_of: NaiveDate,
    ) -> Result<StatsCube, StoreError> {
        let mark = EvaluatedThrough { batch: through, model_version: self.evaluation.version.clone(), as_of };
        let finished = cube.finish(as_of, &mark.model_version, through.map(|b| b.0));
        guard.set_evaluated_through(&mark, &finished)?;
        Ok(finished)
    }

    /// Commits a run's batch and keeps its cube in memory, noting in `run` the batch it wrote and the
    /// mark it left (`through`); or undoes the batch.
    fn land(
        &self,
        run: &mut EvaluationRun,
        guard: BatchGuard<'_, E>,
        outcome: Result<StatsCube, PlatformError>,
        through: Option<BatchId>,
    ) -> Result<(), PlatformError> {
        match outcome {
            Ok(cube) => {
                (run.batch, run.at) = (Some(guard.info().id.0), Some(guard.info().started_at));
                guard.commit()?;
                run.through_batch = through.map(|b| b.0);
                *self.cube.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(cube));
                Ok(())
            }
            Err(error) => {
                guard.abort()?;
                Err(error)
            }
        }
    }

    fn audit_run(&self, actor: &Actor, run: &EvaluationRun, as_of: NaiveDate) -> Result<(), PlatformError> {
        let event = AuditEvent::new(actor.clone(), Operation::Evaluate)
            .detail("kind", run.kind)
            .detail("model_version", &run.model_version)
            .detail("as_of", as_of)
            .detail("evaluated", run.evaluated)
            .detail("grade_changed", run.grade_changed);
        self.audit(vec![event])
    }

    /// A subject's evaluation (when the model covers it) and its statistics tally on `as_of`.
    fn stored_evaluation_of(&self, subject: &Subject, records: &[RecordVersion], as_of: NaiveDate) -> StoredEvaluation {
        let evaluation = self.evaluation.evaluate(&self.disclosure, subject, records, as_of);
        let tally = self.tally(subject, records, evaluation.as_ref(), as_of);
        StoredEvaluation { subject: subject.id, tally, evaluation }
    }
}

/// Stores `pending` in the run's batch, with a `grade_changed` event for each subject whose stored
/// grade differs (a first evaluation is not a change), adding each tally to `cube` (and, `incremental`,
/// taking the stored one away).
fn write_evaluations<E: Engine>(
    guard: &mut BatchGuard<'_, E>,
    pending: &mut Vec<StoredEvaluation>,
    run: &mut EvaluationRun,
    cube: &mut CubeBuilder,
    incremental: bool,
) -> Result<(), StoreError> {
    let subjects: Vec<SubjectId> = pending.iter().map(|p| p.subject).collect();
    let before = guard.stored_evaluations(&subjects)?;
    for (stored, before) in pending.drain(..).zip(before) {
        let old_grade = match &before {
            Some(bytes) if incremental => {
                let old = decode_stored_evaluation(bytes)?;
                cube.add(&old.tally, -1);
                old.evaluation.map(|e| e.grade)
            }
            Some(bytes) => stored_grade(bytes)?,
            None => None,
        };
        cube.add(&stored.tally, 1);
        match &stored.evaluation {
            Some(evaluation) => {
                if let Some(old) = old_grade
                    && old != evaluation.grade
                {
                    // The code a follower knows the subject by (read for the few whose grade moved).
                    let subject = guard.store().subject(evaluation.subject)?;
                    let code = subject.as_ref().and_then(|s| s.primary_code()).map(str::to_string);
                    guard.emit(grade_change(&old, evaluation, code))?;
                    run.grade_changed += 1;
                }
                run.evaluated += 1;
            }
            None => run.out_of_scope += 1,
        }
        guard.put_evaluation(before.as_deref(), stored)?;
    }
    Ok(())
}

/// A `grade_changed` event: about the subject, not a record (record 0, category `other`).
fn grade_change(before: &str, after: &Evaluation, code: Option<String>) -> Change {
    Change {
        kind: ChangeKind::GradeChanged,
        subject: after.subject,
        code,
        record: RecordId(0),
        version: 0,
        category: RecordCategory::Other,
        list_type: None,
        effective: Some(after.as_of),
        case: None,
        grade: Some(GradeChange {
            from: before.to_string(),
            to: after.grade.clone(),
            score: after.score,
            risk_class: after.risk_class.clone(),
            model_version: after.model_version.clone(),
        }),
    }
}
