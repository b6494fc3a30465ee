//! Import behaviour on the in-memory engine; the RocksDB path is exercised by `credit-server`'s tests.

use std::path::PathBuf;

use chrono::NaiveDate;

use super::*;
use crate::engine::MemoryEngine;
use crate::model::{Procedure, RecordDetails, RecordStatus};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

struct Collect {
    rejects: Vec<Reject>,
    warnings: Vec<String>,
}

impl ImportObserver for Collect {
    fn reject(&mut self, reject: &Reject) {
        self.rejects.push(reject.clone());
    }
    fn warning(&mut self, _file: &str, _row: u64, message: &str) {
        self.warnings.push(message.to_string());
    }
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run(store: &Store<MemoryEngine>, kind: ImportKind, files: &[PathBuf], strict: bool) -> (ImportSummary, Collect) {
    let mut observer = Collect { rejects: Vec::new(), warnings: Vec::new() };
    let options = ImportOptions { strict, ..ImportOptions::new(kind, today()) };
    let summary =
        import_files(store, files, &options, ImportTables::builtin(), Codebook::builtin(), &mut observer).unwrap();
    (summary, observer)
}

fn store() -> Store<MemoryEngine> {
    Store::open(MemoryEngine::new()).unwrap()
}

const SUBJECTS: &str = "TYSHXYDM,JGMC,ZCDZXZQHDM,FDDBRXM,FDDBRZJHM,CLRQ,ZT,ZCZJ,NEW_COLUMN\n\
91110000600037341L,北京某某科技有限公司,110000,张三,11010519491231002X,2001-05-01,在业,100,kept\n\
92340602MA2PBMEM24,杜集区李记五金店,340602,李四,360426199101010071,2016/03/02,1,5,\n";

const PENALTIES: &str = "CF_XDR_MC,CF_XDR_SHXYM,CF_XDR_ZJHM,CF_WSH,CF_CFLB,CF_NR_FK,CF_JDRQ,CF_CFJG,CF_ZT\n\
北京某某科技有限公司,91110000600037341L,,京市监罚〔2024〕1号,警告；罚款,2.5,2024-03-01,北京市市场监督管理局,\n\
深圳市未知贸易有限公司,91440300568520498A,,深市监罚〔2024〕9号,罚款,1,2024年3月2日,深圳市市场监督管理局,\n\
张三,,11010519491231002X,京城管罚〔2024〕3号,罚款,0.05,20240305,北京市城市管理综合执法局,\n";

#[test]
fn subjects_records_and_idempotent_reimport() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    let subjects = write(&dir, "subjects.csv", SUBJECTS);
    let (s, o) = run(&store, ImportKind::Subject, std::slice::from_ref(&subjects), false);
    assert!(o.rejects.is_empty(), "{:?}", o.rejects);
    assert_eq!((s.rows, s.accepted, s.new_subjects), (2, 2, 2));
    assert_eq!(s.provisional_subjects, 2, "the legal representatives, as provisional persons");
    assert!(s.committed);

    let company = store.find_subject("91110000600037341L").unwrap().unwrap();
    assert_eq!(company.status.as_deref(), Some("存续"), "在业 maps to 存续");
    assert_eq!(company.attributes.get("NEW_COLUMN").map(String::as_str), Some("kept"), "unknown columns are kept");
    let rep = &company.related[0];
    let person = store.find_subject("11010519491231002x").unwrap().unwrap();
    assert_eq!(rep.subject, Some(person.id), "the legal representative links to the person's subject");
    assert!(person.provisional);
    assert_eq!(store.find_subject("600037341").unwrap().unwrap().id, company.id, "found by its organisation code too");

    let penalties = write(&dir, "penalties.csv", PENALTIES);
    let (p, o) = run(&store, ImportKind::Penalty, std::slice::from_ref(&penalties), false);
    assert!(o.rejects.is_empty(), "{:?}", o.rejects);
    assert_eq!((p.new_records, p.provisional_subjects), (3, 1), "the unknown Shenzhen company is provisional");
    let records = store.records_of(company.id, None).unwrap();
    assert_eq!(records.len(), 1);
    let RecordDetails::Penalty { penalty_types, fine, .. } = &records[0].current.content.details else { panic!() };
    assert_eq!(penalty_types, &["警告", "罚款"]);
    assert_eq!(fine.unwrap().to_string(), "2.5");
    assert_eq!(records[0].current.content.source_dept.as_deref(), Some("北京市市场监督管理局"), "authority as source");
    assert_eq!(store.records_of(person.id, None).unwrap().len(), 1, "the person's penalty links by ID number");

