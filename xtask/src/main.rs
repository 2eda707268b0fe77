//! Project tasks, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! `cargo xtask bench` builds the side-by-side binaries of `goro-benches`,
//! runs every workload on every system several times, alternating systems so
//! machine drift hits all alike, checks that all systems agree on the
//! checksum, compares goro with the last recorded run, and prints one table
//! of medians, spreads, goro's ratios and DESIGN.md's goals. `--record`
//! appends the run to `benches/history.jsonl` and redraws
//! `benches/history.svg`; `--micro` runs the criterion benchmarks instead.

mod chart;
mod history;
mod json;
mod table;
mod workloads;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use history::{Entry, Record};
use workloads::{Measure, SYSTEMS, System, WORKLOADS, Workload};

/// Why a task failed: bad usage (exit 2) or a failed step (exit 1).
#[derive(Debug)]
enum Failure {
    Usage(String),
    Error(String),
}

/// The history file and its chart, relative to the workspace root.
const HISTORY: &str = "benches/history.jsonl";
const CHART: &str = "benches/history.svg";

/// A regression is a figure (or ratio) more than this much above the last
/// recorded one.
const REGRESSION: f64 = 0.10;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench(&args[1..]),
        Some("chart") if args.len() == 1 => chart(),
        Some("chart") => Err(Failure::Usage("chart takes no flags".into())),
        Some("help" | "--help" | "-h") => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(Failure::Usage(format!("unknown task `{other}`"))),
        None => Err(Failure::Usage("no task given".into())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprint!("error: {msg}\n\n{}", usage());
            ExitCode::from(2)
        }
        Err(Failure::Error(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ sits in the workspace root")
}

/// The `--help` text, listing the tasks, flags, workloads and systems.
fn usage() -> String {
    let mut s = String::from(
        "usage: cargo xtask <task> [flags]\n\n\
         tasks:\n  \
           bench            build goro-benches, run goro and its peers side by side\n  \
           chart            redraw benches/history.svg from benches/history.jsonl\n  \
           help             print this message\n\n\
         bench flags:\n  \
           --quick          small n and 1 run (a smoke test)\n  \
           --runs N         runs per (workload, system) pair (default 7; --quick: 1)\n  \
           --workload NAME  only this workload (repeatable)\n  \
           --system NAME    only this system (repeatable)\n  \
           --record         append the run to benches/history.jsonl, redraw the chart\n  \
           --check          exit 1 if goro regressed over 10% against the last\n                   \
                            recorded run of the same mode (quick or full)\n  \
           --micro          run the criterion micro-benchmarks instead\n                   \
                            (cargo bench -p goro-benches --benches; with --quick,\n                   \
                            criterion's --quick; arguments after -- go to criterion)\n\n\
         workloads:\n",
    );
    for w in WORKLOADS {
        s += &format!(
            "  {:<16} {} (systems: {})\n",
            w.name,
            w.about,
            w.systems.join(", ")
        );
    }
    let names: Vec<_> = SYSTEMS.iter().map(|s| s.name).collect();
    s + &format!("systems: {}\n", names.join(", "))
}

/// One workload as run: what each of its systems measured.
#[derive(Debug)]
struct Row {
    workload: &'static Workload,
    /// The size passed to most systems (the workload's own).
    n: u64,
    cells: Vec<Cell>,
    /// goro's figure, and its ratio to Go, in the last recorded run of the
    /// same mode that had this workload at the same size.
    last: Option<Last>,
}

/// What the last recorded run said of a workload.
#[derive(Debug)]
struct Last {
    /// `date commit` of that run.
    label: String,
    goro: f64,
    ratio_to_go: Option<f64>,
}

/// One (workload, system) pair as run.
#[derive(Debug)]
struct Cell {
    system: &'static System,
    binary: PathBuf,
    /// The size passed to the binary.
    n: u64,
    /// The figure of each run, in run order.
    figures: Vec<f64>,
    /// The second figure of each run (the p99 tick lag, the threads), where
    /// there is one.
    seconds: Vec<f64>,
    /// Nanoseconds of each run's timed part.
    elapsed: Vec<f64>,
    checksum: Option<u64>,
}

impl Row {
    /// The cell of the system named `name`, if it ran this workload.
    fn cell(&self, name: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.system.name == name)
    }

    /// goro's median figure over `peer`'s, if both ran.
    fn ratio(&self, peer: &str) -> Option<f64> {
        let goro = self.cell("goro")?.median();
        let peer = self.cell(peer)?.median();
        (peer > 0.0).then(|| goro / peer)
    }

    /// goro's figure against the last recorded one, as a fraction of it
    /// (`0.12`: 12% higher).
    fn change(&self) -> Option<f64> {
        let last = self.last.as_ref()?;
        let now = self.cell("goro")?.median();
        (last.goro > 0.0).then(|| now / last.goro - 1.0)
    }

    /// goro's ratio to Go against the last recorded one, as a fraction.
    fn ratio_change(&self) -> Option<f64> {
        let last = self.last.as_ref()?.ratio_to_go?;
        Some(self.ratio("go")? / last - 1.0)
    }
}

