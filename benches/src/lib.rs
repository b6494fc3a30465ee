//! Shared helpers for the benchmarks: a real RocksDB store with the demo data and one busy subject, and
//! the echo service that `credit-echo-server` serves and `credit-loadgen` calls.

use std::path::Path;

use credit_core::ident::Codebook;
use credit_core::import::{ImportKind, ImportOptions, ImportTables, Quiet, import_files};
use credit_core::store::Store;

/// The `credit.bench.v1` echo service: the bare-tonic ceiling the service's throughput is held against.
#[allow(missing_debug_implementations)]
pub mod echo {
    tonic::include_proto!("credit.bench.v1");
}

/// A subject with 90 penalties, 10 list entries and 3 related persons, one of whom is listed.
pub const BUSY: &str = "91350100M000100Y43";

/// Valid resident ID numbers: the check digit of GB 11643 appended to 17 digits.
fn resident_id(first17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17.chars().zip(WEIGHTS).map(|(c, w)| c.to_digit(10).expect("digit") * w).sum();
    format!("{first17}{}", ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize])
}

/// Imports `files` as one strict batch.
pub fn import(store: &Store<credit_core::engine::RocksEngine>, kind: ImportKind, files: &[std::path::PathBuf]) {
    let options = ImportOptions { strict: true, ..ImportOptions::new(kind, credit_core::time::today_cst()) };
    let summary = import_files(store, files, &options, ImportTables::builtin(), Codebook::builtin(), &mut Quiet)
        .expect("imports");
    assert_eq!(summary.rejected, 0, "{kind:?}");
}

/// A store in `dir` with the demo data and the busy subject.
pub fn store(dir: &Path) -> Store<credit_core::engine::RocksEngine> {
    let store = Store::open_dir(&dir.join("store")).expect("store opens");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo");
    import(&store, ImportKind::Subject, &[demo.join("persons.csv"), demo.join("subjects.csv")]);
    import(&store, ImportKind::Penalty, &[demo.join("penalties.csv")]);
    import(&store, ImportKind::List, &[demo.join("lists.csv")]);

    // The busy subject: 3 related persons, 90 penalties and 10 list entries; its controller is listed.
    let (rep, manager, controller) =
        (resident_id("35010219700101001"), resident_id("35010219800101002"), resident_id("35010219900101003"));
    let subjects = format!(
        "TYSHXYDM,JGMC,ZCDZXZQHDM,FDDBRXM,FDDBRZJHM,ZYGLRYXM,ZYGLRYZJHM,SJKZRXM,SJKZRZJHM\n\
         {BUSY},福州某某集团有限公司,350102,赵六,{rep},钱七,{manager},孙八,{controller}\n"
    );
    let mut penalties = String::from("CF_XDR_MC,CF_XDR_SHXYM,CF_WSH,CF_CFLB,CF_NR_FK,CF_JDRQ,CF_CFJG\n");
    for i in 0..90 {
        penalties.push_str(&format!(
            "福州某某集团有限公司,{BUSY},榕市监罚〔2024〕{i}号,罚款,1.5,2024-03-01,福州市市场监督管理局\n"
        ));
    }
    let mut lists = String::from("MD_LX,XDR_MC,XDR_SHXYM,XDR_ZJHM,RDBM,RDYJ,LRRQ,YCRQ\n");
    for i in 0..10 {
        let list_type = if i % 2 == 0 { "ABNORMAL_OPERATION" } else { "TAX_A_GRADE" };
        lists.push_str(&format!(
            "{list_type},福州某某集团有限公司,{BUSY},,某部门,文〔2024〕{i}号,2024-0{}-01,2027-01-01\n",
            i % 9 + 1
        ));
    }
    lists.push_str(&format!(
        "COURT_DISHONEST_DEBTOR,孙八,,{controller},福州市中级人民法院,（2024）闽01执1号,2024-01-01,2027-01-01\n"
    ));
    let files = dir.join("files");
    std::fs::create_dir_all(&files).expect("dir");
    for (name, text) in [("s.csv", subjects), ("p.csv", penalties), ("l.csv", lists)] {
        std::fs::write(files.join(name), text).expect("write");
    }
    import(&store, ImportKind::Subject, &[files.join("s.csv")]);
    import(&store, ImportKind::Penalty, &[files.join("p.csv")]);
    import(&store, ImportKind::List, &[files.join("l.csv")]);
    store
}

/// The first 1,000 demo organisations' unified codes.
pub fn demo_codes() -> Vec<String> {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/subjects.csv");
    let text = std::fs::read_to_string(demo).expect("demo subjects");
    text.lines().skip(1).take(1000).map(|l| l.split(',').next().unwrap_or("").to_string()).collect()
}
