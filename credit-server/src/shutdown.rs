//! Stopping in order: once the shutdown signal comes, health says NOT_SERVING, no new connections are
//! taken, feed streams and the sweep end; calls in flight finish (up to the grace period, after which open
//! connections are closed); then background tasks stop, work still on the blocking pool is waited for,
//! and the store is checkpointed, made durable and closed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use credit_core::engine::RocksEngine;
use credit_core::store::Store;
use tokio::sync::{oneshot, watch};

use crate::ServeError;
use crate::limits::Admission;
use crate::signing::Signing;
use crate::tasks::{self, Background};

/// What shutdown stops and closes, in its order.
pub(crate) struct Drain {
    pub grace: Duration,
    pub background: Background,
    pub admission: Admission,
    pub max_in_flight: usize,
    pub store: Arc<Store<RocksEngine>>,
    pub signing: Arc<Signing>,
}

/// The future the router stops accepting on: resolves once `shutdown` does, after telling health and
/// the streams (`stop`); and a receiver that learns when that happened.
pub(crate) fn signal(
    shutdown: impl Future<Output = ()> + Send + 'static,
    health: tonic_health::server::HealthReporter,
    stop: watch::Sender<bool>,
) -> (impl Future<Output = ()> + Send + 'static, oneshot::Receiver<()>) {
    let (begun, stop_begun) = oneshot::channel::<()>();
    let stopping = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, draining calls in flight");
        health.set_service_status("", tonic_health::ServingStatus::NotServing).await;
        // Feed streams and the sweep end now; calls in flight finish.
        let _ = stop.send(true);
        let _ = begun.send(());
    };
    (stopping, stop_begun)
}

/// Serves with `graceful` (the router's serve future, which ends once no call is left) until it ends
/// or the grace period after shutdown began is over, then drains and closes everything.
pub(crate) async fn serve_then_drain(
    graceful: impl Future<Output = Result<(), tonic::transport::Error>>,
    stop_begun: oneshot::Receiver<()>,
    drain: Drain,
) -> Result<(), ServeError> {
    let Drain { grace, mut background, admission, max_in_flight, store, signing } = drain;
    // A client that never closes its connection must not hold the shutdown forever.
    let grace_over = async {
        if stop_begun.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let served = tokio::select! {
        served = graceful => served,
        () = grace_over => {
            tracing::warn!(grace_seconds = grace.as_secs(), "connections still open after the grace period; closing");
            Ok(())
        }
    };
    background.stop_before_drain(grace).await;
    // Work on the blocking pool outlives abandoned calls; wait for it before closing the store.
    if !admission.drain(max_in_flight, grace).await {
        tracing::warn!(grace_seconds = grace.as_secs(), "calls still running after the grace period");
    }
    background.stop_after_drain();
    tokio::task::spawn_blocking(move || tasks::close(store, signing.key.as_deref())).await??;
    served?;
    Ok(())
}
