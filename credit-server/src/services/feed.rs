//! `credit.v1.FeedService`: the change feed as a stream, resumable from any sequence number.

use std::time::Duration;

use credit_proto::v1 as pb;
use credit_proto::v1::feed_service_server::FeedService;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use credit_core::audit::AuditEvent;
use credit_core::feed::FeedEvent;
use credit_core::ident::{IdKind, Identifier};

use super::{Context, actor, caller, purpose, require_regulator};
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
        require_regulator(&caller, "Follow")?;
        let purpose = purpose(&request, &request.get_ref().purpose);
        let message = request.into_inner();
        let unmasked = purpose.is_some();
        if let Some(purpose) = purpose {
            // Full ID numbers of natural persons: written down before any is sent.
            let event = AuditEvent::new(actor(&caller), "feed.follow")
                .purpose(Some(&purpose))
                .detail("from_seq", message.from_seq.max(1));
            self.context.blocking(move |context| context.audit(vec![event])).await?;
        }
        let (sender, receiver) = mpsc::channel(PAGE);
        let from = message.from_seq.max(1);
        tokio::spawn(follow(self.context.clone(), from, message.limit, unmasked, sender));
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

/// Sends committed events from `next` on until the client goes away, `limit` events were sent, or the
/// server stops (the stream then ends cleanly; the client resumes elsewhere or later).
async fn follow(
    context: Context,
    mut next: u64,
    limit: u64,
    unmasked: bool,
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
        let events = match context.blocking(move |context| Ok(context.store.feed(from, page)?)).await {
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
            let event = if unmasked { event } else { masked(event) };
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

/// The event with a natural person's ID number masked: any code that reads as a resident ID number
/// (organisation codes are public).
fn masked(mut event: FeedEvent) -> FeedEvent {
    if let Some(code) = &mut event.change.code {
        let personal = match Identifier::parse(code) {
            Ok(found) => {
                std::iter::once(&found.identifier).chain(&found.alternatives).any(|id| id.kind() == IdKind::Ric)
            }
            // Not a valid identifier: nothing says it is not someone's number.
            Err(_) => true,
        };
        if personal {
            *code = credit_core::privacy::mask_id_number(code);
        }
    }
    event
}
