//! The change feed: every change that affects a joint check or the public view, in one ordered,
//! durable sequence that departments read from any point on (DOMAIN.md §6: "subscribers are told").
//!
//! Events are written by the batch that makes the change, so an event exists exactly when its change
//! does. Time alone ends windows and planned list removals; [`sweep`] notices those days after the
//! fact and writes their events, once per day swept.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use crate::disclosure::{Disclosure, DisclosureRules};
use crate::engine::Engine;
use crate::model::{
    BatchId, RecordCategory, RecordContent, RecordDetails, RecordId, RecordStatus, SubjectId, UsageScope,
};
use crate::store::{Store, StoreError};

pub use crate::model::feed::{Change, ChangeKind, FeedEvent};

/// The event with a natural person's ID number masked: any code that reads as a resident ID number
/// (organisation codes are public), and any code that is no valid identifier at all (nothing says it
/// is not someone's number).
pub fn masked(mut event: FeedEvent) -> FeedEvent {
    if let Some(code) = &mut event.change.code {
        let personal = match crate::ident::Identifier::parse(code) {
            Ok(found) => std::iter::once(&found.identifier)
                .chain(&found.alternatives)
                .any(|id| id.kind() == crate::ident::IdentifierKind::Ric),
            Err(_) => true,
        };
        if personal {
            *code = crate::privacy::mask_id_number(code);
        }
    }
    event
}

/// The event for a record written with `after`, `before` being its previous version (`None`: new).
pub fn record_change(
    subject: SubjectId,
    record: RecordId,
    version: u32,
    before: Option<&RecordContent>,
    after: &RecordContent,
) -> Change {
    let list_dates = |content: &RecordContent| match &content.details {
        RecordDetails::ListEntry { listed_on, removed_on, .. } => Some((*listed_on, *removed_on)),
        _ => None,
    };
    let newly = |status: RecordStatus| after.status == status && before.is_none_or(|b| b.status != status);
    let (kind, effective) = match before {
        _ if newly(RecordStatus::Repaired) => (ChangeKind::Repaired, after.status_since),
        _ if newly(RecordStatus::Revoked) => (ChangeKind::Revoked, after.status_since),
        None => match list_dates(after) {
            Some((listed, _)) => (ChangeKind::Listed, Some(listed)),
            None => (ChangeKind::Published, after.decision_date),
        },
        Some(before) => match (list_dates(before), list_dates(after)) {
            (Some((_, None)), Some((_, Some(removed)))) => (ChangeKind::Removed, Some(removed)),
            (Some(_), Some(_)) if newly(RecordStatus::Removed) => (ChangeKind::Removed, None),
            _ => (ChangeKind::Corrected, after.status_since),
        },
    };
    Change {
        kind,
        subject,
        code: crate::model::shown_code(&after.subject_identifiers).map(str::to_string),
        record,
        version,
        category: after.category(),
        list_type: match &after.details {
            RecordDetails::ListEntry { list_type, .. } => Some(list_type.clone()),
            _ => None,
        },
        effective,
        case: None,
        grade: None,
    }
}

/// What one sweep did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    /// The days swept: after `after` (exclusive) up to `through` (inclusive); nothing when equal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<NaiveDate>,
    pub through: NaiveDate,
    pub window_ended: u64,
    pub removed: u64,
    /// The feed's end after the sweep.
    pub feed_end: u64,
    /// The batch the sweep ran in; none when there was nothing to sweep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchId>,
}

/// Emits the events time caused since the last sweep: public windows that ended and planned list
/// removals that came, each once. The first sweep of a store covers `today` only.
pub fn sweep<E: Engine>(
    store: &Store<E>,
    rules: &DisclosureRules,
    today: NaiveDate,
) -> Result<SweepSummary, StoreError> {
    sweep_as(store, rules, today, None, chrono::Utc::now())
}