/// The median of non-empty `xs`.
fn median(xs: &[f64]) -> f64 {
    let mut xs = xs.to_vec();
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    }
}

impl Cell {
    /// The median figure; `figures` is non-empty.
    fn median(&self) -> f64 {
        median(&self.figures)
    }

    /// The median second figure, if the workload has one.
    fn second(&self) -> Option<f64> {
        (!self.seconds.is_empty()).then(|| median(&self.seconds))
    }
}

/// Parsed `cargo xtask bench` flags.
#[derive(Debug, Default)]
struct Flags {
    quick: bool,
    runs: Option<usize>,
    workloads: Vec<String>,
    systems: Vec<String>,
    record: bool,
    check: bool,
    micro: bool,
    /// Arguments after `--`, for criterion.
    rest: Vec<String>,
}

fn parse_flags(args: &[String]) -> Result<Option<Flags>, Failure> {
    let mut f = Flags::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| Failure::Usage(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--quick" => f.quick = true,
            "--runs" => match value()?.parse::<usize>() {
                Ok(r) if r > 0 => f.runs = Some(r),
                _ => return Err(Failure::Usage("--runs needs a positive integer".into())),
            },
            "--workload" => f.workloads.push(value()?.clone()),
            "--system" => f.systems.push(value()?.clone()),
            "--record" => f.record = true,
            "--check" => f.check = true,
            "--micro" => f.micro = true,
            "--" => {
                f.rest = args.cloned().collect();
                break;
            }
            "-h" | "--help" => {
                print!("{}", usage());
                return Ok(None);
            }
            other => return Err(Failure::Usage(format!("unknown flag `{other}`"))),
        }
    }
    if let Some(w) = f
        .workloads
        .iter()
        .find(|w| !WORKLOADS.iter().any(|x| x.name == *w))
    {
        return Err(Failure::Usage(format!("unknown workload `{w}`")));
    }
    if let Some(s) = f
        .systems
        .iter()
        .find(|s| !SYSTEMS.iter().any(|x| x.name == *s))
    {
        return Err(Failure::Usage(format!("unknown system `{s}`")));
    }
    let side_by_side =
        f.runs.is_some() || f.record || f.check || !f.workloads.is_empty() || !f.systems.is_empty();
    if f.micro && side_by_side {
        return Err(Failure::Usage(
            "--micro takes only --quick and criterion's arguments after --".into(),
        ));
    }
    if !f.micro && !f.rest.is_empty() {
        return Err(Failure::Usage(
            "arguments after -- are for criterion (--micro)".into(),
        ));
    }
    Ok(Some(f))
}