    let stats_before = store.stats(today()).unwrap();
    let (again, _) = run(&store, ImportKind::Penalty, std::slice::from_ref(&penalties), false);
    assert_eq!((again.new_records, again.new_versions, again.unchanged), (0, 0, 3));
    let (again, _) = run(&store, ImportKind::Subject, &[subjects], false);
    assert_eq!((again.new_subjects, again.updated_subjects, again.unchanged), (0, 0, 2));
    let stats_after = store.stats(today()).unwrap();
    assert_eq!(stats_before.records, stats_after.records);
    assert_eq!(stats_before.versions, stats_after.versions);
    assert_eq!(stats_before.subject_versions, stats_after.subject_versions);
}

#[test]
fn a_changed_row_is_a_new_version_and_the_old_one_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    let v1 = write(&dir, "v1.csv", PENALTIES);
    run(&store, ImportKind::Penalty, &[v1], false);
    let known_before_change = chrono::Utc::now();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let v2 = write(&dir, "v2.csv", &PENALTIES.replace(",2.5,", ",3.5,"));
    let (s, _) = run(&store, ImportKind::Penalty, &[v2], false);
    assert_eq!((s.new_records, s.new_versions, s.unchanged), (0, 1, 2));

    let company = store.find_subject("91110000600037341L").unwrap().unwrap();
    let now = store.records_of(company.id, None).unwrap();
    assert_eq!(now[0].versions, 2);
    let RecordDetails::Penalty { fine, .. } = &now[0].current.content.details else { panic!() };
    assert_eq!(fine.unwrap().to_string(), "3.5");
    let then = store.records_of(company.id, Some(known_before_change)).unwrap();
    let RecordDetails::Penalty { fine, .. } = &then[0].current.content.details else { panic!() };
    assert_eq!(fine.unwrap().to_string(), "2.5", "known-at shows what the platform knew then");
    let history = store.record_history(now[0].id).unwrap();
    assert_eq!(history.len(), 2);
    assert_ne!(history[0].hash, history[1].hash);
    assert!(history[0].recorded_at < history[1].recorded_at);
}

#[test]
fn bad_rows_are_rejected_with_row_column_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    let text = "CF_XDR_MC,CF_XDR_SHXYM,CF_WSH,CF_JDRQ,CF_NR_FK,CF_CFLB\n\
甲公司,91110000600037341N,罚〔2024〕1号,2024-03-01,1,罚款\n\
乙公司,91110000600037341L,罚〔2024〕2号,2019-02-30,1,罚款\n\
丙公司,91110000600037341L,,2024-03-01,1,罚款\n\
丁公司,,罚〔2024〕4号,2024-03-01,1,罚款\n\
戊公司,91110000600037341L,罚〔2024〕5号,2024-03-01,一万,罚款\n\
己公司,91110000600037341L,罚〔2024〕6号,2024-03-01,1,神秘处罚\n";
    let path = write(&dir, "bad.csv", text);
    let (s, o) = run(&store, ImportKind::Penalty, &[path], false);
    assert_eq!((s.rows, s.accepted, s.rejected), (6, 1, 5));
    let by_row: Vec<(u64, Option<&str>, &str)> =
        o.rejects.iter().map(|r| (r.row, r.column.as_deref(), r.reason.as_str())).collect();
    assert_eq!(by_row[0].0, 2);
    assert_eq!(by_row[0].1, Some("CF_XDR_SHXYM"));
    assert!(by_row[0].2.contains("check character: expected L, found N"), "{}", by_row[0].2);
    assert_eq!(by_row[1].1, Some("CF_JDRQ"));
    assert!(by_row[1].2.contains("not a calendar date"));
    assert_eq!((by_row[2].1, by_row[2].2), (Some("CF_WSH"), "required decision document number is missing"));
    assert_eq!(by_row[3].1, None);
    assert!(by_row[3].2.starts_with("no identifier"));
    assert_eq!(by_row[4].1, Some("CF_NR_FK"));
    assert_eq!(o.rejects[0].original[0], ("CF_XDR_MC".to_string(), "甲公司".to_string()));
    assert_eq!(s.warnings, 1, "an unknown penalty type is a warning, not a rejection");
    assert!(o.warnings[0].contains("神秘处罚"));
}

#[test]
fn strict_imports_are_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    let text = format!("{PENALTIES}乙公司,91110000600037341L,罚〔2024〕2号,,,,2019-02-30,,\n");
    let path = write(&dir, "mixed.csv", &text);
    let (s, _) = run(&store, ImportKind::Penalty, std::slice::from_ref(&path), true);
    assert!(!s.committed);
    assert_eq!((s.rejected, s.new_records), (1, 0));
    let stats = store.stats(today()).unwrap();
    assert_eq!((stats.records, stats.subjects), (0, 0), "nothing landed");
    let (s, _) = run(&store, ImportKind::Penalty, &[path], false);
    assert!(s.committed);
    assert_eq!(s.new_records, 3);
}

