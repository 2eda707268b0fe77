//! Project tasks, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! `cargo xtask bench` builds the side-by-side binaries of `goro-benches`,
//! runs every workload on every system several times, alternating systems so
//! machine drift hits all alike, checks that all systems agree on the
//! checksum, and prints one table of medians, spreads and goro's ratios.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// One system under test: a binary that runs `<binary> <workload> <n>` and
/// prints `checksum=<u64> elapsed_ns=<u64>`.
#[derive(Debug)]
struct System {
    /// Name in flags and table columns.
    name: &'static str,
    /// File name of the binary under `target/release`.
    binary: &'static str,
}

/// All systems, in table column order. goro comes first: ratios are goro's.
const SYSTEMS: &[System] = &[
    System {
        name: "goro",
        binary: "bench-goro",
    },
    System {
        name: "go",
        binary: "bench-go",
    },
    System {
        name: "tokio",
        binary: "bench-tokio",
    },
    System {
        name: "crossbeam",
        binary: "bench-crossbeam",
    },
    System {
        name: "corosensei",
        binary: "bench-corosensei",
    },
];

/// One workload, run by each of its systems' binaries as `<binary> <name> <n>`.
#[derive(Debug)]
struct Workload {
    /// Name in flags, in the binaries' arguments and in the table.
    name: &'static str,
    /// What one operation is, for `--help`.
    about: &'static str,
    /// The size passed to the binaries normally, and with `--quick`.
    n: u64,
    quick_n: u64,
    /// Operations per unit of `n`: 1, unless each of the `n` (goroutines, say)
    /// does a fixed batch of them.
    ops_per_n: u64,
    /// Unit of the figures, which are `elapsed_ns / (n * ops_per_n)`.
    unit: &'static str,
    /// Names of the systems (from [`SYSTEMS`]) that implement this workload.
    systems: &'static [&'static str],
    /// `(system, note)`: how a system runs this workload differently from
    /// the others, printed under the table.
    notes: &'static [(&'static str, &'static str)],
}

/// All workloads, in table row order.
const WORKLOADS: &[Workload] = &[
    Workload {
        name: "switch",
        about: "fiber resume + suspend round trip",
        n: 20_000_000,
        quick_n: 1_000_000,
        ops_per_n: 1,
        unit: "ns per round trip",
        systems: &["goro", "corosensei"],
        notes: &[],
    },
    Workload {
        name: "spawn",
        about: "n goroutines each bump a counter; wait for all",
        n: 1_000_000,
        quick_n: 100_000,
        ops_per_n: 1,
        unit: "ns per goroutine",
        systems: &["goro", "go", "tokio"],
        notes: &[],
    },
    Workload {
        name: "skynet",
        about: "tree of goroutines, 10 children a node, n leaves, sums over channels",
        n: 1_000_000,
        quick_n: 100_000,
        ops_per_n: 1,
        unit: "ns per leaf",
        systems: &["goro", "go", "tokio"],
        notes: &[],
    },
    Workload {
        name: "skynet-join",
        about: "skynet with sums over join handles (Go has no such thing)",
        n: 1_000_000,
        quick_n: 100_000,
        ops_per_n: 1,
        unit: "ns per leaf",
        systems: &["goro", "tokio"],
        notes: &[],
    },
    Workload {
        name: "pingpong",
        about: "round trips over two unbuffered channels (tokio: capacity 1)",
        n: 1_000_000,
        quick_n: 100_000,
        ops_per_n: 1,
        unit: "ns per round trip",
        systems: &["goro", "go", "tokio", "crossbeam"],
        notes: &[],
    },
    Workload {
        name: "ring",
        about: "503 goroutines pass a token around a ring of unbuffered channels",
        n: 10_000_000,
        quick_n: 1_000_000,
        ops_per_n: 1,
        unit: "ns per hop",
        systems: &["goro", "go", "tokio"],
        notes: &[],
    },
    Workload {
        name: "mpmc",
        about: "4 producers, 4 consumers, one channel of 1024",
        n: 10_000_000,
        quick_n: 1_000_000,
        ops_per_n: 1,
        unit: "ns per message",
        systems: &["goro", "go", "crossbeam"],
        notes: &[],
    },
    Workload {
        name: "select",
        about: "one consumer selects over 4 unbuffered channels, 4 producers",
        n: 4_000_000,
        quick_n: 400_000,
        ops_per_n: 1,
        unit: "ns per message",
        systems: &["goro", "go", "tokio", "crossbeam"],
        notes: &[],
    },
    Workload {
        name: "mutex",
        about: "n goroutines × 1000 increments of a counter under one shared mutex",
        n: 1_000,
        quick_n: 100,
        ops_per_n: 1_000,
        unit: "ns per increment",
        systems: &["goro", "go", "tokio", "crossbeam"],
        notes: &[
            ("tokio", "tokio::sync::Mutex, n tasks"),
            (
                "crossbeam",
                "std::sync::Mutex on 8 OS threads sharing the same n × 1000 increments",
            ),
        ],
    },
];