/// `cargo xtask bench`: see the module docs.
fn bench(args: &[String]) -> Result<(), Failure> {
    let Some(flags) = parse_flags(args)? else {
        return Ok(());
    };
    let root = root();
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    if flags.micro {
        return micro(root, &cargo, &flags);
    }
    let quick = flags.quick;
    let runs = flags.runs.unwrap_or(if quick { 1 } else { 7 });
    let picked = |only: &[String], name: &str| only.is_empty() || only.iter().any(|o| o == name);

    eprintln!("building: {cargo} build --release -p goro-benches --bins");
    let status = Command::new(&cargo)
        .args(["build", "--release", "-p", "goro-benches", "--bins"])
        .current_dir(root)
        .status()
        .map_err(|e| Failure::Error(format!("cannot run {cargo}: {e}")))?;
    if !status.success() {
        return Err(Failure::Error(format!(
            "building goro-benches failed ({status})"
        )));
    }
    let bin_dir = env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("release");
    let go_missing = build_go(root, &bin_dir);

    // The last recorded run of this mode with each workload, for comparison.
    let records = history::load(&root.join(HISTORY));

    // Plan the pairs; skip (with a note) systems whose binary is missing.
    let mut rows = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    for workload in WORKLOADS
        .iter()
        .filter(|w| picked(&flags.workloads, w.name))
    {
        let mut cells = Vec::new();
        let wanted =
            |s: &&System| workload.systems.contains(&s.name) && picked(&flags.systems, s.name);
        for system in SYSTEMS.iter().filter(wanted) {
            let binary = bin_dir.join(system.binary);
            if binary.is_file() {
                cells.push(Cell {
                    system,
                    binary,
                    n: workload.n_for(system.name, quick),
                    figures: Vec::new(),
                    seconds: Vec::new(),
                    elapsed: Vec::new(),
                    checksum: None,
                });
            } else if system.name == "go" {
                if let Some(why) = &go_missing
                    && !skipped.iter().any(|s| s.starts_with("go column"))
                {
                    skipped.push(format!("go column skipped: {why}"));
                }
            } else {
                let (w, s, b) = (workload.name, system.name, binary.display());
                skipped.push(format!("{s} in {w} skipped: {b} is missing"));
            }
        }
        for (system, why) in workload.skips {
            if picked(&flags.systems, system) {
                skipped.push(format!("{system} in {} skipped: {why}", workload.name));
            }
        }
        if !cells.is_empty() {
            let n = if quick { workload.quick_n } else { workload.n };
            let last = last_recorded(&records, quick, workload.name, n);
            rows.push(Row {
                workload,
                n,
                cells,
                last,
            });
        }
    }
    if rows.is_empty() {
        return Err(Failure::Error("nothing to run".into()));
    }

    // Run the systems of each workload alternately: A B A B ...
    let start = Instant::now();
    let pairs: usize = rows.iter().map(|r| r.cells.len()).sum::<usize>() * runs;
    let mut done = 0;
    for row in &mut rows {
        let w = row.workload;
        for run in 1..=runs {
            for cell in &mut row.cells {
                done += 1;
                let secs = start.elapsed().as_secs_f64();
                eprint!(
                    "[{secs:>7.1}s {done:>3}/{pairs}] {}/{} run {run}/{runs} ... ",
                    w.name, cell.system.name
                );
                let out = run_once(&cell.binary, cell.system.env, w.name, cell.n)?;
                let (figure, second) = figures(w, cell.n, &out).ok_or_else(|| {
                    Failure::Error(format!(
                        "{}/{}: missing fields in {out:?}",
                        w.name, cell.system.name
                    ))
                })?;
                match (w.measure, second) {
                    (Measure::Lag, Some(p99)) => eprintln!(
                        "worst {} ms, p99 {} ms",
                        table::num(figure),
                        table::num(p99)
                    ),
                    (Measure::KibEachThreads, Some(threads)) => eprintln!(
                        "{} KiB per connection, {threads} threads",
                        table::num(figure)
                    ),
                    (Measure::PerRequest, _) => eprintln!(
                        "{} ns per request ({} requests/s)",
                        table::num(figure),
                        table::num(1e9 / figure)
                    ),
                    _ => eprintln!("{} {}", table::num(figure), w.unit),
                }
                cell.figures.push(figure);
                cell.seconds.extend(second);
                cell.elapsed.push(out.elapsed_ns as f64);
                match cell.checksum {
                    Some(c) if c != out.checksum => {
                        return Err(Failure::Error(format!(
                            "{}/{}: checksum {} in run {run}, {c} before",
                            w.name, cell.system.name, out.checksum
                        )));
                    }
                    _ => cell.checksum = Some(out.checksum),
                }
            }
        }
        // Systems that ran the same size must agree.
        for cell in &row.cells {
            let same: Vec<_> = row.cells.iter().filter(|c| c.n == cell.n).collect();
            if same.iter().any(|c| c.checksum != cell.checksum) {
                let list: Vec<_> = same
                    .iter()
                    .map(|c| format!("{}={}", c.system.name, c.checksum.unwrap_or(0)))
                    .collect();
                let msg = format!("{}: checksums differ: {}", w.name, list.join(", "));
                return Err(Failure::Error(msg));
            }
        }
    }
    eprintln!("[{:>7.1}s] done", start.elapsed().as_secs_f64());

    let mode = if quick { "quick" } else { "full" };
    table::print(&rows, runs, mode, &skipped);
    let regressions = table::regressions(&rows);

    if flags.record {
        let record = new_record(root, quick, runs, &rows);
        let path = root.join(HISTORY);
        history::append(&path, &record).map_err(Failure::Error)?;
        let mut all = records;
        all.push(record);
        std::fs::write(root.join(CHART), chart::svg(&all))
            .map_err(|e| Failure::Error(format!("cannot write {CHART}: {e}")))?;
        println!(
            "\nrecorded: {HISTORY} (run {} of the history); chart: {CHART}",
            all.len()
        );
    }
    if flags.check && regressions > 0 {
        return Err(Failure::Error(format!(
            "{regressions} regression(s) over {:.0}% against the last recorded {mode} run",
            REGRESSION * 100.0
        )));
    }
    Ok(())
}