#[test]
fn a_later_subject_row_completes_a_provisional_subject_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    run(&store, ImportKind::Penalty, &[write(&dir, "p.csv", PENALTIES)], false);
    let provisional = store.find_subject("91440300568520498A").unwrap().unwrap();
    assert!(provisional.provisional);
    // The Beijing company, the Shenzhen company and the person: nothing was known before.
    assert_eq!(store.stats(today()).unwrap().provisional_subjects, 3);

    let row = "TYSHXYDM,JGMC,ZCDZ\n91440300568520498A,深圳市未知贸易有限公司,深圳市南山区科技园路1号\n";
    let (s, _) = run(&store, ImportKind::Subject, &[write(&dir, "s.csv", row)], false);
    assert_eq!((s.new_subjects, s.updated_subjects), (0, 1));
    // The first read left the provisional state in the subject cache; the import must have emptied it.
    let completed = store.find_subject("91440300568520498A").unwrap().unwrap();
    assert_eq!(completed.id, provisional.id, "same subject, completed in place");
    assert!(!completed.provisional);
    assert_eq!(store.records_of(completed.id, None).unwrap().len(), 1, "its records stay linked");
    assert_eq!(store.stats(today()).unwrap().provisional_subjects, 2);
    assert_eq!(store.subject_history(completed.id).unwrap().len(), 2, "history keeps the provisional state");
}

#[test]
fn natural_persons_link_by_id_number_never_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    let text = "CF_XDR_MC,CF_XDR_ZJHM,CF_WSH,CF_JDRQ\n\
张三,11010519491231002X,罚〔2024〕1号,2024-03-01\n\
张三,360426199101010071,罚〔2024〕2号,2024-03-02\n";
    run(&store, ImportKind::Penalty, &[write(&dir, "p.csv", text)], false);
    let a = store.find_subject("11010519491231002X").unwrap().unwrap();
    let b = store.find_subject("360426199101010071").unwrap().unwrap();
    assert_ne!(a.id, b.id, "two people called 张三 stay two people");
}

#[test]
fn records_without_a_known_code_link_by_exact_name_within_the_division() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    run(&store, ImportKind::Subject, &[write(&dir, "s.csv", SUBJECTS)], false);
    // Only a tax number the store has never seen, and a division: the name decides.
    let text = "CF_XDR_MC,CF_XDR_SWDJ,DFBM,CF_WSH,CF_JDRQ\n北京某某科技有限公司,110105600037341,110000,税罚〔2024〕1号,2024-03-01\n";
    let (s, _) = run(&store, ImportKind::Penalty, &[write(&dir, "p.csv", text)], false);
    assert_eq!(s.provisional_subjects, 0);
    let company = store.find_subject("91110000600037341L").unwrap().unwrap();
    assert_eq!(store.records_of(company.id, None).unwrap().len(), 1);
}

#[test]
fn list_entries_both_spellings_and_removal() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    let text = "MD_LX,XDR_MC,XDR_SHXYM,XDR_ZJHM,RDBM,LRRQ,YCRQ,ZT\n\
失信被执行人,张三,,11010519491231002X,北京市朝阳区人民法院,2024-01-01,2026-01-01,有效\n\
ABNORMAL_OPERATION,北京某某科技有限公司,91110000600037341L,,北京市市场监督管理局,2023-01-01,2024-06-01,已移出\n\
NEW_LIST,北京某某科技有限公司,91110000600037341L,,某部门,2023-01-01,,有效\n";
    let (s, o) = run(&store, ImportKind::List, &[write(&dir, "l.csv", text)], false);
    assert!(o.rejects.is_empty(), "{:?}", o.rejects);
    assert_eq!(s.new_records, 3);
    assert_eq!(s.warnings, 1, "an unknown list type is kept with a warning");
    let person = store.find_subject("11010519491231002X").unwrap().unwrap();
    let entry = &store.records_of(person.id, None).unwrap()[0].current.content;
    let RecordDetails::ListEntry { list_type, .. } = &entry.details else { panic!() };
    assert_eq!(list_type, "COURT_DISHONEST_DEBTOR");
    assert!(entry.in_force_on(NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()));
    assert!(!entry.in_force_on(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()));
    let company = store.find_subject("91110000600037341L").unwrap().unwrap();
    let removed = store
        .records_of(company.id, None)
        .unwrap()
        .into_iter()
        .find(|r| matches!(&r.current.content.details, RecordDetails::ListEntry { list_type, .. } if list_type == "ABNORMAL_OPERATION"))
        .unwrap();
    assert_eq!(removed.current.content.status, RecordStatus::Removed);
    assert!(!removed.current.content.in_force_on(NaiveDate::from_ymd_opt(2024, 7, 1).unwrap()));
    assert!(removed.current.content.in_force_on(NaiveDate::from_ymd_opt(2024, 5, 1).unwrap()));
    assert_eq!(store.stats(NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()).unwrap().list_entries_active, 2);
}

