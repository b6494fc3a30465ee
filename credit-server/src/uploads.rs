//! Bounds on department uploads: how many run at once, how long a client may fall silent mid-upload,
//! how many bytes one department delivers per day, and the free disk the spool keeps.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::UploadLimits;
use crate::error::{ApiError, ErrorCode};

/// Most departments whose daily bytes are remembered at once (a day's worth of providers).
const MAX_TRACKED: usize = 10_000;

#[derive(Debug)]
pub struct UploadGate {
    limits: UploadLimits,
    slots: Arc<Semaphore>,
    /// Bytes delivered today, by department (or key, for callers without one).
    delivered: Mutex<HashMap<String, (NaiveDate, u64)>>,
}

impl UploadGate {
    pub fn new(limits: &UploadLimits) -> UploadGate {
        UploadGate {
            limits: limits.clone(),
            slots: Arc::new(Semaphore::new(limits.max_concurrent)),
            delivered: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for one upload, refused at once when all are taken.
    pub fn slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.slots.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                ErrorCode::Overloaded,
                format!("{} uploads are running, the most at once; retry shortly", self.limits.max_concurrent),
            )
            .retry_after(Duration::from_secs(5))
        })
    }

    /// How long the upload may wait for its client's next message.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.limits.idle_timeout_seconds)
    }

    /// Refuses the upload when the spool's disk has less free space than the configured reserve.
    pub fn check_disk(&self, spool: &Path) -> Result<(), ApiError> {
        let stat =
            rustix::fs::statvfs(spool).map_err(|e| ApiError::internal(&format!("statvfs {}: {e}", spool.display())))?;
        let free = stat.f_bavail.saturating_mul(stat.f_frsize);
        if free < self.limits.min_free_bytes {
            tracing::warn!(free, reserve = self.limits.min_free_bytes, "upload refused: spool disk nearly full");
            return Err(ApiError::new(
                ErrorCode::Overloaded,
                "the platform's upload spool is short of disk; retry later",
            )
            .retry_after(Duration::from_secs(60)));
        }
        Ok(())
    }

    /// Charges `bytes` to `who`'s delivery of `today`; refused past the daily quota.
    pub fn charge(&self, who: &str, today: NaiveDate, bytes: u64) -> Result<(), ApiError> {
        let mut delivered = self.delivered.lock().unwrap_or_else(|e| e.into_inner());
        if delivered.len() >= MAX_TRACKED && !delivered.contains_key(who) {
            delivered.retain(|_, (day, _)| *day == today);
        }
        let entry = delivered.entry(who.to_string()).or_insert((today, 0));
        if entry.0 != today {
            *entry = (today, 0);
        }
        let total = entry.1.saturating_add(bytes);
        if total > self.limits.daily_bytes {
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "{who:?} has delivered its {} bytes for today; the quota renews tomorrow",
                    self.limits.daily_bytes
                ),
            )
            .retry_after(Duration::from_secs(3600)));
        }
        entry.1 = total;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).expect("date")
    }

    #[test]
    fn quotas_slots_and_disk_hold() {
        let limits = UploadLimits { max_concurrent: 1, daily_bytes: 100, min_free_bytes: 0, ..UploadLimits::default() };
        let gate = UploadGate::new(&limits);
        gate.charge("市场监管局", day(2), 60).expect("within quota");
        let over = gate.charge("市场监管局", day(2), 41).expect_err("over quota");
        assert_eq!(over.code, ErrorCode::RateLimited);
        gate.charge("市税务局", day(2), 100).expect("each department its own");
        gate.charge("市场监管局", day(3), 100).expect("a new day");
        let held = gate.slot().expect("a slot");
        assert_eq!(gate.slot().expect_err("all taken").code, ErrorCode::Overloaded);
        drop(held);
        gate.check_disk(Path::new("/")).expect("no reserve asked");
        let full = UploadGate::new(&UploadLimits { min_free_bytes: u64::MAX, ..UploadLimits::default() });
        assert_eq!(full.check_disk(Path::new("/")).expect_err("reserve").code, ErrorCode::Overloaded);
    }
}
