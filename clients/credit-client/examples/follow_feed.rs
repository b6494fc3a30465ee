//! What an implementing department runs to learn at once when a subject is listed or leaves a list:
//! follow the change feed, resuming after the last event seen (regulator key). Stop with Ctrl-C, or
//! give a number of events to end after.
//!
//! ```sh
//! CREDIT_TOKEN=$(cat /tmp/credit-demo/demo-token) \
//!   cargo run -p credit-client --example follow_feed -- 127.0.0.1:50051 1 20
//! ```

use credit_client::{ClientConfig, CreditClient};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "127.0.0.1:50051".into());
    let from: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);
    let limit: Option<u64> = args.next().map(|a| a.parse()).transpose()?;
    let mut config = ClientConfig::new(endpoint);
    config.token = std::env::var("CREDIT_TOKEN").ok();
    let client = CreditClient::connect(config).await?;

    // A dropped connection or a restarting server is retried; the follower resumes after the last event.
    let mut follower = client.follow_feed(from);
    let mut seen = 0;
    while let Some(event) = follower.next().await {
        let event = event?;
        println!("{:>8} {:<12} {} record {} {}", event.seq, event.kind, event.code, event.record_id, event.effective);
        seen += 1;
        if limit.is_some_and(|limit| seen >= limit) {
            break;
        }
    }
    Ok(())
}