#[test]
fn demo_fixtures_import_in_both_vintages_and_encodings() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo");
    let store = store();
    let (persons, o) = run(&store, ImportKind::Subject, &[demo.join("persons.csv")], false);
    assert_eq!(persons.rejected, 0, "{:?}", o.rejects.first());
    let (subjects, o) = run(&store, ImportKind::Subject, &[demo.join("subjects.csv")], false);
    assert_eq!(subjects.rejected, 0, "{:?}", o.rejects.first());
    assert_eq!(subjects.provisional_subjects, 0, "legal representatives are persons of the data");
    let (p2019, o) = run(&store, ImportKind::Penalty, &[demo.join("penalties.csv")], false);
    assert_eq!(p2019.rejected, 0, "{:?}", o.rejects.first());
    let (p2016, o) = run(&store, ImportKind::Penalty, &[demo.join("penalties_2016_gb18030.csv")], false);
    assert_eq!(p2016.rejected, 0, "{:?}", o.rejects.first());
    assert!(p2016.new_records > 50);
    assert_eq!(p2016.provisional_subjects, 0, "2016-era rows find their subjects");
    let (licences, o) =
        run(&store, ImportKind::Licence, &[demo.join("licences.csv"), demo.join("licences_health.jsonl")], false);
    assert_eq!(licences.rejected, 0, "{:?}", o.rejects.first());
    let (lists, o) = run(&store, ImportKind::List, &[demo.join("lists.csv")], false);
    assert_eq!(lists.rejected, 0, "{:?}", o.rejects.first());

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo.join("manifest.json")).unwrap()).unwrap();
    let stats = store.stats(today()).unwrap();
    assert_eq!(stats.subjects, manifest["subjects"].as_u64().unwrap());
    assert_eq!(stats.records, manifest["records"].as_u64().unwrap(), "every record row is one record");
    assert_eq!(stats.provisional_subjects, 0);

    // Every record of every kind reads the same from the `current` family (MessagePack) as from the
    // `versions` family (JSON, the history path).
    let far_future = Some(chrono::Utc::now() + chrono::Duration::days(1));
    let mut read = 0;
    store
        .scan_subjects(&mut |subject| {
            let current = store.records_of(subject.id, None).unwrap();
            assert_eq!(current, store.records_of(subject.id, far_future).unwrap(), "{}", subject.id);
            // The lookup's one seek: the subject kept beside its records, and the same records.
            let page = store.current_page(subject.id).unwrap().expect("a page");
            assert_eq!(page.subject, subject);
            assert_eq!(page.records.decode().unwrap(), current);
            read += current.len();
            true
        })
        .unwrap();
    assert_eq!(read as u64, stats.records);
}

#[test]
fn joint_check_indexes_follow_imports_and_the_schema_1_migration_rebuilds_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    run(&store, ImportKind::Subject, &[write(&dir, "s.csv", SUBJECTS)], false);
    let lists = "MD_LX,XDR_MC,XDR_SHXYM,XDR_ZJHM,RDBM,LRRQ,ZT\n\
失信被执行人,张三,,11010519491231002X,北京市朝阳区人民法院,2024-01-01,有效\n\
ABNORMAL_OPERATION,北京某某科技有限公司,91110000600037341L,,北京市市场监督管理局,2023-01-01,有效\n";
    run(&store, ImportKind::List, &[write(&dir, "l.csv", lists)], false);
    let company = store.find_subject_id("91110000600037341L").unwrap().unwrap();
    let person = store.find_subject_id("11010519491231002X").unwrap().unwrap();
    assert_eq!(
        store.organisations_of(person).unwrap(),
        vec![(company, crate::model::RelatedRole::LegalRepresentative)]
    );
    let entries = store.list_entries_of(company).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].list_type, "ABNORMAL_OPERATION");
    assert_eq!(store.list_entries_of(person).unwrap()[0].list_type, "COURT_DISHONEST_DEBTOR");

    // A new version of the entry (removed from the list) replaces the indexed one.
    let removed = lists.replace("2023-01-01,有效", "2023-01-01,已移出");
    run(&store, ImportKind::List, &[write(&dir, "l2.csv", &removed)], false);
    let entries = store.list_entries_of(company).unwrap();
    assert_eq!((entries[0].version, entries[0].status), (2, RecordStatus::Removed));

    // A new legal representative moves the link.
    let other_rep = SUBJECTS.replace("张三,11010519491231002X", "王五,110105194912310038");
    run(&store, ImportKind::Subject, &[write(&dir, "s2.csv", &other_rep)], false);
    assert!(store.organisations_of(person).unwrap().is_empty());
    let new_rep = store.find_subject_id("110105194912310038").unwrap().unwrap();
    assert_eq!(store.organisations_of(new_rep).unwrap().len(), 1);

    // A store written by schema 1 had neither index: opening it builds both.
    let expected = (store.list_entries_of(company).unwrap(), store.organisations_of(new_rep).unwrap());
    let engine = store.into_engine();
    let mut v1 = crate::engine::WriteBatch::new();
    for cf in [crate::engine::Cf::ListEntries, crate::engine::Cf::Related] {
        for (key, _) in crate::engine::collect_prefix(&engine, cf, b"").unwrap() {
            v1.delete(cf, key);
        }
    }
    v1.put(crate::engine::Cf::Meta, crate::store::keys::SCHEMA_VERSION, "1");
    engine.write(v1).unwrap();
    let reopened = Store::open(engine).unwrap();
    assert_eq!((reopened.list_entries_of(company).unwrap(), reopened.organisations_of(new_rep).unwrap()), expected);
    assert_eq!(reopened.stats(today()).unwrap().schema_version, crate::store::SCHEMA_VERSION);
}

