//! `benches/history.svg`: goro's figure over Go's for each workload, one line
//! per workload across the recorded runs, drawn as plain SVG.

use std::fmt::Write;

use crate::history::Record;
use crate::workloads::WORKLOADS;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 500.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 230.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 70.0;

/// Line colours, one per workload in table order.
const COLOURS: &[&str] = &[
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#7f7f7f", "#1f77b4", "#d62728", "#17becf",
];

/// A workload's line: its name, colour and `(run index, ratio)` points.
type Series = (&'static str, &'static str, Vec<(usize, f64)>);

/// The chart of `records`: the full runs, or the quick ones if there are no
/// full runs.
pub(crate) fn svg(records: &[Record]) -> String {
    let full: Vec<&Record> = records.iter().filter(|r| !r.quick).collect();
    let (runs, mode) = if full.is_empty() {
        (records.iter().collect::<Vec<_>>(), "quick")
    } else {
        (full, "full")
    };
    let series: Vec<Series> = WORKLOADS
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let points = runs
                .iter()
                .enumerate()
                .filter_map(|(k, r)| Some((k, r.ratio_to_go(w.name)?)))
                .collect();
            (w.name, COLOURS[i % COLOURS.len()], points)
        })
        .filter(|(_, _, points): &Series| !points.is_empty())
        .collect();

    // A log scale from a power of two to a power of two, so that 2x faster
    // and 2x slower than Go lie as far from the 1.0 line.
    let ratios = || {
        series
            .iter()
            .flat_map(|(_, _, p)| p.iter().map(|&(_, r)| r))
    };
    let lowest = ratios().fold(1.0, f64::min).max(1.0 / 128.0);
    let highest = ratios().fold(1.0, f64::max).min(128.0);
    let lo = 2f64.powf(lowest.log2().floor()).min(0.25);
    let hi = 2f64.powf(highest.log2().ceil()).max(2.0);
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let k = runs.len().max(1) as f64;
    let x = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / k;
    let y = |r: f64| {
        let r = r.clamp(lo, hi);
        TOP + plot_h * (1.0 - (r / lo).log2() / (hi / lo).log2())
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>
<text x="{LEFT}" y="24" font-size="16" font-weight="bold">goro's figure / Go's, per workload, over recorded runs</text>
<text x="{LEFT}" y="44" fill="#555">cargo xtask bench --record ({mode} runs, medians; log scale): below 1.0 goro beats Go</text>"##
    );
    // Grid and y labels: each power of two, and 1.5 times each.
    let mut r = lo;
    while r <= hi * 1.0001 {
        for (g, colour) in [(r, "#e0e0e0"), (r * 1.5, "#f2f2f2")] {
            if g > hi * 1.0001 {
                continue;
            }
            let yy = y(g);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{colour}"/>
<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555" font-size="11">{}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                yy + 4.0,
                trim(g)
            );
        }
        r *= 2.0;
    }
    let one = y(1.0);
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{one:.1}" x2="{:.1}" y2="{one:.1}" stroke="#333" stroke-dasharray="6 4"/>
<text x="{:.1}" y="{:.1}" fill="#333">Go</text>
<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#999"/>
<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999"/>"##,
        LEFT + plot_w,
        LEFT + plot_w + 4.0,
        one + 4.0,
        TOP + plot_h,
        TOP + plot_h,
        LEFT + plot_w,
        TOP + plot_h
    );
    // x labels: date, time and commit of a run, at most ~10 of them.
    let every = runs.len().div_ceil(10).max(1);
    for (i, run) in runs.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let label = run.label();
        let commit = label.split_once(' ').map_or("", |(_, c)| c);
        let date = run.date.get(5..16).unwrap_or(&run.date).replace('T', " ");
        let date = date.as_str();
        let (xx, yy) = (x(i), TOP + plot_h + 18.0);
        let _ = writeln!(
            s,
            r##"<text x="{xx:.1}" y="{yy:.1}" text-anchor="middle" fill="#555">{}</text>
<text x="{xx:.1}" y="{:.1}" text-anchor="middle" fill="#999" font-size="10">{}</text>"##,
            esc(date),
            yy + 14.0,
            esc(commit)
        );
    }
    if series.is_empty() {
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#999">no recorded run has both goro and Go</text>"##,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    // One line per workload, and its legend entry with the latest ratio.
    for (j, (name, colour, points)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|&(i, r)| format!("{:.1},{:.1}", x(i), y(r)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for &(i, r) in points {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{name}: {r:.2}x ({})</title></circle>"#,
                x(i),
                y(r),
                esc(&runs[i].label())
            );
            if !(lo..=hi).contains(&r) {
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{colour}" font-size="10">{r:.1}x</text>"#,
                    x(i),
                    y(r) - 6.0
                );
            }
        }
        let (lx, ly) = (WIDTH - RIGHT + 20.0, TOP + 10.0 + 20.0 * j as f64);
        let latest = points.last().map_or(0.0, |&(_, r)| r);
        let _ = writeln!(
            s,
            r##"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="3"/>
<text x="{:.1}" y="{:.1}">{name}</text>
<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{latest:.2}x</text>"##,
            lx + 22.0,
            lx + 30.0,
            ly + 4.0,
            WIDTH - 14.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// `0.375`, `1.5`, `4`: a grid value without trailing zeros.
fn trim(x: f64) -> String {
    let s = format!("{x:.5}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Escapes text for SVG.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
