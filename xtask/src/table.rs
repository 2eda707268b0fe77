//! The table `cargo xtask bench` prints: a row per workload, a column per
//! system (median with min–max spread), goro's ratio to each peer, goro
//! against the last recorded run, and DESIGN.md §4's goals.

use crate::workloads::{Measure, SYSTEMS, Workload};
use crate::{Cell, REGRESSION, Row};

/// Formats a figure with about three significant digits.
pub(crate) fn num(x: f64) -> String {
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

/// `median (min–max)` (the median alone after one run), and `, p99 x` (or
/// the workload's other second figure) where it has one.
fn summary(cell: &Cell, measure: Measure) -> String {
    let min = cell.figures.iter().copied().fold(f64::INFINITY, f64::min);
    let max = cell.figures.iter().copied().fold(0.0, f64::max);
    let mut s = num(cell.median());
    if cell.figures.len() > 1 {
        s += &format!(" ({}–{})", num(min), num(max));
    }
    if let (Some(second), Some(label)) = (cell.second(), measure.second()) {
        // A count (threads) reads as one.
        let second = match second.fract() {
            0.0 => format!("{second:.0}"),
            _ => num(second),
        };
        s += &format!(", {label} {second}");
    }
    s
}

/// ` ▲+12%` for a change over the regression threshold, else nothing.
fn mark(change: Option<f64>) -> String {
    match change {
        Some(c) if c > REGRESSION => format!(" ▲{:+.0}%", c * 100.0),
        _ => String::new(),
    }
}

/// The goals of DESIGN.md §4 for `row`, each with ✓ (met) or ✗ (missed).
fn goals(row: &Row) -> String {
    let w: &Workload = row.workload;
    let parts: Vec<String> = w
        .goals
        .iter()
        .filter_map(|g| {
            let cell = row.cell(g.of.unwrap_or("goro"));
            let goro = match g.second {
                true => cell.and_then(Cell::second),
                false => cell.map(Cell::median),
            };
            // Judged at the precision shown: a ratio of 1.004 is 1.00x.
            let (text, value) = match g.peer {
                Some(peer) => (
                    format!("≤ {}x {peer}", g.max),
                    row.ratio(peer).map(|r| (r * 100.0).round() / 100.0),
                ),
                None => {
                    let unit = match (w.measure, g.second) {
                        (m, true) => m.second().unwrap_or("?"),
                        (Measure::KibEach | Measure::KibEachThreads, false) => "KiB",
                        (Measure::Lag, false) => "ms",
                        (Measure::PerOp | Measure::PerRequest, false) => "ns",
                    };
                    let of = g.of.map_or(String::new(), |c| format!("{c} "));
                    (format!("{of}≤ {} {unit}", g.max), goro)
                }
            };
            let verdict = if value? <= g.max { "✓" } else { "✗" };
            Some(format!("{text} {verdict}"))
        })
        .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

/// How many regressions the rows show: goro's figure, or its ratio to Go,
/// over 10% above the last recorded run.
pub(crate) fn regressions(rows: &[Row]) -> usize {
    rows.iter()
        .map(|r| {
            usize::from(r.change().is_some_and(|c| c > REGRESSION))
                + usize::from(r.ratio_change().is_some_and(|c| c > REGRESSION))
        })
        .sum()
}

/// Prints the aligned markdown table and the notes under it.
pub(crate) fn print(rows: &[Row], runs: usize, mode: &str, skipped: &[String]) {
    let ran = |name: &str| rows.iter().any(|r| r.cell(name).is_some());
    let systems: Vec<&str> = SYSTEMS.iter().map(|s| s.name).filter(|s| ran(s)).collect();
    let peers: Vec<&str> = systems
        .iter()
        .copied()
        .filter(|&s| s != "goro" && ran("goro"))
        .collect();
    let compared = rows.iter().any(|r| r.last.is_some());

    let mut table = vec![vec!["workload".to_string(), "n".into(), "unit".into()]];
    table[0].extend(systems.iter().map(|s| s.to_string()));
    table[0].extend(peers.iter().map(|p| format!("goro vs {p}")));
    if compared {
        table[0].push("goro vs last".into());
    }
    table[0].push("goal (DESIGN.md §4)".into());
    let mut other_n = false;
    for row in rows {
        let w = row.workload;
        let n = match w.ops_per_n {
            1 => format!("{}{}", grouped(row.n), w.n_unit),
            ops => format!("{} × {}", grouped(row.n), grouped(ops)),
        };
        let mut line = vec![w.name.to_string(), n, w.unit.to_string()];
        for s in &systems {
            line.push(match row.cell(s) {
                Some(cell) if cell.n != row.n => {
                    format!("{} [n={}]", summary(cell, w.measure), grouped(cell.n))
                }
                Some(cell) => summary(cell, w.measure),
                None => "-".into(),
            });
        }
        for p in &peers {
            line.push(match row.ratio(p) {
                Some(r) => {
                    let differs = row.cell(p).is_some_and(|c| c.n != row.n);
                    other_n |= differs;
                    let star = if differs { "*" } else { "" };
                    let regressed = if *p == "go" {
                        mark(row.ratio_change())
                    } else {
                        String::new()
                    };
                    format!("{r:.2}x{star}{regressed}")
                }
                None => "-".into(),
            });
        }
        if compared {
            line.push(match row.change() {
                Some(c) if c > REGRESSION => mark(Some(c)).trim().to_string(),
                Some(c) => format!("{:+.0}%", c * 100.0),
                None => "-".into(),
            });
        }
        line.push(goals(row));
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
    println!(
        "{mode} run: {runs} run(s) per (workload, system), systems alternating; \
         cells: median (min–max)\n"
    );
    for (k, line) in table.iter().enumerate() {
        let pad = |(c, &w): (&String, &usize)| match k {
            1 => format!("{c:-<w$}"),
            _ => format!("{c:<w$}"),
        };
        let cells: Vec<String> = line.iter().zip(&widths).map(pad).collect();
        println!("| {} |", cells.join(" | "));
    }

    println!();
    for note in notes(rows) {
        println!("note: {note}");
    }
    if other_n {
        println!(
            "note: * this peer ran at another n (in brackets): per-operation figures compare, totals do not"
        );
    }
    for s in skipped {
        println!("note: {s}");
    }
    print_comparison(rows, mode);
}

/// The workloads' notes for the systems that ran, each once, with the
/// workloads it applies to.
fn notes(rows: &[Row]) -> Vec<String> {
    let mut merged: Vec<(Vec<&str>, &str, &str)> = Vec::new();
    for row in rows {
        let w = row.workload;
        for &(system, note) in w.notes {
            if system != "all" && row.cell(system).is_none() {
                continue;
            }
            match merged
                .iter_mut()
                .find(|(_, s, n)| *s == system && *n == note)
            {
                Some((names, _, _)) => names.push(w.name),
                None => merged.push((vec![w.name], system, note)),
            }
        }
    }
    merged
        .into_iter()
        .map(|(names, system, note)| match system {
            "all" => format!("{}: {note}", names.join(", ")),
            _ => format!("{system} in {}: {note}", names.join(", ")),
        })
        .collect()
}

/// Says what goro was compared with, and lists the regressions.
fn print_comparison(rows: &[Row], mode: &str) {
    let mut labels: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.last.as_ref().map(|l| l.label.as_str()))
        .collect();
    labels.dedup();
    if labels.is_empty() {
        println!(
            "note: goro vs last: no recorded {mode} run to compare with (cargo xtask bench --record)"
        );
        return;
    }
    println!(
        "note: goro vs last: goro's figure against the last recorded {mode} run with the same \
         workload and n ({}); ▲ marks a rise over {:.0}% (in goro's ratio to Go too)",
        labels.join(", "),
        REGRESSION * 100.0
    );
    for row in rows {
        let (Some(last), Some(goro)) = (&row.last, row.cell("goro")) else {
            continue;
        };
        let unit = row.workload.unit;
        if let Some(c) = row.change().filter(|&c| c > REGRESSION) {
            println!(
                "regression: {}: goro {} → {} {unit} ({:+.0}%) since {}",
                row.workload.name,
                num(last.goro),
                num(goro.median()),
                c * 100.0,
                last.label
            );
        }
        if let (Some(c), Some(before), Some(now)) =
            (row.ratio_change(), last.ratio_to_go, row.ratio("go"))
            && c > REGRESSION
        {
            println!(
                "regression: {}: goro vs go {before:.2}x → {now:.2}x ({:+.0}%) since {}",
                row.workload.name,
                c * 100.0,
                last.label
            );
        }
    }
}