fn run_with(
    store: &Store<MemoryEngine>,
    kind: ImportKind,
    files: &[PathBuf],
    dept: &str,
    registration: bool,
) -> (ImportSummary, Collect) {
    let mut observer = Collect { rejects: Vec::new(), warnings: Vec::new() };
    let options = ImportOptions {
        kind,
        source_dept: Some(dept.into()),
        only_dept: Some(dept.into()),
        registration,
        strict: false,
        today: today(),
        at: chrono::Utc::now(),
    };
    let summary =
        import_files(store, files, &options, ImportTables::builtin(), Codebook::builtin(), &mut observer).unwrap();
    (summary, observer)
}

#[test]
fn only_registration_departments_change_subjects_and_records_belong_to_their_department() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    run(&store, ImportKind::Subject, &[write(&dir, "s.csv", SUBJECTS)], false);
    let company = store.find_subject_id("91110000600037341L").unwrap().unwrap();
    let before = store.subject(company).unwrap();

    // Another department's subject file: the known subject refused by row and reason, nothing changes.
    let changed = SUBJECTS.replace("张三,11010519491231002X", "王五,110105194912310038");
    let (summary, seen) =
        run_with(&store, ImportKind::Subject, &[write(&dir, "s2.csv", &changed)], "区农业农村局", false);
    assert_eq!((summary.accepted, summary.rejected), (0, 2), "{:?}", seen.rejects);
    assert_eq!((seen.rejects[0].row, seen.rejects[0].column.as_deref()), (2, Some("source_dept")));
    assert_eq!(store.subject(company).unwrap(), before);
    assert!(store.find_subject_id("110105194912310038").unwrap().is_none(), "no person made for the refused row");
    // A subject nobody registered yet: provisional.
    let new = "TYSHXYDM,JGMC\n91310115MA1K3BTP2B,上海某某农业合作社\n";
    let (summary, _) = run_with(&store, ImportKind::Subject, &[write(&dir, "s3.csv", new)], "区农业农村局", false);
    assert_eq!((summary.provisional_subjects, summary.new_subjects), (1, 0));
    let id = store.find_subject_id("91310115MA1K3BTP2B").unwrap().unwrap();
    assert!(store.subject(id).unwrap().unwrap().provisional);

    // The same document from two departments is two records; each department's re-delivery changes its own.
    let penalty = "CF_XDR_MC,CF_XDR_SHXYM,CF_WSH,CF_CFLB,CF_NR_FK,CF_JDRQ,CF_CFJG,CF_ZT\n\
                   北京某某科技有限公司,91110000600037341L,京市监罚〔2024〕1号,罚款,2.5,2024-03-01,北京市市场监督管理局,\n";
    let (first, _) = run_with(&store, ImportKind::Penalty, &[write(&dir, "p1.csv", penalty)], "市场监管局", true);
    let (other, _) = run_with(&store, ImportKind::Penalty, &[write(&dir, "p2.csv", penalty)], "区农业农村局", false);
    assert_eq!((first.new_records, other.new_records), (1, 1));
    let revoked = penalty.replace("北京市市场监督管理局,", "北京市市场监督管理局,已撤销");
    let (again, _) = run_with(&store, ImportKind::Penalty, &[write(&dir, "p3.csv", &revoked)], "区农业农村局", false);
    assert_eq!((again.new_records, again.new_versions), (0, 1));
    let records = store.records_of(company, None).unwrap();
    let by_dept: Vec<(Option<&str>, u32)> =
        records.iter().map(|r| (r.current.content.source_dept.as_deref(), r.current.version)).collect();
    assert!(by_dept.contains(&(Some("市场监管局"), 1)), "the first department's record is untouched: {by_dept:?}");
    assert!(by_dept.contains(&(Some("区农业农村局"), 2)), "{by_dept:?}");
}

