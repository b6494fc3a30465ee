//! The calls a workload makes, and the subjects it draws them from.

use std::path::Path;

use anyhow::{Context, Result, bail};
use credit_benches::echo::EchoRequest;
use credit_benches::echo::echo_service_client::EchoServiceClient;
use credit_proto::v1 as pb;
use credit_proto::v1::evaluation_service_client::EvaluationServiceClient;
use credit_proto::v1::joint_check_service_client::JointCheckServiceClient;
use credit_proto::v1::report_service_client::ReportServiceClient;
use credit_proto::v1::search_service_client::SearchServiceClient;
use credit_proto::v1::statistics_service_client::StatisticsServiceClient;
use credit_proto::v1::subject_service_client::SubjectServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The organisations of the committed demo fixtures: the default pool.
const DEMO_SUBJECTS: &str = include_str!("../../../../fixtures/demo/subjects.csv");

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// `SubjectService.GetSubject` of a random organisation (public view without a token).
    GetSubject,
    /// `SearchService.Search`, top 10: whole names, partial names and code prefixes, in turn.
    Search,
    /// `JointCheckService.Check` of a random organisation (regulator token; each check is recorded).
    Check,
    /// `JointCheckService.BatchCheck` of `--batch-size` random organisations.
    BatchCheck,
    /// `ReportService.GetReport`: a signed report of a random organisation.
    Report,
    /// `EvaluationService.GetEvaluation` of a random organisation (computed from its current records).
    GetEvaluation,
    /// `StatisticsService.GetCreditStatistics`: the credit map of a random organisation's province, by
    /// county (the statistics the last evaluation run kept).
    Statistics,
    /// `credit.bench.v1.EchoService.Echo` on `credit-echo-server`: the ceiling.
    Echo,
    /// `grpc.health.v1.Health.Check`: OK once the server reports SERVING (a readiness probe).
    Health,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::GetSubject => "get-subject",
            Workload::Search => "search",
            Workload::Check => "check",
            Workload::BatchCheck => "batch-check",
            Workload::Report => "report",
            Workload::GetEvaluation => "get-evaluation",
            Workload::Statistics => "statistics",
            Workload::Echo => "echo",
            Workload::Health => "health",
        }
    }
}

/// Unified codes and names to draw requests from.
#[derive(Debug)]
pub struct Pool {
    codes: Vec<String>,
    names: Vec<String>,
}

impl Pool {
    /// The demo fixtures compiled in, or `DIR/subjects.csv` of a generated dataset (`credit-fixtures`).
    pub fn load(dataset: Option<&Path>) -> Result<Pool> {
        match dataset {
            None => Pool::from_csv(DEMO_SUBJECTS.as_bytes(), "the demo fixtures"),
            Some(dir) => {
                let path = dir.join("subjects.csv");
                let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
                Pool::from_csv(std::io::BufReader::new(file), &path.display().to_string())
            }
        }
    }

    fn from_csv(reader: impl std::io::Read, source: &str) -> Result<Pool> {
        let mut csv = csv::Reader::from_reader(reader);
        let headers = csv.headers().with_context(|| format!("{source}: reading the header"))?.clone();
        let column = |name: &str| {
            headers.iter().position(|h| h.trim_start_matches('\u{feff}') == name).with_context(|| {
                format!("{source}: no column {name} (a subjects file of credit-fixtures has TYSHXYDM and JGMC)")
            })
        };
        let (code, name) = (column("TYSHXYDM")?, column("JGMC")?);
        let mut pool = Pool { codes: Vec::new(), names: Vec::new() };
        for (row, record) in csv.records().enumerate() {
            let record = record.with_context(|| format!("{source}: row {}", row + 2))?;
            if let (Some(c), Some(n)) = (record.get(code), record.get(name))
                && !c.is_empty()
                && !n.is_empty()
            {
                pool.codes.push(c.to_string());
                pool.names.push(n.to_string());
            }
        }
        if pool.codes.is_empty() {
            bail!("{source}: no subject with a unified code and a name");
        }
        Ok(pool)
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    fn code(&self, draw: u64) -> &str {
        &self.codes[(draw % self.codes.len() as u64) as usize]
    }

    /// A whole name, a partial one (a few characters after the place name) or a code prefix, in turn.
    fn query(&self, draw: u64) -> String {
        let i = (draw % self.names.len() as u64) as usize;
        match draw % 3 {
            0 => self.names[i].clone(),
            1 => partial_name(&self.names[i]),
            _ => self.codes[i].chars().take(12).collect(),
        }
    }
}

/// `唐山市荣远房地产开发有限公司` → `荣远房地`: what someone who half remembers a company types.
fn partial_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    // Place names lead: 唐山市…, 天水市秦安县…; each is two to four characters ending in 市, 县 or 区.
    let mut start = 0;
    while let Some(end) = chars[start..].iter().take(4).skip(1).position(|c| matches!(c, '市' | '县' | '区')) {
        start += end + 2;
    }
    let partial: String = chars[start..].iter().take(4).collect();
    if partial.chars().count() < 2 { chars.iter().take(4).collect() } else { partial }
}

/// One connection's clients and the settings every call carries.
#[derive(Debug, Clone)]
pub struct Caller {
    pub channel: Channel,
    pub authorization: Option<MetadataValue<Ascii>>,
    pub workload: Workload,
    pub item: String,
    pub department: String,
    pub batch_size: usize,
    pub payload: Vec<u8>,
    pub timeout: std::time::Duration,
    pub omit_json: bool,
}