/// The sweep as a write command: in batch `batch` when one is given (a replica applying the sweep of
/// another store), recorded at `at`.
pub fn sweep_as<E: Engine>(
    store: &Store<E>,
    rules: &DisclosureRules,
    today: NaiveDate,
    batch: Option<BatchId>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<SweepSummary, StoreError> {
    let first_day = |last: Option<NaiveDate>| last.and_then(|d| d.checked_add_days(Days::new(1))).unwrap_or(today);
    let last = store.swept_through()?;
    // A replayed sweep runs in its batch whatever this store's state, as it did at its origin.
    if batch.is_none() && first_day(last) > today {
        return Ok(SweepSummary {
            after: last,
            through: today,
            window_ended: 0,
            removed: 0,
            feed_end: store.feed_end()?,
            batch: None,
        });
    }
    let mut guard = store.begin_batch_as(batch, "sweep", Vec::new(), None, at)?;
    // Another sweep may have run while this one waited for the writer.
    let last = guard.swept_through()?;
    let from = first_day(last);
    let mut candidates = Vec::new();
    store.scan_record_heads(&mut |head| {
        if matches!(head.category, RecordCategory::Penalty | RecordCategory::ListEntry) {
            candidates.push(head);
        }
        true
    })?;
    let batch = Some(guard.info().id);
    let mut summary = SweepSummary { after: last, through: today, window_ended: 0, removed: 0, feed_end: 0, batch };
    for head in candidates {
        let Some(version) = store.record_version(head.id, head.versions)? else {
            return Err(StoreError::Corrupt(format!("record {} lacks version {}", head.id, head.versions)));
        };
        let content = &version.content;
        let due = |day: NaiveDate| from <= day && day <= today;
        let day_before = |day: NaiveDate| day.pred_opt().unwrap_or(day);
        let mut changes = Vec::new();
        if let Disclosure::Windowed(window) = rules.disclosure(content)
            && due(window.public_until)
            && content.usage_scope == UsageScope::Public
            && rules.public_on(content, day_before(window.public_until))
        {
            changes.push((ChangeKind::WindowEnded, window.public_until));
        }
        if let RecordDetails::ListEntry { planned_removal: Some(planned), removed_on: None, .. } = &content.details
            && due(*planned)
            && content.in_force_on(day_before(*planned))
        {
            changes.push((ChangeKind::Removed, *planned));
        }
        for (kind, effective) in changes {
            let mut change = record_change(head.subject, head.id, head.versions, None, content);
            change.kind = kind;
            change.effective = Some(effective);
            guard.emit(change)?;
            guard.touch(head.subject)?;
            match kind {
                ChangeKind::WindowEnded => summary.window_ended += 1,
                _ => summary.removed += 1,
            }
        }
    }
    guard.set_swept_through(today)?;
    summary.feed_end = guard.next_feed_sequence();
    guard.commit()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::tests::list_entry;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn changes_are_named_by_what_they_do() {
        let kind = |before: Option<&RecordContent>, after: &RecordContent| {
            record_change(SubjectId(1), RecordId(2), 1, before, after).kind
        };
        let listed = list_entry("2026-01-05", Some("2029-01-05"), None);
        assert_eq!(kind(None, &listed), ChangeKind::Listed);
        let removed = list_entry("2026-01-05", Some("2029-01-05"), Some("2026-03-01"));
        assert_eq!(kind(Some(&listed), &removed), ChangeKind::Removed);
        assert_eq!(
            record_change(SubjectId(1), RecordId(2), 2, Some(&listed), &removed).effective,
            Some(d("2026-03-01"))
        );
        let mut repaired = listed.clone();
        repaired.status = RecordStatus::Repaired;
        repaired.status_since = Some(d("2026-04-01"));
        assert_eq!(kind(Some(&listed), &repaired), ChangeKind::Repaired);
        let mut revoked = listed.clone();
        revoked.status = RecordStatus::Revoked;
        assert_eq!(kind(Some(&listed), &revoked), ChangeKind::Revoked);
        let mut moved = listed.clone();
        moved.document_number = Some("新文号".into());
        assert_eq!(kind(Some(&listed), &moved), ChangeKind::Corrected);
        let mut penalty = listed.clone();
        penalty.details = RecordDetails::Other { description: None };
        assert_eq!(kind(None, &penalty), ChangeKind::Published);
    }

    #[test]
    fn events_round_trip_with_a_flat_shape() {
        let change = record_change(SubjectId(1), RecordId(2), 1, None, &list_entry("2026-01-05", None, None));
        let event = FeedEvent { sequence: 7, at: Utc::now(), batch: BatchId(3), change };
        let json = serde_json::to_value(&event).expect("json");
        assert_eq!(json["seq"], 7);
        assert_eq!(json["kind"], "listed");
        assert_eq!(json["list_type"], "COURT_DISHONEST_DEBTOR");
        assert_eq!(serde_json::from_value::<FeedEvent>(json).expect("back"), event);
    }
}