#[test]
fn a_panic_inside_a_batch_rolls_it_back_at_once() {
    let store = store();
    let before = store.counters().unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut guard = store.begin_batch("subject", Vec::new(), None, chrono::Utc::now()).unwrap();
        let id = guard.next_subject_id();
        let subject = crate::model::Subject::provisional(
            id,
            crate::model::SubjectType::Enterprise,
            "半途而废有限公司",
            Vec::new(),
            None,
        );
        guard.put_subject(&subject, None).unwrap();
        panic!("a bug in the middle of a batch");
    }));
    assert!(panicked.is_err());
    // In this process, before any reopen: nothing of the batch, and the next batch's ids are free.
    assert_eq!(store.counters().unwrap(), before);
    assert!(store.subject(crate::model::SubjectId(1)).unwrap().is_none());
    let dir = tempfile::tempdir().unwrap();
    let (summary, _) = run(&store, ImportKind::Subject, &[write(&dir, "s.csv", SUBJECTS)], false);
    assert!(summary.committed);
    let reopened = Store::open(store.into_engine()).unwrap();
    assert_eq!(reopened.counters().unwrap().subjects, 4, "two organisations and their two representatives");
}

#[test]
fn record_keys_of_schema_5_gain_their_department() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    run(&store, ImportKind::Subject, &[write(&dir, "s.csv", SUBJECTS)], false);
    let penalties = write(&dir, "p.csv", PENALTIES);
    run(&store, ImportKind::Penalty, std::slice::from_ref(&penalties), false);
    // Back to schema 5's keys: natural key and subject, no department.
    use crate::engine::{Cf, WriteBatch};
    let engine = store.into_engine();
    let mut old = WriteBatch::new();
    for (key, value) in crate::engine::collect_prefix(&engine, Cf::RecordKeys, b"").unwrap() {
        let id = crate::model::RecordId(crate::store::keys::u64_at(&value, 0).unwrap());
        let mut head: crate::model::RecordHead =
            crate::store::from_json(&engine.get(Cf::Records, &crate::store::keys::record(id)).unwrap().unwrap())
                .unwrap();
        let (five, _dept) = head.key.rsplit_once('|').unwrap();
        head.key = five.to_string();
        old.delete(Cf::RecordKeys, key);
        old.put(Cf::RecordKeys, head.key.clone().into_bytes(), value);
        old.put(Cf::Records, crate::store::keys::record(id), crate::store::to_json(&head));
    }
    old.put(Cf::Meta, crate::store::keys::SCHEMA_VERSION, "5");
    engine.write(old).unwrap();
    let reopened = Store::open(engine).unwrap();
    // The same file again finds every record under its new key: nothing new.
    let (again, _) = run(&reopened, ImportKind::Penalty, &[penalties], false);
    assert_eq!((again.new_records, again.new_versions, again.unchanged), (0, 0, 3));
    let keys = crate::engine::collect_prefix(reopened.engine(), Cf::RecordKeys, b"").unwrap();
    assert!(
        keys.iter()
            .all(|(k, _)| String::from_utf8_lossy(k).ends_with("执法局")
                || String::from_utf8_lossy(k).ends_with("管理局")),
        "{keys:?}"
    );
}

#[test]
fn a_store_of_schema_6_gains_each_subjects_current_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    run(&store, ImportKind::Subject, &[write(&dir, "s.csv", SUBJECTS)], false);
    run(&store, ImportKind::Penalty, &[write(&dir, "p.csv", PENALTIES)], false);
    let subjects: Vec<crate::model::SubjectId> = {
        let mut ids = Vec::new();
        store
            .scan_subjects(&mut |s| {
                ids.push(s.id);
                true
            })
            .unwrap();
        ids
    };
    let now = |store: &Store<_>| -> Vec<Vec<crate::store::RecordView>> {
        subjects.iter().map(|id| store.records_of(*id, None).unwrap()).collect()
    };
    let before = now(&store);
    assert!(before.iter().map(Vec::len).sum::<usize>() >= 3, "{before:?}");
    // Schema 6 had no `current` family: empty it and go back.
    use crate::engine::{Cf, WriteBatch};
    let engine = store.into_engine();
    let mut old = WriteBatch::new();
    for (key, _) in crate::engine::collect_prefix(&engine, Cf::Current, b"").unwrap() {
        old.delete(Cf::Current, key);
    }
    old.put(Cf::Meta, crate::store::keys::SCHEMA_VERSION, "6");
    engine.write(old).unwrap();
    // Read from `current` alone: without the migration every subject would have no record now.
    let reopened = Store::open(engine).unwrap();
    assert_eq!(now(&reopened), before);
    let far_future = Some(chrono::Utc::now() + chrono::Duration::days(1));
    for id in &subjects {
        assert_eq!(reopened.records_of(*id, None).unwrap(), reopened.records_of(*id, far_future).unwrap());
        // Such a store has no subject beside the records: the page reads it from `subjects`.
        let page = reopened.current_page(*id).unwrap().expect("a page");
        assert_eq!(Some(page.subject), reopened.subject(*id).unwrap());
        assert_eq!(page.records.decode().unwrap(), reopened.records_of(*id, None).unwrap());
    }
    assert!(reopened.current_page(crate::model::SubjectId(u64::MAX)).unwrap().is_none());
}

