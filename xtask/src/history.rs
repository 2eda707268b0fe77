//! `benches/history.jsonl`: one JSON line per recorded run of
//! `cargo xtask bench --record`, and the facts a record carries (date, commit,
//! machine, Go and Rust versions).
//!
//! A line looks like this (one line in the file):
//!
//! ```text
//! {"date":"2026-11-28T12:00:00Z","commit":"1525be3…","dirty":false,"mode":"full",
//!  "runs":5,"machine":{"cpu":"Intel(R) Xeon(R) Processor","cores":2,
//!  "kernel":"6.18.44"},"go":"go1.19.8","rustc":"rustc 1.95.0 (…)",
//!  "results":[{"workload":"spawn","system":"goro","n":1000000,
//!  "unit":"ns per goroutine","median_ns":244000000,"figure":244.0}, …]}
//! ```
//!
//! `figure` is the median per-operation figure in `unit` (lower is better);
//! the `hogs` workloads add `p99`, the median 99th-percentile tick lag, and
//! `idle-conns` adds `threads`, the median count of the process's threads.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::json::Json;

/// One recorded run.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub(crate) date: String,
    /// `git rev-parse HEAD`, and whether tracked files had changes.
    pub(crate) commit: String,
    pub(crate) dirty: bool,
    /// `--quick` sizes or the full ones: runs compare only within a mode.
    pub(crate) quick: bool,
    pub(crate) runs: usize,
    pub(crate) cpu: String,
    pub(crate) cores: u64,
    pub(crate) kernel: String,
    /// `go version`'s version, or `none`.
    pub(crate) go: String,
    pub(crate) rustc: String,
    pub(crate) results: Vec<Entry>,
}

/// One (workload, system) pair of a record.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) workload: String,
    pub(crate) system: String,
    pub(crate) n: u64,
    pub(crate) unit: String,
    /// Median wall time of one run of the binary's timed part.
    pub(crate) median_ns: u64,
    /// Median figure, in `unit`.
    pub(crate) figure: f64,
    /// Median second figure of the `hogs` workloads: the p99 tick lag.
    pub(crate) p99: Option<f64>,
    /// Median second figure of `idle-conns`: the process's threads.
    pub(crate) threads: Option<f64>,
}

impl Record {
    /// The entry of `(workload, system)`, if this run had it.
    pub(crate) fn entry(&self, workload: &str, system: &str) -> Option<&Entry> {
        self.results
            .iter()
            .find(|e| e.workload == workload && e.system == system)
    }

    /// goro's figure over Go's for `workload`, if this run had both.
    pub(crate) fn ratio_to_go(&self, workload: &str) -> Option<f64> {
        let goro = self.entry(workload, "goro")?.figure;
        let go = self.entry(workload, "go")?.figure;
        (go > 0.0).then(|| goro / go)
    }

    /// `2026-11-28 1525be3` (with `+` when the tree was dirty).
    pub(crate) fn label(&self) -> String {
        let date = self.date.get(..10).unwrap_or(&self.date);
        let commit = self.commit.get(..7).unwrap_or(&self.commit);
        format!("{date} {commit}{}", if self.dirty { "+" } else { "" })
    }

    fn to_json(&self) -> Json {
        let s = |s: &str| Json::Str(s.to_string());
        let results = self
            .results
            .iter()
            .map(|e| {
                let mut fields = vec![
                    ("workload".to_string(), s(&e.workload)),
                    ("system".into(), s(&e.system)),
                    ("n".into(), Json::Num(e.n as f64)),
                    ("unit".into(), s(&e.unit)),
                    ("median_ns".into(), Json::Num(e.median_ns as f64)),
                    ("figure".into(), Json::Num(round(e.figure))),
                ];
                if let Some(p99) = e.p99 {
                    fields.push(("p99".into(), Json::Num(round(p99))));
                }
                if let Some(threads) = e.threads {
                    fields.push(("threads".into(), Json::Num(round(threads))));
                }
                Json::Obj(fields)
            })
            .collect();
        Json::Obj(vec![
            ("date".into(), s(&self.date)),
            ("commit".into(), s(&self.commit)),
            ("dirty".into(), Json::Bool(self.dirty)),
            ("mode".into(), s(if self.quick { "quick" } else { "full" })),
            ("runs".into(), Json::Num(self.runs as f64)),
            (
                "machine".into(),
                Json::Obj(vec![
                    ("cpu".into(), s(&self.cpu)),
                    ("cores".into(), Json::Num(self.cores as f64)),
                    ("kernel".into(), s(&self.kernel)),
                ]),
            ),
            ("go".into(), s(&self.go)),
            ("rustc".into(), s(&self.rustc)),
            ("results".into(), Json::Arr(results)),
        ])
    }

