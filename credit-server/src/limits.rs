//! Per-caller rate limits (governor token buckets) and the global cap on store work in flight.
//!
//! Each role has its own keyed limiter, keyed by API key id, or by client IP for anonymous callers,
//! so one caller flooding drains only its own bucket: a refused call costs a hash-map lookup and never
//! reaches the store.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::{Caller, Role};
use crate::config::{self, Limits};
use crate::error::{ApiError, ErrorCode};

/// Whom a bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BucketKey {
    Key(String),
    Ip(IpAddr),
    /// Anonymous callers whose address is unknown share one bucket.
    Unknown,
}

impl BucketKey {
    fn of(caller: &Caller) -> BucketKey {
        match (&caller.key_id, caller.ip) {
            (Some(id), _) => BucketKey::Key(id.clone()),
            (None, Some(ip)) => BucketKey::Ip(ip),
            (None, None) => BucketKey::Unknown,
        }
    }
}

#[derive(Debug)]
pub struct RateLimits {
    quotas: Limits,
    public: DefaultKeyedRateLimiter<BucketKey>,
    provider: DefaultKeyedRateLimiter<BucketKey>,
    regulator: DefaultKeyedRateLimiter<BucketKey>,
    admin: DefaultKeyedRateLimiter<BucketKey>,
    clock: DefaultClock,
    /// Calls refused, per role (public, provider, regulator, admin), for the metrics endpoint.
    rejected: [std::sync::atomic::AtomicU64; 4],
}

fn limiter(quota: config::Quota) -> DefaultKeyedRateLimiter<BucketKey> {
    // validate() guarantees both are at least 1.
    let per_second = NonZeroU32::new(quota.per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
}

impl RateLimits {
    pub fn new(limits: &Limits) -> RateLimits {
        RateLimits {
            quotas: limits.clone(),
            public: limiter(limits.public),
            provider: limiter(limits.provider),
            regulator: limiter(limits.regulator),
            admin: limiter(limits.admin),
            clock: DefaultClock::default(),
            rejected: Default::default(),
        }
    }

    fn of(&self, role: Role) -> &DefaultKeyedRateLimiter<BucketKey> {
        match role {
            Role::Public => &self.public,
            Role::Provider => &self.provider,
            Role::Regulator => &self.regulator,
            Role::Admin => &self.admin,
        }
    }

    /// The most one call of this role may weigh: its bucket's size.
    pub fn burst(&self, role: Role) -> u32 {
        match role {
            Role::Public => self.quotas.public.burst,
            Role::Provider => self.quotas.provider.burst,
            Role::Regulator => self.quotas.regulator.burst,
            Role::Admin => self.quotas.admin.burst,
        }
    }

    /// Takes `weight` requests from the caller's bucket, or says how long to wait.
    pub fn charge(&self, caller: &Caller, weight: u32) -> Result<(), ApiError> {
        let Some(weight) = NonZeroU32::new(weight) else {
            return Ok(());
        };
        let limiter = self.of(caller.role);
        match limiter.check_key_n(&BucketKey::of(caller), weight) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(not_until)) => {
                self.rejected[role_index(caller.role)].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let wait = not_until.wait_time_from(self.clock.now());
                tracing::debug!(caller = %caller.label(), weight, wait_ms = wait.as_millis() as u64, "rate limited");
                Err(ApiError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "rate limit of the {} role exceeded; retry after {} ms",
                        caller.role.as_str(),
                        wait.as_millis()
                    ),
                )
                .retry_after(wait.max(Duration::from_millis(1))))
            }
            Err(_insufficient) => Err(too_heavy(caller.role, weight.get())),
        }
    }

    /// Calls refused so far, by role.
    pub fn rejections(&self) -> [(&'static str, u64); 4] {
        [Role::Public, Role::Provider, Role::Regulator, Role::Admin]
            .map(|role| (role.as_str(), self.rejected[role_index(role)].load(std::sync::atomic::Ordering::Relaxed)))
    }

    /// Forgets buckets that are full again, so memory follows the callers of the last moments.
    pub fn forget_idle(&self) {
        for limiter in [&self.public, &self.provider, &self.regulator, &self.admin] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn role_index(role: Role) -> usize {
    match role {
        Role::Public => 0,
        Role::Provider => 1,
        Role::Regulator => 2,
        Role::Admin => 3,
    }
}

pub fn too_heavy(role: Role, weight: u32) -> ApiError {
    ApiError::new(
        ErrorCode::BatchTooLarge,
        format!("a call of weight {weight} exceeds the {} role's burst; send smaller batches", role.as_str()),
    )
}

/// Caps store and index work in flight. A call over the cap is refused at once (UNAVAILABLE with a
/// RetryInfo) instead of queueing: under overload, fast refusals keep latency for admitted calls.
#[derive(Debug, Clone)]
pub struct Admission {
    permits: Arc<Semaphore>,
}

/// Suggested wait for a shed call: short, the cap frees up as calls finish.
const SHED_RETRY: Duration = Duration::from_millis(50);

impl Admission {
    pub fn new(max_in_flight: usize) -> Admission {
        Admission { permits: Arc::new(Semaphore::new(max_in_flight)) }
    }

    pub fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.permits.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(ErrorCode::Overloaded, "the server is at its limit of calls in flight; retry shortly")
                .retry_after(SHED_RETRY)
        })
    }

    /// Waits until every admitted call has finished (at shutdown), up to `grace`; `false` on timeout.
    pub async fn drain(&self, total: usize, grace: Duration) -> bool {
        let all = u32::try_from(total).unwrap_or(u32::MAX);
        tokio::time::timeout(grace, self.permits.acquire_many(all)).await.is_ok_and(|permit| {
            // Keep the permits: nothing may start once the store is closing.
            permit.map(std::mem::forget).is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, key: Option<&str>, ip: &str) -> Caller {
        Caller { key_id: key.map(str::to_string), role, dept: None, ip: Some(ip.parse().expect("ip")) }
    }

    #[test]
    fn each_caller_has_its_own_bucket() {
        let limits = Limits { public: config::Quota { per_second: 1, burst: 3 }, ..Limits::default() };
        let rates = RateLimits::new(&limits);
        let flooder = caller(Role::Public, None, "10.0.0.1");
        let other = caller(Role::Public, None, "10.0.0.2");
        for _ in 0..3 {
            rates.charge(&flooder, 1).expect("within burst");
        }
        let refused = rates.charge(&flooder, 1).expect_err("over quota");
        assert_eq!(refused.code, ErrorCode::RateLimited);
        assert!(refused.retry_after.expect("retry") > Duration::ZERO);
        rates.charge(&other, 1).expect("another IP is unaffected");
        let too_big = rates.charge(&other, 4).expect_err("weight over burst");
        assert_eq!(too_big.code, ErrorCode::BatchTooLarge);
    }

    #[test]
    fn admission_sheds_over_the_cap() {
        let admission = Admission::new(1);
        let held = admission.admit().expect("first");
        assert_eq!(admission.admit().expect_err("second").code, ErrorCode::Overloaded);
        drop(held);
        let _again = admission.admit().expect("free again");
    }
}