#[test]
fn the_same_batches_in_the_same_order_make_the_same_store() {
    // What a replica needs: a batch's writes depend on what it is given (rows, clock) and on the store.
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (ImportKind::Subject, write(&dir, "s.csv", SUBJECTS)),
        (ImportKind::Penalty, write(&dir, "p.csv", PENALTIES)),
        (ImportKind::Penalty, write(&dir, "p2.csv", &PENALTIES.replace("警告", "罚款"))),
    ];
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-30T08:00:00+08:00").unwrap().to_utc();
    let replay = || {
        let store = store();
        for (n, (kind, file)) in files.iter().enumerate() {
            let options =
                ImportOptions { at: at + chrono::Duration::seconds(n as i64), ..ImportOptions::new(*kind, today()) };
            let mut observer = Collect { rejects: Vec::new(), warnings: Vec::new() };
            let files = std::slice::from_ref(file);
            import_files(&store, files, &options, ImportTables::builtin(), Codebook::builtin(), &mut observer).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let engine = store.into_engine();
        crate::engine::Cf::ALL
            .iter()
            .map(|cf| (cf.name(), crate::engine::collect_prefix(&engine, *cf, b"").unwrap()))
            .collect::<Vec<_>>()
    };
    let (first, second) = (replay(), replay());
    let feed = first.iter().find(|(name, _)| *name == "feed").unwrap();
    assert!(!feed.1.is_empty(), "the batches wrote feed events");
    for ((name, a), (_, b)) in first.iter().zip(&second) {
        assert!(a == b, "family {name} differs between two replays of the same batches");
    }
}

mod fuzz {
    //! Random and mutated rows of every kind through the whole import: no panic, no error, and a batch
    //! whose rows were all rejected leaves the store as it was.
    use proptest::prelude::*;

    use super::*;