/// goro's figures of `workload` at size `n` in the last record of this mode
/// that has them.
fn last_recorded(records: &[Record], quick: bool, workload: &str, n: u64) -> Option<Last> {
    records
        .iter()
        .rev()
        .filter(|r| r.quick == quick)
        .find_map(|r| {
            let goro = r.entry(workload, "goro").filter(|e| e.n == n)?;
            Some(Last {
                label: r.label(),
                goro: goro.figure,
                ratio_to_go: r.ratio_to_go(workload),
            })
        })
}

/// This run, as a record of the history.
fn new_record(root: &Path, quick: bool, runs: usize, rows: &[Row]) -> Record {
    let (commit, dirty) = history::git_commit(root);
    let (cpu, cores, kernel) = history::machine();
    let results = rows
        .iter()
        .flat_map(|row| {
            row.cells.iter().map(|cell| Entry {
                workload: row.workload.name.to_string(),
                system: cell.system.name.to_string(),
                n: cell.n,
                unit: row.workload.unit.to_string(),
                median_ns: median(&cell.elapsed).round() as u64,
                figure: cell.median(),
                p99: cell
                    .second()
                    .filter(|_| row.workload.measure == Measure::Lag),
                threads: cell
                    .second()
                    .filter(|_| row.workload.measure == Measure::KibEachThreads),
            })
        })
        .collect();
    Record {
        date: history::utc_now(),
        commit,
        dirty,
        quick,
        runs,
        cpu,
        cores,
        kernel,
        go: history::go_version(root),
        rustc: history::rustc_version(root),
        results,
    }
}

/// `cargo xtask chart`: redraws the chart from the history.
fn chart() -> Result<(), Failure> {
    let root = root();
    let records = history::load(&root.join(HISTORY));
    std::fs::write(root.join(CHART), chart::svg(&records))
        .map_err(|e| Failure::Error(format!("cannot write {CHART}: {e}")))?;
    println!("{CHART}: {} recorded run(s)", records.len());
    Ok(())
}

