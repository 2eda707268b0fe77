//! The docs name each item by its own crate (issue 19, "Docs"): a layer
//! crate's doc comments use its own crate and the layers below it by their
//! own names (`goro_sched::go`, `goro_chan::bounded`), never a path through
//! a re-export (`goro_sync::chan::sched::go`); the facade's docs use
//! `goro::` paths only. This test reads every doc comment of the workspace
//! and fails on such a path.

use std::fs;
use std::path::{Path, PathBuf};

/// Each layer crate's re-export of the layer below it.
const REEXPORTS: &[(&str, &str)] = &[
    ("goro_patterns", "sync"),
    ("goro_sync", "chan"),
    ("goro_chan", "sched"),
    ("goro_sched", "fiber"),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The problems of one doc-comment line of a file of crate `krate`.
fn problems(krate: &str, line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (owner, alias) in REEXPORTS {
        let through = format!("{owner}::{alias}");
        // `goro_sync::chan::...` or `goro_sync::chan` as a whole path.
        for (i, _) in line.match_indices(&through) {
            let before = line[..i].chars().next_back();
            let after = line[i + through.len()..].chars().next();
            let word_start = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
            let word_end = !after.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if word_start && word_end {
                found.push(format!("a path through a re-export: `{through}`"));
            }
        }
    }
    if krate == "goro" {
        for lower in [
            "goro_fiber",
            "goro_sched",
            "goro_chan",
            "goro_sync",
            "goro_patterns",
        ] {
            if line.contains(&format!("{lower}::")) {
                found.push(format!("the facade's docs name `{lower}::` (use `goro::`)"));
            }
        }
    }
    found
}

#[test]
fn doc_comments_name_items_by_their_own_crate() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut failures = Vec::new();
    let mut lines_read = 0;
    for krate in ["fiber", "sched", "chan", "sync", "patterns", "net", "goro"] {
        let mut files = Vec::new();
        sources(&crates.join(krate).join("src"), &mut files);
        let name = if krate == "goro" {
            "goro".to_owned()
        } else {
            format!("goro_{krate}")
        };
        for file in files {
            let text = fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let doc = line.trim_start();
                if !(doc.starts_with("///") || doc.starts_with("//!")) {
                    continue;
                }
                lines_read += 1;
                let krate = if name == "goro" { "goro" } else { &name };
                for p in problems(krate, doc) {
                    failures.push(format!("{}:{}: {p}\n    {doc}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        lines_read > 1000,
        "read {lines_read} doc lines: wrong directory?"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_check_finds_what_it_looks_for() {
    assert_eq!(
        problems(
            "goro_patterns",
            "/// use goro_patterns::sync::chan::sched::go;"
        )
        .len(),
        1
    );
    assert_eq!(
        problems("goro_sync", "/// [`Receiver`]: goro_sync::chan::Receiver").len(),
        1
    );
    assert!(
        problems(
            "goro_sync",
            "/// use goro_sync::Mutex; use goro_chan::bounded;"
        )
        .is_empty()
    );
    assert!(problems("goro_chan", "/// goro_chan::scheduler_of_sorts").is_empty());
    assert_eq!(problems("goro", "//! use goro_chan::bounded;").len(), 1);
    assert!(problems("goro", "//! use goro::chan::bounded;").is_empty());
}
