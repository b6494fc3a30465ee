//! What an approval system does before it decides: check the applicant for the approval item, apply
//! the measures, and report back what it did (regulator key).
//!
//! ```sh
//! credit-server serve --demo --data-dir /tmp/credit-demo &
//! CREDIT_TOKEN=$(cat /tmp/credit-demo/demo-token) \
//!   cargo run -p credit-client --example check_and_feedback -- 127.0.0.1:50051 91140302749578410B GOV_PROCUREMENT 市财政局
//! ```

use credit_client::{ClientConfig, CreditClient, proto};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "127.0.0.1:50051".into());
    let identifier = args.next().unwrap_or_else(|| "91140302749578410B".into());
    let item = args.next().unwrap_or_else(|| "GOV_PROCUREMENT".into());
    // The department that decides (a key bound to a department may leave this out).
    let department = args.next().unwrap_or_else(|| "市财政局".into());
    let mut config = ClientConfig::new(endpoint);
    config.token = std::env::var("CREDIT_TOKEN").ok();
    let client = CreditClient::connect(config).await?;

    let request =
        proto::CheckRequest { identifier, item: item.clone(), department: department.clone(), ..Default::default() };
    let result = client.check(request).await?;
    println!("check {}: {} ({})", result.check_id, result.verdict, result.reasons.join("; "));
    for measure in &result.measures {
        println!("  measure {}: {}", measure.measure_id, measure.text);
        let feedback = proto::SubmitFeedbackRequest {
            check_id: result.check_id,
            measure_id: measure.measure_id.clone(),
            outcome: "applied".into(),
            reason: "applied in the approval decision".into(),
            item: item.clone(),
            department: department.clone(),
            ..Default::default()
        };
        let stored = client.submit_feedback(feedback).await?;
        println!("  feedback recorded: {stored:?}");
    }
    Ok(())
}
