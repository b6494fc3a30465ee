//! The change feed's events, and the day the sweep last reached.

use chrono::NaiveDate;

use super::{BatchGuard, Store, StoreError, from_json, keys, to_json};
use crate::engine::{Cf, Engine};
use crate::model::feed::{Change, FeedEvent};

impl<E: Engine> Store<E> {
    /// Feed events from sequence `from` on, at most `limit`, in order. Only committed events are read:
    /// the feed ends where the last committed batch left it.
    pub fn feed(&self, from: u64, limit: usize) -> Result<Vec<FeedEvent>, StoreError> {
        let end = self.next_id(keys::NEXT_FEED)?;
        let mut events = Vec::new();
        let mut failed = None;
        if from >= end || limit == 0 {
            return Ok(events);
        }
        self.engine.scan_from(Cf::Feed, &keys::feed(from), &mut |key, value| {
            if keys::u64_at(key, 0).is_none_or(|sequence| sequence >= end) {
                return false;
            }
            match from_json(value) {
                Ok(event) => events.push(event),
                Err(e) => failed = Some(e),
            }
            failed.is_none() && events.len() < limit
        })?;
        failed.map_or(Ok(events), Err)
    }

    /// The sequence number the next feed event will get (the feed's committed end).
    pub fn feed_end(&self) -> Result<u64, StoreError> {
        self.next_id(keys::NEXT_FEED)
    }
}

impl<E: Engine> Store<E> {
    /// The last day the sweep covered.
    pub fn swept_through(&self) -> Result<Option<NaiveDate>, StoreError> {
        swept(self.engine.get(Cf::Meta, keys::SWEPT_THROUGH)?)
    }
}

impl<E: Engine> BatchGuard<'_, E> {
    /// Appends a change event to the feed. It becomes readable when the batch commits, and disappears
    /// with everything else the batch wrote when it does not.
    pub fn emit(&mut self, change: Change) -> Result<u64, StoreError> {
        let sequence = self.next_feed;
        self.next_feed += 1;
        let event = FeedEvent { sequence, at: self.info.started_at, batch: self.info.id, change };
        self.writer.put_new(Cf::Feed, keys::feed(sequence), to_json(&event))?;
        Ok(sequence)
    }

    /// The feed's end if the batch committed now.
    pub fn next_feed_sequence(&self) -> u64 {
        self.next_feed
    }

    /// The last day the sweep covered, as this batch left it.
    pub fn swept_through(&self) -> Result<Option<NaiveDate>, StoreError> {
        swept(self.writer.get(Cf::Meta, keys::SWEPT_THROUGH)?)
    }

    /// Records that the sweep covered every day up to `day`.
    pub fn set_swept_through(&mut self, day: NaiveDate) -> Result<(), StoreError> {
        self.writer.put(Cf::Meta, keys::SWEPT_THROUGH.to_vec(), to_json(&day))
    }
}

fn swept(bytes: Option<Vec<u8>>) -> Result<Option<NaiveDate>, StoreError> {
    bytes.map(|b| from_json(&b)).transpose()
}