    /// Columns every kind knows, some it does not, and values of every shape files carry.
    const COLUMNS: &[&str] = &[
        "TYSHXYDM",
        "JGMC",
        "ZCDZXZQHDM",
        "FDDBRXM",
        "FDDBRZJLX",
        "FDDBRZJHM",
        "CLRQ",
        "ZT",
        "ZCZJ",
        "SFGK",
        "CF_XDR_MC",
        "CF_XDR_SHXYM",
        "CF_XDR_ZJHM",
        "CF_WSH",
        "CF_CFLB",
        "CF_NR_FK",
        "CF_JDRQ",
        "CF_CFJG",
        "CF_CFJGDM",
        "CF_ZT",
        "CF_SJLY",
        "XK_XDR_MC",
        "XK_WSH",
        "XK_JDRQ",
        "XK_YXQZ",
        "XK_YXQZI",
        "MD_LX",
        "XDR_MC",
        "XDR_ZJHM",
        "LRRQ",
        "YCRQ",
        "RDBM",
        "RDBMDM",
        "ZJLX",
        "ZJHM",
        "XM",
        "UNKNOWN_COLUMN",
    ];
    const VALUES: &[&str] = &[
        "91110000600037341L",
        "11010519491231002X",
        "110105491231002",
        "a张张张张张xx",
        "张张张张张张",
        "2024-03-01",
        "2024年13月45日",
        "99999999999999",
        "0",
        "-1",
        "1e309",
        "NaN",
        "有效",
        "已移出",
        "否",
        "COURT_DISHONEST_DEBTOR",
        "罚款；警告",
        "　",
        "\u{0}",
        "𠀀𠀀",
        "",
    ];

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![proptest::sample::select(VALUES).prop_map(str::to_string), "[0-9A-Za-z]{0,20}", "\\PC{0,12}",]
    }

    fn file() -> impl Strategy<Value = String> {
        (proptest::sample::subsequence(COLUMNS, 1..8), 1usize..5).prop_flat_map(|(columns, rows)| {
            let width = columns.len();
            proptest::collection::vec(proptest::collection::vec(value(), width), rows).prop_map(move |rows| {
                let quote = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
                let mut text = columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(",");
                for row in rows {
                    text.push('\n');
                    text.push_str(&row.iter().map(|v| quote(v)).collect::<Vec<_>>().join(","));
                }
                text
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn any_rows_of_any_kind_import_without_panic(text in file(), kind in 0usize..4, registration: bool) {
            let dir = tempfile::tempdir().unwrap();
            let store = store();
            run(&store, ImportKind::Subject, &[write(&dir, "base.csv", SUBJECTS)], false);
            let before = store.counters().unwrap();
            let kind = ImportKind::ALL[kind];
            let mut observer = Collect { rejects: Vec::new(), warnings: Vec::new() };
            let options = ImportOptions {
                kind,
                source_dept: Some("区农业农村局".into()),
                only_dept: None,
                registration,
                strict: false,
                today: today(),
                at: chrono::Utc::now(),
            };
            let file = write(&dir, "fuzz.csv", &text);
            let summary = import_files(&store, &[file], &options, ImportTables::builtin(), Codebook::builtin(), &mut observer);
            let summary = summary.unwrap();
            prop_assert_eq!(summary.rows, summary.accepted + summary.rejected);
            if summary.accepted == 0 {
                prop_assert_eq!(store.counters().unwrap(), before, "rejected rows change nothing");
            }
        }
    }
}

#[test]
fn report_numbers_come_in_synced_blocks_and_never_twice() {
    let store = store();
    let first: Vec<u64> = (0..3).map(|_| store.next_report_sequence().unwrap()).collect();
    assert_eq!(first, [1, 2, 3]);
    // Reopened (as after a crash): the rest of the block is skipped, nothing is handed out again.
    let reopened = Store::open(store.into_engine()).unwrap();
    let next = reopened.next_report_sequence().unwrap();
    assert_eq!(next, 1 + crate::store::REPORT_BLOCK);
    let many: Vec<u64> =
        (0..2 * crate::store::REPORT_BLOCK).map(|_| reopened.next_report_sequence().unwrap()).collect();
    assert!(many.windows(2).all(|w| w[1] == w[0] + 1), "consecutive within and across blocks");
}

#[test]
fn the_procedure_is_read_from_either_vintage_and_an_unknown_value_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let store = store();
    // The 2019 vintage, then the 2016 one (CF_CFMC, CF_XDR_ZDM, CF_XZJG), each with a procedure column.
    let newer = "CF_XDR_MC,CF_XDR_SHXYM,CF_WSH,CF_JDRQ,CF_CFLB,处罚程序\n\
甲公司,91110000600037341L,罚〔2026〕1号,2026-05-01,警告,简易程序\n\
甲公司,91110000600037341L,罚〔2026〕2号,2026-05-02,罚款,一般程序\n\
甲公司,91110000600037341L,罚〔2026〕3号,2026-05-03,罚款,听证程序\n";
    let older = "CF_CFMC,CF_XDR_MC,CF_XDR_SHXYM,CF_WSH,CF_JDRQ,CF_CFLB1,CF_XZJG,PROCEDURE\n\
行政处罚决定书,甲公司,91110000600037341L,罚〔2016〕9号,2016-05-01,罚款,某局,当场处罚\n";
    for (name, text, warnings) in [("newer.csv", newer, 1), ("older.csv", older, 0)] {
        let path = write(&dir, name, text);
        let (s, o) = run(&store, ImportKind::Penalty, &[path], false);
        assert_eq!((s.rejected, s.warnings), (0, warnings), "{name}: {:?}", o.warnings);
        assert!(o.warnings.iter().all(|w| w.contains("听证程序")), "{:?}", o.warnings);
    }
    let subject = store.find_subject_id("91110000600037341L").unwrap().unwrap();
    let mut procedures: Vec<(String, Option<Procedure>)> = store
        .records_of(subject, None)
        .unwrap()
        .into_iter()
        .map(|r| match r.current.content.details {
            RecordDetails::Penalty { procedure, .. } => (r.current.content.document_number.unwrap(), procedure),
            _ => unreachable!("penalties only"),
        })
        .collect();
    procedures.sort();
    assert_eq!(
        procedures,
        vec![
            ("罚〔2016〕9号".to_string(), Some(Procedure::Simple)),
            ("罚〔2026〕1号".to_string(), Some(Procedure::Simple)),
            ("罚〔2026〕2号".to_string(), Some(Procedure::Ordinary)),
            ("罚〔2026〕3号".to_string(), None),
        ]
    );
}
