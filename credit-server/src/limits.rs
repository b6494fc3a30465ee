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
    /// An IPv4 address, or the /64 of an IPv6 one (one subscriber's share: a client must not get a
    /// fresh bucket for each of its 2^64 addresses).
    Ip(IpAddr),
    /// Anonymous callers whose address is unknown share one bucket, as do new addresses while the
    /// limiter already holds [`MAX_BUCKETS`].
    Unknown,
}

/// Most buckets one limiter keeps; buckets full again are forgotten every few seconds.
pub const MAX_BUCKETS: usize = 100_000;

impl BucketKey {
    fn of(caller: &Caller) -> BucketKey {
        match (&caller.key_id, caller.ip) {
            (Some(id), _) => BucketKey::Key(id.clone()),
            (None, Some(ip)) => BucketKey::Ip(network(ip)),
            (None, None) => BucketKey::Unknown,
        }
    }
}

/// An address as rate limits see it: IPv4 (and IPv4-mapped) addresses whole, IPv6 by its /64.
fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

#[derive(Debug)]
pub struct RateLimits {
    quotas: Limits,
    public: DefaultKeyedRateLimiter<BucketKey>,
    provider: DefaultKeyedRateLimiter<BucketKey>,
    regulator: DefaultKeyedRateLimiter<BucketKey>,
    admin: DefaultKeyedRateLimiter<BucketKey>,
    /// Health and reflection calls, per IP.
    probe: DefaultKeyedRateLimiter<BucketKey>,
    /// All calls together.
    global: governor::DefaultDirectRateLimiter,
    clock: DefaultClock,
    /// Calls refused, per role (public, provider, regulator, admin), for the metrics endpoint.
    rejected: [std::sync::atomic::AtomicU64; Role::ALL.len()],
}

fn quota(quota: config::Quota) -> Quota {
    // validate() guarantees both are at least 1.
    let per_second = NonZeroU32::new(quota.per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

fn limiter(limits: config::Quota) -> DefaultKeyedRateLimiter<BucketKey> {
    RateLimiter::keyed(quota(limits))
}

impl RateLimits {
    pub fn new(limits: &Limits) -> RateLimits {
        RateLimits {
            quotas: limits.clone(),
            public: limiter(limits.public),
            provider: limiter(limits.provider),
            regulator: limiter(limits.regulator),
            admin: limiter(limits.admin),
            probe: limiter(limits.probe),
            global: RateLimiter::direct(quota(limits.global)),
            clock: DefaultClock::default(),
            rejected: Default::default(),
        }
    }

    fn of(&self, role: Role) -> &DefaultKeyedRateLimiter<BucketKey> {
        match role {
            // A subject's own key is a member of the public with a name: the public's quota.
            Role::Public | Role::Subject => &self.public,
            Role::Provider => &self.provider,
            Role::Regulator => &self.regulator,
            Role::Admin => &self.admin,
        }
    }

    /// The most one call of this role may weigh: its bucket's size.
    pub fn burst(&self, role: Role) -> u32 {
        match role {
            Role::Public | Role::Subject => self.quotas.public.burst,
            Role::Provider => self.quotas.provider.burst,
            Role::Regulator => self.quotas.regulator.burst,
            Role::Admin => self.quotas.admin.burst,
        }
    }

    /// Takes `weight` requests from the caller's bucket, or says how long to wait.
    pub fn charge(&self, caller: &Caller, weight: u32) -> Result<(), ApiError> {
        self.charge_to(self.of(caller.role), caller, weight)
    }

    /// Takes one call from the probe bucket of the caller's address (health checks, reflection).
    pub fn charge_probe(&self, caller: &Caller) -> Result<(), ApiError> {
        self.charge_to(&self.probe, caller, 1)
    }

    /// Takes one call from the limit of all callers together.
    pub fn charge_global(&self) -> Result<(), ApiError> {
        self.global.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::new(ErrorCode::Overloaded, "the platform is at its limit of calls for all callers; retry shortly")
                .retry_after(wait.max(Duration::from_millis(1)))
        })
    }

    fn charge_to(
        &self,
        limiter: &DefaultKeyedRateLimiter<BucketKey>,
        caller: &Caller,
        weight: u32,
    ) -> Result<(), ApiError> {
        let Some(weight) = NonZeroU32::new(weight) else {
            return Ok(());
        };
        let mut key = BucketKey::of(caller);
        if limiter.len() >= MAX_BUCKETS && !matches!(key, BucketKey::Key(_)) {
            // Full of addresses: more of them share one bucket until idle ones are forgotten.
            key = BucketKey::Unknown;
        }
        match limiter.check_key_n(&key, weight) {
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
        for limiter in [&self.public, &self.provider, &self.regulator, &self.admin, &self.probe] {
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
        Role::Subject => 4,
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
    /// Admitted work dropped because its caller was gone, by [`Abandoned`] (metrics).
    abandoned: Arc<[std::sync::atomic::AtomicU64; 2]>,
}

/// When admitted work was dropped because its caller was gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandoned {
    /// Before a blocking thread took it up: it never ran.
    Queued,
    /// While it ran: it stopped at its next step, writing nothing.
    Running,
}

impl Abandoned {
    pub const ALL: [Abandoned; 2] = [Abandoned::Queued, Abandoned::Running];

    pub fn as_str(self) -> &'static str {
        match self {
            Abandoned::Queued => "queued",
            Abandoned::Running => "running",
        }
    }
}

/// Suggested wait for a shed call: short, the cap frees up as calls finish.
const SHED_RETRY: Duration = Duration::from_millis(50);

impl Admission {
    pub fn new(max_in_flight: usize) -> Admission {
        Admission { permits: Arc::new(Semaphore::new(max_in_flight)), abandoned: Arc::default() }
    }

    /// Counts one piece of work dropped because its caller was gone.
    pub fn abandoned(&self, when: Abandoned) {
        self.abandoned[when as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How much work was dropped so far, by when.
    pub fn abandoned_counts(&self) -> [(Abandoned, u64); 2] {
        Abandoned::ALL.map(|when| (when, self.abandoned[when as usize].load(std::sync::atomic::Ordering::Relaxed)))
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
        Caller {
            key_id: key.map(str::to_string),
            role,
            dept: None,
            subject_code: None,
            ip: Some(ip.parse().expect("ip")),
        }
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
    fn addresses_share_buckets_by_network_and_the_global_limit_holds_for_all() {
        let limits = Limits {
            public: config::Quota { per_second: 1, burst: 2 },
            global: config::Quota { per_second: 1, burst: 5 },
            ..Limits::default()
        };
        let rates = RateLimits::new(&limits);
        // Two addresses of one IPv6 /64 are one client.
        rates.charge(&caller(Role::Public, None, "2001:db8::1"), 2).expect("burst");
        let refused = rates.charge(&caller(Role::Public, None, "2001:db8::ffff"), 1).expect_err("same /64");
        assert_eq!(refused.code, ErrorCode::RateLimited);
        rates.charge(&caller(Role::Public, None, "2001:db8:0:1::1"), 1).expect("another /64");
        for _ in 0..5 {
            rates.charge_global().expect("global burst");
        }
        let global = rates.charge_global().expect_err("all callers together");
        assert_eq!(global.code, ErrorCode::Overloaded);
        assert!(global.retry_after.is_some());
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