    fn from_json(j: &Json) -> Option<Record> {
        let text = |j: &Json, key: &str| j.get(key).and_then(Json::as_str).map(str::to_string);
        let machine = j.get("machine")?;
        let results = j
            .get("results")?
            .as_array()?
            .iter()
            .map(|e| {
                Some(Entry {
                    workload: text(e, "workload")?,
                    system: text(e, "system")?,
                    n: e.get("n")?.as_u64()?,
                    unit: text(e, "unit").unwrap_or_default(),
                    median_ns: e.get("median_ns")?.as_u64()?,
                    figure: e.get("figure")?.as_f64()?,
                    p99: e.get("p99").and_then(Json::as_f64),
                    threads: e.get("threads").and_then(Json::as_f64),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Record {
            date: text(j, "date")?,
            commit: text(j, "commit")?,
            dirty: j.get("dirty").and_then(Json::as_bool).unwrap_or(false),
            quick: text(j, "mode")? == "quick",
            runs: j.get("runs")?.as_u64()? as usize,
            cpu: text(machine, "cpu").unwrap_or_default(),
            cores: machine.get("cores").and_then(Json::as_u64).unwrap_or(0),
            kernel: text(machine, "kernel").unwrap_or_default(),
            go: text(j, "go").unwrap_or_default(),
            rustc: text(j, "rustc").unwrap_or_default(),
            results,
        })
    }
}

/// Rounds a figure to 4 decimals, which is finer than any run's noise.
fn round(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Reads every record of the history file; none if it does not exist. A line
/// that is not a record is reported and skipped.
pub(crate) fn load(path: &Path) -> Vec<Record> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match Json::parse(line).map(|j| Record::from_json(&j)) {
            Ok(Some(record)) => records.push(record),
            Ok(None) => eprintln!("note: {}:{}: not a record, skipped", path.display(), i + 1),
            Err(e) => eprintln!("note: {}:{}: {e}, skipped", path.display(), i + 1),
        }
    }
    records
}

/// Appends `record` as one line.
pub(crate) fn append(path: &Path, record: &Record) -> Result<(), String> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    writeln!(file, "{}", record.to_json().to_line())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The machine: CPU model, CPUs available, kernel release.
pub(crate) fn machine() -> (String, u64, String) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| Some(l.strip_prefix("model name")?.split_once(':')?.1.trim()))
        .unwrap_or("unknown")
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get() as u64);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_string());
    (cpu, cores, kernel)
}

/// The output of `program args...`, trimmed, if it ran and succeeded.
fn output(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `HEAD`'s commit, and whether tracked files differ from it.
pub(crate) fn git_commit(root: &Path) -> (String, bool) {
    let commit = output("git", &["rev-parse", "HEAD"], root).unwrap_or_else(|| "unknown".into());
    let dirty = output(
        "git",
        &["status", "--porcelain", "--untracked-files=no"],
        root,
    )
    .is_some_and(|s| !s.is_empty());
    (commit, dirty)
}

/// `go1.19.8`, or `none` without Go.
pub(crate) fn go_version(root: &Path) -> String {
    output("go", &["version"], root)
        .and_then(|v| v.split_whitespace().nth(2).map(str::to_string))
        .unwrap_or_else(|| "none".into())
}

/// `rustc --version`.
pub(crate) fn rustc_version(root: &Path) -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    output(&rustc, &["--version"], root).unwrap_or_else(|| "unknown".into())
}

/// Now, in UTC: `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_785), (2026, 11, 28));
    }

    #[test]
    fn record_round_trip() {
        let record = Record {
            date: "2026-11-28T12:00:00Z".into(),
            commit: "1525be3".into(),
            dirty: true,
            quick: false,
            runs: 5,
            cpu: "Intel(R) Xeon(R) Processor".into(),
            cores: 2,
            kernel: "6.18.44".into(),
            go: "go1.19.8".into(),
            rustc: "rustc 1.95.0".into(),
            results: vec![
                Entry {
                    workload: "spawn".into(),
                    system: "goro".into(),
                    n: 1_000_000,
                    unit: "ns per goroutine".into(),
                    median_ns: 244_000_000,
                    figure: 244.0,
                    p99: None,
                    threads: Some(5.0),
                },
                Entry {
                    workload: "spawn".into(),
                    system: "go".into(),
                    n: 1_000_000,
                    unit: "ns per goroutine".into(),
                    median_ns: 488_000_000,
                    figure: 488.0,
                    p99: Some(1.5),
                    threads: None,
                },
            ],
        };
        let line = record.to_json().to_line();
        let back = Record::from_json(&Json::parse(&line).unwrap()).unwrap();
        assert_eq!(back.to_json(), record.to_json());
        assert_eq!(back.ratio_to_go("spawn"), Some(0.5));
        assert_eq!(back.label(), "2026-11-28 1525be3+");
    }
}