/// `cargo xtask bench --micro`: the criterion benchmarks of goro-benches.
fn micro(root: &Path, cargo: &str, flags: &Flags) -> Result<(), Failure> {
    let mut cmd = Command::new(cargo);
    cmd.args(["bench", "-p", "goro-benches", "--benches"]);
    if flags.quick || !flags.rest.is_empty() {
        cmd.arg("--");
        if flags.quick {
            cmd.arg("--quick");
        }
        cmd.args(&flags.rest);
    }
    eprintln!("running: {cmd:?}");
    let status = cmd
        .current_dir(root)
        .status()
        .map_err(|e| Failure::Error(format!("cannot run {cargo}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::Error(format!("cargo bench failed ({status})")))
    }
}

/// Builds Go's side (`benches/go`) into `bin_dir/bench-go` when `go` is on
/// the PATH; otherwise says so (and returns why), and the `go` column is
/// skipped.
fn build_go(root: &Path, bin_dir: &Path) -> Option<String> {
    let out = bin_dir.join("bench-go");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(root.join("benches/go"))
        .status();
    let why = match built {
        Ok(status) if status.success() => return None,
        Ok(status) => format!("go build failed ({status})"),
        Err(_) => "`go` is not on the PATH (apt-get install golang-go)".to_string(),
    };
    eprintln!("note: {why}: the go column is skipped");
    let _ = std::fs::remove_file(&out);
    Some(why)
}

/// What one run of a binary printed.
#[derive(Debug)]
struct Output {
    checksum: u64,
    elapsed_ns: u64,
    /// Every `key=value` field, these two included.
    fields: Vec<(String, u64)>,
}

impl Output {
    fn field(&self, key: &str) -> Option<u64> {
        self.fields.iter().find(|(k, _)| k == key).map(|&(_, v)| v)
    }
}

/// A run's figure, and its second figure if the workload has one.
fn figures(w: &Workload, n: u64, out: &Output) -> Option<(f64, Option<f64>)> {
    match w.measure {
        Measure::PerOp => Some((out.elapsed_ns as f64 / (n * w.ops_per_n) as f64, None)),
        Measure::PerRequest => {
            let requests = out.field("requests").filter(|&r| r > 0)?;
            Some((out.elapsed_ns as f64 / requests as f64, None))
        }
        Measure::KibEach | Measure::KibEachThreads => {
            let peak = out.field("peak_kib")?;
            let base = out.field("baseline_kib")?;
            let threads = match w.measure {
                Measure::KibEachThreads => Some(out.field("threads")? as f64),
                _ => None,
            };
            Some((peak.saturating_sub(base) as f64 / n as f64, threads))
        }
        Measure::Lag => {
            let worst = out.field("worst_lag_us")? as f64 / 1000.0;
            let p99 = out.field("p99_lag_us")? as f64 / 1000.0;
            Some((worst, Some(p99)))
        }
    }
}

/// The longest a run of one binary may take before it is killed and the
/// bench fails (the longest full runs take about 20 s here): a workload that
/// hangs, a server whose client died say, must not eat CI's whole budget.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// `cmd`'s output, as `Command::output` gives it, or `None` if it ran over
/// `timeout` (it is killed then).
fn output_within(
    cmd: &mut Command,
    timeout: Duration,
) -> std::io::Result<Option<std::process::Output>> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Drained on threads of their own: a child that fills a pipe would
    // otherwise wait for us while we wait for it.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Some(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }))
}

/// Runs `<binary> <workload> <n>` once and parses its `key=value` fields.
fn run_once(
    binary: &Path,
    env: &[(&str, &str)],
    workload: &str,
    n: u64,
) -> Result<Output, Failure> {
    let vars: String = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
    let shown = format!("{vars}{} {workload} {n}", binary.display());
    let mut cmd = Command::new(binary);
    cmd.envs(env.iter().copied())
        .args([workload, &n.to_string()]);
    let out = output_within(&mut cmd, RUN_TIMEOUT)
        .map_err(|e| Failure::Error(format!("cannot run `{shown}`: {e}")))?
        .ok_or_else(|| {
            Failure::Error(format!(
                "`{shown}` ran over {} s and was killed",
                RUN_TIMEOUT.as_secs()
            ))
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let msg = format!("`{shown}` failed ({}):\n{stderr}", out.status);
        return Err(Failure::Error(msg));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<(String, u64)> = stdout
        .split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect();
    let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|&(_, v)| v);
    match (get("checksum"), get("elapsed_ns")) {
        (Some(checksum), Some(elapsed_ns)) => Ok(Output {
            checksum,
            elapsed_ns,
            fields,
        }),
        _ => Err(Failure::Error(format!(
            "`{shown}` printed no result line: {stdout:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_within_kills_a_run_over_time() {
        let out = output_within(Command::new("echo").arg("hi"), Duration::from_secs(10))
            .unwrap()
            .expect("done in time");
        assert!(out.status.success());
        assert_eq!(out.stdout, b"hi\n");
        let start = Instant::now();
        let late = output_within(Command::new("sleep").arg("10"), Duration::from_millis(100));
        assert!(late.unwrap().is_none());
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
