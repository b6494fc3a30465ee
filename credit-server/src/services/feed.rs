//! `credit.v1.FeedService`: the change feed as a stream, resumable from any sequence number.

use std::time::Duration;

use credit_proto::v1 as pb;
use credit_proto::v1::feed_service_server::FeedService;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use credit_core::platform::FeedAccess;

use super::{Context, caller, purpose};
use crate::convert;

/// Events read from the store per round trip to the blocking pool.
const PAGE: usize = 256;
/// How often a follower that has seen everything looks for new events.
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct FeedApi {
    pub context: Context,
}

#[tonic::async_trait]
impl FeedService for FeedApi {
    type FollowStream = ReceiverStream<Result<pb::FeedEvent, Status>>;

    async fn follow(&self, request: Request<pb::FollowRequest>) -> Result<Response<Self::FollowStream>, Status> {
        let caller = caller(&request)?;
        let purpose = purpose(&request, &request.get_ref().purpose);
        let message = request.into_inner();
        let from = message.from_seq.max(1);
        let access = self
            .context
            .blocking(move |context| Ok(context.platform.follow_feed(&caller.actor(), from, purpose.as_deref())?))
            .await?;
        let (sender, receiver) = mpsc::channel(PAGE);
        tokio::spawn(follow(self.context.clone(), from, message.limit, access, sender));
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

/// Sends committed events from `next` on until the client goes away, `limit` events were sent, or the
/// server stops (the stream then ends cleanly; the client resumes elsewhere or later).
async fn follow(
    context: Context,
    mut next: u64,
    limit: u64,
    access: FeedAccess,
    sender: mpsc::Sender<Result<pb::FeedEvent, Status>>,
) {
    let mut stopping = context.stopping.clone();
    let mut sent = 0u64;
    loop {
        if *stopping.borrow() {
            return;
        }
        let page = if limit == 0 { PAGE } else { PAGE.min((limit - sent) as usize) };
        let from = next;
        let events = match context.blocking(move |context| Ok(context.platform.feed_page(&access, from, page)?)).await {
            Ok(events) => events,
            Err(error) => {
                let _ = sender.send(Err(error.into())).await;
                return;
            }
        };
        if events.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(POLL) => continue,
                () = sender.closed() => return,
                _ = stopping.changed() => return,
            }
        }
        for event in events {
            next = event.sequence + 1;
            if sender.send(Ok(convert::feed_event(&event))).await.is_err() {
                return;
            }
            sent += 1;
            if limit > 0 && sent >= limit {
                return;
            }
        }
    }
}
