//! Look a subject up as the public does: search by name, then read the subject and its public records.
//!
//! ```sh
//! credit-server serve --demo &                          # or `make demo`
//! cargo run -p credit-client --example look_up -- 127.0.0.1:50051 隆合餐饮
//! ```

use credit_client::{ClientConfig, CreditClient, proto};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "127.0.0.1:50051".into());
    let query = args.next().unwrap_or_else(|| "隆合餐饮".into());
    let client = CreditClient::connect(ClientConfig::new(endpoint)).await?;

    let found =
        client.search(proto::SearchRequest { query: query.clone(), page_size: 5, ..Default::default() }).await?;
    let Some(best) = found.hits.first() else {
        println!("nothing found for {query:?}");
        return Ok(());
    };
    println!("best hit: {} {} (score {:.2})", best.code, best.name, best.score);

    let subject =
        client.get_subject(proto::GetSubjectRequest { identifier: best.code.clone(), ..Default::default() }).await?;
    for record in &subject.records {
        println!("  {} {} {}", record.category, record.document_number, record.decision_date);
    }
    Ok(())
}