impl Caller {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        if let Some(value) = &self.authorization {
            request.metadata_mut().insert("authorization", value.clone());
        }
        request
    }

    fn check(&self, pool: &Pool, draw: u64) -> pb::CheckRequest {
        pb::CheckRequest {
            identifier: pool.code(draw).to_string(),
            item: self.item.clone(),
            as_of: String::new(),
            department: self.department.clone(),
            omit_json: self.omit_json,
        }
    }

    /// Makes one call; the status code it ended with.
    pub async fn call(&self, pool: &Pool, draw: u64) -> tonic::Code {
        let channel = self.channel.clone();
        let outcome = match self.workload {
            Workload::GetSubject => {
                let message = pb::GetSubjectRequest {
                    identifier: pool.code(draw).to_string(),
                    omit_json: self.omit_json,
                    ..Default::default()
                };
                SubjectServiceClient::new(channel).get_subject(self.request(message)).await.map(drop)
            }
            Workload::Search => {
                let message = pb::SearchRequest { query: pool.query(draw), page_size: 10, ..Default::default() };
                SearchServiceClient::new(channel).search(self.request(message)).await.map(drop)
            }
            Workload::Check => {
                JointCheckServiceClient::new(channel).check(self.request(self.check(pool, draw))).await.map(drop)
            }
            Workload::BatchCheck => {
                let checks = (0..self.batch_size as u64).map(|i| self.check(pool, mix(draw, i))).collect();
                let message = pb::BatchCheckRequest { checks };
                JointCheckServiceClient::new(channel).batch_check(self.request(message)).await.map(drop)
            }
            Workload::Report => {
                let message = pb::GetReportRequest { identifier: pool.code(draw).to_string(), ..Default::default() };
                ReportServiceClient::new(channel).get_report(self.request(message)).await.map(drop)
            }
            Workload::GetEvaluation => {
                let message =
                    pb::GetEvaluationRequest { identifier: pool.code(draw).to_string(), as_of: String::new() };
                EvaluationServiceClient::new(channel).get_evaluation(self.request(message)).await.map(drop)
            }
            Workload::Statistics => {
                // A unified code's characters 3-4 are its province (GB 32100: the division from character 3);
                // codes delivered in full-width digits give theirs in ASCII.
                let province: String = pool.code(draw).chars().skip(2).take(2).map(ascii_digit).collect();
                let message = pb::GetCreditStatisticsRequest {
                    division: province,
                    by: "division".into(),
                    level: 6,
                    ..Default::default()
                };
                StatisticsServiceClient::new(channel).get_credit_statistics(self.request(message)).await.map(drop)
            }
            Workload::Echo => {
                let message = EchoRequest { payload: self.payload.clone() };
                EchoServiceClient::new(channel).echo(self.request(message)).await.map(drop)
            }
            Workload::Health => {
                let message = tonic_health::pb::HealthCheckRequest { service: String::new() };
                match HealthClient::new(channel).check(self.request(message)).await {
                    Ok(response) if response.get_ref().status == ServingStatus::Serving as i32 => Ok(()),
                    Ok(_) => Err(tonic::Status::unavailable("not serving")),
                    Err(status) => Err(status),
                }
            }
        };
        match outcome {
            Ok(()) => tonic::Code::Ok,
            Err(status) => status.code(),
        }
    }
}

/// `０`…`９` as `0`…`9`; anything else as it is.
fn ascii_digit(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')).unwrap_or(c),
        _ => c,
    }
}

/// A well-spread draw from a counter (splitmix64): requests cover the pool without a shared generator.
pub fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_pool_has_every_organisation() {
        let pool = Pool::load(None).expect("demo pool");
        assert!(pool.len() > 1000, "{}", pool.len());
        assert!(pool.codes.iter().all(|c| c.chars().count() == 18), "full-width codes stay as delivered");
    }

    #[test]
    fn queries_mix_names_partial_names_and_code_prefixes() {
        assert_eq!(partial_name("唐山市荣远房地产开发有限公司"), "荣远房地");
        assert_eq!(partial_name("天水市秦安县悦金汽车销售有限公司"), "悦金汽车");
        assert_eq!(partial_name("北京某某超市有限公司"), "北京某某");
        assert_eq!(partial_name("某某公司"), "某某公司");
        let pool = Pool::from_csv("TYSHXYDM,JGMC\n91130272867247399R,唐山市荣远房地产开发有限公司\n".as_bytes(), "t")
            .expect("pool");
        assert_eq!(pool.query(0), "唐山市荣远房地产开发有限公司");
        assert_eq!(pool.query(1), "荣远房地");
        assert_eq!(pool.query(2), "911302728672");
    }

    #[test]
    fn a_file_without_the_columns_is_refused_by_name() {
        let error = Pool::from_csv("A,B\n1,2\n".as_bytes(), "x.csv").expect_err("no columns");
        assert!(error.to_string().contains("no column TYSHXYDM"), "{error}");
    }

    #[test]
    fn full_width_digits_become_ascii() {
        let province: String = "９１３２０１".chars().skip(2).take(2).map(ascii_digit).collect();
        assert_eq!(province, "32");
        assert_eq!(ascii_digit('M'), 'M');
    }

    #[test]
    fn draws_spread_over_the_pool() {
        let hits: std::collections::HashSet<u64> = (0..1000).map(|i| mix(7, i) % 100).collect();
        assert!(hits.len() > 90);
    }
}
