//! `credit-server search` and `reindex` on the demo data: a store filled by `import` alone.

use serde_json::Value;

use crate::commands::{last_json, load_demo, run};

fn search(data: &str, args: &[&str]) -> (i32, Vec<Value>) {
    let mut all = vec!["search", "--data-dir", data, "--json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let hits = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    (out.status.code().unwrap(), hits)
}

#[test]
fn search_catches_up_on_open_ranks_and_masks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    load_demo(&data);
    let data = data.to_str().unwrap();

    // Traditional characters, full-width digits, pinyin: the same company first.
    for query in ["唐山市榮遠房地產開發有限公司", "９１１３０２７２８６７２４７３９９Ｒ", "rongyuan fangdichan"]
    {
        let (code, hits) = search(data, &["--limit", "3", query]);
        assert_eq!(code, 0);
        assert_eq!(hits[0]["code"], "91130272867247399R", "{query}: {hits:?}");
        assert_eq!(hits[0]["type"], "enterprise");
        assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
        assert!(hits.len() <= 3);
    }
    // A person by full ID number: masked in every field.
    let (_, hits) = search(data, &["540121199905180960"]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["code"], "540121********0960");
    assert_eq!(hits[0]["name"], "张**");

    // A place and a brand in pinyin: every part matched; a part nothing matches: partial hits, flagged.
    let (_, hits) = search(data, &["唐山", "rongyuan"]);
    assert_eq!(hits[0]["code"], "91130272867247399R", "{hits:?}");
    assert!(hits.iter().all(|h| h.get("partial").is_none()), "{hits:?}");
    let (_, hits) = search(data, &["唐山", "rongyuan", "qqqzzzxx"]);
    assert_eq!(hits[0]["partial"], true, "{hits:?}");
    // Nothing found: the nearest names by pinyin, on stderr beside an empty stdout.
    let out = run(&["search", "--data-dir", data, "--json", "tangshanshirongyuamfangdichan"]);
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean: 唐山市荣远房地产开发有限公司"));
    let out = run(&["search", "--data-dir", data, "tangshanshirongyuamfangdichan"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("did you mean: 唐山市荣远房地产开发有限公司"));

    // Filters and usage errors.
    let (code, hits) = search(data, &["--division", "1302", "--limit", "50", "房地产"]);
    assert_eq!(code, 0);
    assert!(hits.iter().all(|h| h["division"].as_str().unwrap().starts_with("1302")));
    assert_eq!(search(data, &["--type", "spaceship", "x"]).0, 2);
    assert_eq!(search(data, &["--cursor", "nonsense", "x"]).0, 2);

    // Rebuilt from scratch, the index answers the same.
    let out = run(&["reindex", "--data-dir", data]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = last_json(&out);
    assert_eq!(summary["subjects_indexed"], 2000);
    let (_, hits) = search(data, &["rongyuan fangdichan"]);
    assert_eq!(hits[0]["code"], "91130272867247399R");
}

#[test]
fn an_import_with_index_leaves_the_rows_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = crate::commands::demo();
    let (persons, subjects) = (d.join("persons.csv"), d.join("subjects.csv"));
    let args = ["import", "--data-dir", data.to_str().unwrap(), "--kind", "subject", "--index"];
    let out = run(&[&args[..], &[persons.to_str().unwrap(), subjects.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(last_json(&out)["committed"], true);
    // Without `--index` the command leaves no index (the server or `search` builds it when they open).
    assert!(data.join("search").join("meta.json").is_file(), "the index was written by the import");
    let (code, hits) = search(data.to_str().unwrap(), &["--limit", "3", "rongyuan fangdichan"]);
    assert_eq!(code, 0);
    assert_eq!(hits[0]["code"], "91130272867247399R");

    let plain = dir.path().join("plain");
    let args = ["import", "--data-dir", plain.to_str().unwrap(), "--kind", "subject"];
    let out = run(&[&args[..], &[subjects.to_str().unwrap()]].concat());
    assert!(out.status.success());
    assert!(!plain.join("search").exists());
}