/// Why a task failed: bad usage (exit 2) or a failed step (exit 1).
#[derive(Debug)]
enum Failure {
    Usage(String),
    Error(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench(&args[1..]),
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

/// Builds Go's side (`benches/go`) into `bin_dir/bench-go` when `go` is on
/// the PATH; otherwise says so, and the `go` column is skipped.
fn build_go(root: &Path, bin_dir: &Path) {
    let out = bin_dir.join("bench-go");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(root.join("benches/go"))
        .status();
    match built {
        Ok(status) if status.success() => {}
        Ok(status) => eprintln!("note: go build failed ({status}): the go column is skipped"),
        Err(_) => eprintln!(
            "note: `go` is not on the PATH (apt-get install golang-go): the go column is skipped"
        ),
    }
    if !matches!(built, Ok(s) if s.success()) {
        let _ = std::fs::remove_file(&out);
    }
}

/// The `--help` text, listing the tasks, flags, workloads and systems.
fn usage() -> String {
    let mut s = String::from(
        "usage: cargo xtask <task> [flags]\n\n\
         tasks:\n  \
           bench            build goro-benches, run goro and its peers side by side\n  \
           help             print this message\n\n\
         bench flags:\n  \
           --quick          small n and 1 run (a smoke test)\n  \
           --runs N         runs per (workload, system) pair (default 7; --quick: 1)\n  \
           --workload NAME  only this workload (repeatable)\n  \
           --system NAME    only this system (repeatable)\n\nworkloads:\n",
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

/// One workload as run: its size and what each of its systems measured.
#[derive(Debug)]
struct Row {
    workload: &'static Workload,
    /// The size passed to the binaries.
    n: u64,
    cells: Vec<Cell>,
}

/// One (workload, system) pair as run.
#[derive(Debug)]
struct Cell {
    system: &'static System,
    binary: PathBuf,
    /// Per-operation figure (`elapsed_ns / (n * ops_per_n)`) of each run, in
    /// run order.
    figures: Vec<f64>,
}

impl Row {
    /// The cell of the system named `name`, if it ran this workload.
    fn cell(&self, name: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.system.name == name)
    }
}

impl Cell {
    /// The median figure; `figures` is non-empty.
    fn median(&self) -> f64 {
        let mut xs = self.figures.clone();
        xs.sort_by(f64::total_cmp);
        let mid = xs.len() / 2;
        if xs.len() % 2 == 1 {
            xs[mid]
        } else {
            (xs[mid - 1] + xs[mid]) / 2.0
        }
    }

    /// `median (min–max)`.
    fn summary(&self) -> String {
        let min = self.figures.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.figures.iter().copied().fold(0.0, f64::max);
        format!("{} ({}–{})", num(self.median()), num(min), num(max))
    }
}

/// `cargo xtask bench`: see the module docs.
fn bench(args: &[String]) -> Result<(), Failure> {
    let (mut quick, mut runs, mut only_w, mut only_s) = (false, None, Vec::new(), Vec::new());
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| Failure::Usage(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--quick" => quick = true,
            "--runs" => match value()?.parse::<usize>() {
                Ok(r) if r > 0 => runs = Some(r),
                _ => return Err(Failure::Usage("--runs needs a positive integer".into())),
            },
            "--workload" => only_w.push(value()?.clone()),
            "--system" => only_s.push(value()?.clone()),
            "-h" | "--help" => {
                print!("{}", usage());
                return Ok(());
            }
            other => return Err(Failure::Usage(format!("unknown flag `{other}`"))),
        }
    }
    let runs = runs.unwrap_or(if quick { 1 } else { 7 });
    if let Some(w) = only_w
        .iter()
        .find(|w| !WORKLOADS.iter().any(|x| x.name == *w))
    {
        return Err(Failure::Usage(format!("unknown workload `{w}`")));
    }
    if let Some(s) = only_s
        .iter()
        .find(|s| !SYSTEMS.iter().any(|x| x.name == *s))
    {
        return Err(Failure::Usage(format!("unknown system `{s}`")));
    }
    let picked = |only: &[String], name: &str| only.is_empty() || only.iter().any(|o| o == name);

    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ sits in the workspace root");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
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
    build_go(root, &bin_dir);

    // Plan the pairs; skip (with a note) systems whose binary is missing.
    let mut rows = Vec::new();
    for workload in WORKLOADS.iter().filter(|w| picked(&only_w, w.name)) {
        let mut cells = Vec::new();
        let wanted = |s: &&System| workload.systems.contains(&s.name) && picked(&only_s, s.name);
        for system in SYSTEMS.iter().filter(wanted) {
            let binary = bin_dir.join(system.binary);
            if binary.is_file() {
                cells.push(Cell {
                    system,
                    binary,
                    figures: Vec::new(),
                });
            } else {
                let (w, s, b) = (workload.name, system.name, binary.display());
                eprintln!("note: skipping {w}/{s}: {b} is missing");
            }
        }
        if !cells.is_empty() {
            let n = if quick { workload.quick_n } else { workload.n };
            rows.push(Row { workload, n, cells });
        }
    }
    if rows.is_empty() {
        return Err(Failure::Error("nothing to run".into()));
    }

    // Run the systems of each workload alternately: A B A B ...
    let start = Instant::now();
    for row in &mut rows {
        let (name, n) = (row.workload.name, row.n);
        let ops = n * row.workload.ops_per_n;
        let mut checksums: Vec<(&str, u64)> = Vec::new();
        for run in 1..=runs {
            for cell in &mut row.cells {
                let secs = start.elapsed().as_secs_f64();
                eprintln!(
                    "[{secs:>7.1}s] {name}/{} run {run}/{runs}",
                    cell.system.name
                );
                let (checksum, ns) = run_once(&cell.binary, name, n)?;
                cell.figures.push(ns as f64 / ops as f64);
                if !checksums.contains(&(cell.system.name, checksum)) {
                    checksums.push((cell.system.name, checksum));
                }
            }
        }
        if checksums.iter().any(|&(_, c)| c != checksums[0].1) {
            let list: Vec<_> = checksums.iter().map(|(s, c)| format!("{s}={c}")).collect();
            let msg = format!("{name}: checksums differ: {}", list.join(", "));
            return Err(Failure::Error(msg));
        }
    }
    eprintln!("[{:>7.1}s] done", start.elapsed().as_secs_f64());
    print_table(&rows, runs);
    Ok(())
}

/// Runs `<binary> <workload> <n>` once and parses its `checksum` and `elapsed_ns`.
fn run_once(binary: &Path, workload: &str, n: u64) -> Result<(u64, u64), Failure> {
    let shown = format!("{} {workload} {n}", binary.display());
    let out = Command::new(binary)
        .args([workload, &n.to_string()])
        .output()
        .map_err(|e| Failure::Error(format!("cannot run `{shown}`: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let msg = format!("`{shown}` failed ({}):\n{stderr}", out.status);
        return Err(Failure::Error(msg));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        stdout
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
    };
    match (field("checksum"), field("elapsed_ns")) {
        (Some(checksum), Some(ns)) => Ok((checksum, ns)),
        _ => Err(Failure::Error(format!(
            "`{shown}` printed no result line: {stdout:?}"
        ))),
    }
}

/// Formats a figure with about three significant digits.
fn num(x: f64) -> String {
    match x.abs() {
        a if a < 10.0 => format!("{x:.2}"),
        a if a < 100.0 => format!("{x:.1}"),
        _ => format!("{x:.0}"),
    }
}

/// Formats `n` with `_` between digit groups: `20_000_000`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(d);
    }
    out
}

/// Prints one aligned markdown table: a row per workload, a column per system
/// (median with min–max spread), then goro's ratio to each peer.
fn print_table(rows: &[Row], runs: usize) {
    let ran = |name: &str| rows.iter().any(|r| r.cell(name).is_some());
    let systems: Vec<&str> = SYSTEMS.iter().map(|s| s.name).filter(|s| ran(s)).collect();
    let peers: Vec<&str> = systems
        .iter()
        .copied()
        .filter(|&s| s != "goro" && ran("goro"))
        .collect();

    let mut table = vec![vec!["workload".to_string(), "n".into(), "unit".into()]];
    table[0].extend(systems.iter().map(|s| s.to_string()));
    table[0].extend(peers.iter().map(|p| format!("goro vs {p}")));
    for row in rows {
        let w = row.workload;
        let n = match w.ops_per_n {
            1 => grouped(row.n),
            ops => format!("{} × {}", grouped(row.n), grouped(ops)),
        };
        let mut line = vec![w.name.to_string(), n, w.unit.to_string()];
        line.extend(
            systems
                .iter()
                .map(|s| row.cell(s).map_or("-".into(), Cell::summary)),
        );
        line.extend(peers.iter().map(|p| match (row.cell("goro"), row.cell(p)) {
            (Some(g), Some(q)) => format!("{:.2}x {p}", g.median() / q.median()),
            _ => "-".into(),
        }));
        table.push(line);
    }
    let rule = table[0].iter().map(|_| String::new()).collect();
    table.insert(1, rule);

    let width = |i: usize| {
        table
            .iter()
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..table[0].len()).map(width).collect();
    println!("runs: {runs} per (workload, system), systems alternating; cells: median (min–max)\n");
    for (k, line) in table.iter().enumerate() {
        let pad = |(c, &w): (&String, &usize)| match k {
            1 => format!("{c:-<w$}"),
            _ => format!("{c:<w$}"),
        };
        let cells: Vec<String> = line.iter().zip(&widths).map(pad).collect();
        println!("| {} |", cells.join(" | "));
    }
    let notes: Vec<String> = rows
        .iter()
        .flat_map(|row| {
            let w = row.workload;
            w.notes
                .iter()
                .filter(|(s, _)| row.cell(s).is_some())
                .map(move |(s, note)| format!("{}/{s}: {note}", w.name))
        })
        .collect();
    if !notes.is_empty() {
        println!();
        for note in notes {
            println!("note: {note}");
        }
    }
}
