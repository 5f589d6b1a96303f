//! End-to-end tests live in `tests/`; this crate has no library code. The one unit
//! test here keeps the test tiers honest: every end-to-end file must sit behind the
//! `e2e` feature, or a plain `cargo test` on a laptop would run (and fail) it.

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// A file in `tests/tests/` missing from Cargo.toml's `[[test]]` list would be
    /// auto-discovered without `required-features` and run in the quick tier.
    #[test]
    fn tier_lists_every_test_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
        let manifest: toml::Table = manifest.parse().expect("Cargo.toml parses");
        let listed: Vec<(String, Vec<String>)> = manifest["test"]
            .as_array()
            .expect("[[test]] entries")
            .iter()
            .map(|t| {
                let name = t["name"].as_str().expect("name").to_owned();
                let features = t
                    .get("required-features")
                    .and_then(|f| f.as_array())
                    .map(|f| {
                        f.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                (name, features)
            })
            .collect();
        let mut files: Vec<String> = std::fs::read_dir(root.join("tests"))
            .expect("tests/")
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".rs").map(str::to_owned)
            })
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no end-to-end test files found");
        for file in &files {
            let entry = listed.iter().find(|(n, _)| n == file);
            assert!(
                entry.is_some_and(|(_, f)| f.iter().any(|f| f == "e2e")),
                "tests/tests/{file}.rs needs a [[test]] entry with required-features = [\"e2e\"] in tests/Cargo.toml"
            );
        }
    }
}
