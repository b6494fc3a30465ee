//! What runs beside the calls: key reloads and limiter upkeep, the feed sweep, audit checkpoints, the
//! metrics listener; and closing the store at the end. `serve()` starts them with [`Background::start`]
//! and stops them in the order shutdown needs.

use std::sync::Arc;
use std::time::Duration;

use credit_core::store::Store;
use credit_core::time::today_cst;
use tokio::task::JoinHandle;

use crate::ServeError;
use crate::auth::KeyRing;
use crate::config::Config;
use crate::error::ApiError;
use crate::limits::RateLimits;
use crate::services::Context;

/// The background tasks of a running server.
pub(crate) struct Background {
    housekeeping: JoinHandle<()>,
    sweeping: Option<JoinHandle<()>>,
    checkpointing: Option<JoinHandle<()>>,
    metrics: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts every task `config` asks for; `metrics` is the metrics listener's, already started.
    pub(crate) fn start(
        context: &Context,
        config: &Config,
        limits: Arc<RateLimits>,
        metrics: Option<JoinHandle<()>>,
    ) -> Background {
        let store = context.platform.store().clone();
        let every = Duration::from_secs(config.keys_reload_seconds);
        let housekeeping = tokio::spawn(housekeeping(context.keys.clone(), limits, context.platform.clone(), every));
        let sweeping = (config.sweep_interval_seconds > 0).then(|| {
            let every = Duration::from_secs(config.sweep_interval_seconds);
            tokio::spawn(sweeping(context.clone(), every, config.evaluate_on_sweep, context.stopping.clone()))
        });
        let checkpointing = context.signing.key.clone().map(|key| {
            let every = Duration::from_secs(config.audit_checkpoint_seconds);
            tokio::spawn(checkpointing(store, key, every))
        });
        Background { housekeeping, sweeping, checkpointing, metrics }
    }

    /// Once calls stop coming: key reloads and the metrics listener end at once; a sweep in progress
    /// may finish (it ends at its next tick once the server is stopping), up to `grace`.
    pub(crate) async fn stop_before_drain(&mut self, grace: Duration) {
        self.housekeeping.abort();
        if let Some(task) = self.metrics.take() {
            task.abort();
        }
        if let Some(sweeping) = self.sweeping.take()
            && tokio::time::timeout(grace, sweeping).await.is_err()
        {
            tracing::warn!(grace_seconds = grace.as_secs(), "feed sweep still running after the grace period");
        }
    }

    /// Once calls in flight are done: checkpoints end (the store's close writes the last one).
    pub(crate) fn stop_after_drain(self) {
        if let Some(checkpointing) = self.checkpointing {
            checkpointing.abort();
        }
    }
}

/// Signs the audit log's head, makes every write durable and closes the store (its engine flushes on
/// drop).
pub(crate) fn close(
    store: Arc<Store<credit_core::engine::RocksEngine>>,
    key: Option<&credit_sign::SigningKey>,
) -> Result<(), ServeError> {
    use credit_core::engine::Engine;
    if let Some(key) = key
        && let Err(error) = store.audit().checkpoint(key)
    {
        tracing::warn!(%error, "final audit checkpoint not written");
    }
    store.engine().persist().map_err(credit_core::store::StoreError::from)?;
    match Arc::try_unwrap(store) {
        Ok(store) => drop(store),
        Err(_) => tracing::warn!("store still referenced at shutdown; it closes when the last call ends"),
    }
    tracing::info!("store closed");
    Ok(())
}

/// Picks up key changes (writing them to the audit log) and forgets idle rate-limit buckets, until
/// aborted.
async fn housekeeping(
    ring: Arc<KeyRing>,
    limits: Arc<RateLimits>,
    platform: Arc<credit_core::Platform>,
    every: Duration,
) {
    let mut ticker = tokio::time::interval(every);
    let mut ticks: u64 = 0;
    loop {
        ticker.tick().await;
        ticks += 1;
        let (ring, platform) = (ring.clone(), platform.clone());
        let reloaded = tokio::task::spawn_blocking(move || -> Result<bool, ServeError> {
            let Some(changes) = ring.reload_changes()? else {
                return Ok(false);
            };
            // Made with `credit-server keys` while the server ran (the command cannot open the store
            // then, so the server writes the change down when it picks it up).
            let acts: Vec<_> = changes.iter().map(crate::auth::KeyChange::act).collect();
            platform
                .record_admin(&credit_core::Actor::console(None), &acts)
                .map_err(|e| ServeError::Audit(e.to_string()))?;
            Ok(true)
        })
        .await;
        match reloaded {
            Ok(Ok(true)) => tracing::info!("api keys reloaded"),
            Ok(Ok(false)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "api keys not reloaded; the previous keys stay in force"),
            Err(error) => tracing::warn!(%error, "api keys reload task failed"),
        }
        if ticks.is_multiple_of(60) {
            limits.forget_idle();
        }
    }
}

/// Writes the feed events of windows and planned removals that ended, then brings the search index's
/// list memberships up to date: at start (to cover any downtime) and every `every`, until `stop`.
/// A sweep in progress finishes before this returns, so shutdown awaits it before closing the store.
async fn sweeping(context: Context, every: Duration, evaluate: bool, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        let platform = context.platform.clone();
        let swept =
            tokio::task::spawn_blocking(move || -> Result<_, ApiError> { Ok(platform.sweep(today_cst())?) }).await;
        match swept {
            Ok(Ok(summary)) => tracing::info!(
                window_ended = summary.window_ended,
                removed = summary.removed,
                feed_end = summary.feed_end,
                "feed swept"
            ),
            Ok(Err(error)) => tracing::warn!(error = ?error, "feed sweep failed; the next one covers the days missed"),
            Err(error) => tracing::warn!(%error, "feed sweep task failed"),
        }
        if !evaluate {
            continue;
        }
        let platform = context.platform.clone();
        let evaluated = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
            Ok(platform.evaluate_changed(&credit_core::Actor::console(None), today_cst())?)
        })
        .await;
        match evaluated {
            Ok(Ok(run)) => tracing::info!(
                kind = run.kind,
                evaluated = run.evaluated,
                grade_changed = run.grade_changed,
                "evaluations brought up to date"
            ),
            Ok(Err(error)) => tracing::warn!(error = ?error, "evaluation run failed; the next sweep tries again"),
            Err(error) => tracing::warn!(%error, "evaluation task failed"),
        }
    }
}

/// Signs the audit log's head every `every` (when it moved), until aborted.
async fn checkpointing(
    store: Arc<Store<credit_core::engine::RocksEngine>>,
    key: Arc<credit_sign::SigningKey>,
    every: Duration,
) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        let (store, key) = (store.clone(), key.clone());
        match tokio::task::spawn_blocking(move || store.audit().checkpoint(&key)).await {
            Ok(Ok(Some(checkpoint))) => tracing::debug!(seq = checkpoint.seq, "audit log checkpointed"),
            Ok(Ok(None)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "audit checkpoint failed; the next one covers these entries"),
            Err(error) => tracing::warn!(%error, "audit checkpoint task failed"),
        }
    }
}
