//! The Go tour's web crawler exercise (go.dev/tour/concurrency/10), solved:
//! crawl a fake in-memory web in parallel, fetching each URL once, with at
//! most `--limit` fetches at a time, and stop everything when a context is
//! cancelled (here by a timeout).
//!
//! ```text
//! cargo run --release --example crawler [DEPTH] [--limit N] [--timeout-ms T] [--latency-ms L]
//! ```
//!
//! Defaults: depth 4 (as the tour's `Crawl("https://golang.org/", 4, fetcher)`),
//! 2 fetches at once, a 5 s timeout, 10 ms per fetch. The web is the tour's
//! `fakeFetcher`.
//!
//! One goroutine (this one) coordinates: it owns the set of URLs seen and
//! spawns a goroutine per new URL; the fetchers send their results back on a
//! channel. A buffered channel of `limit` tokens bounds how many fetch at
//! once (Go's counting-semaphore idiom), and every wait, for a token or for
//! the fetch, is a `select!` that also watches the context.

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use goro::chan::{Sender, bounded, unbounded};
use goro::context::Context;
use goro::select;
use goro::sync::WaitGroup;
use goro::time::after;

/// The tour's fake web: url -> (body, links).
type Web = BTreeMap<&'static str, (&'static str, Vec<&'static str>)>;

fn fake_web() -> Web {
    BTreeMap::from([
        (
            "https://golang.org/",
            (
                "The Go Programming Language",
                vec!["https://golang.org/pkg/", "https://golang.org/cmd/"],
            ),
        ),
        (
            "https://golang.org/pkg/",
            (
                "Packages",
                vec![
                    "https://golang.org/",
                    "https://golang.org/cmd/",
                    "https://golang.org/pkg/fmt/",
                    "https://golang.org/pkg/os/",
                ],
            ),
        ),
        (
            "https://golang.org/pkg/fmt/",
            (
                "Package fmt",
                vec!["https://golang.org/", "https://golang.org/pkg/"],
            ),
        ),
        (
            "https://golang.org/pkg/os/",
            (
                "Package os",
                vec!["https://golang.org/", "https://golang.org/pkg/"],
            ),
        ),
    ])
}

/// What a fetch found: the body and links, or "not found".
type Fetched = Result<(String, Vec<String>), String>;

/// A fetch takes `latency` and can be cancelled meanwhile (`None`).
fn fetch(web: &Web, url: &str, latency: Duration, ctx: &Context) -> Option<Fetched> {
    select! {
        recv(after(latency)) -> _ => {}
        recv(ctx.done()) -> _ => return None,
    }
    Some(match web.get(url) {
        Some((body, links)) => Ok((
            body.to_string(),
            links.iter().map(|l| l.to_string()).collect(),
        )),
        None => Err(format!("not found: {url}")),
    })
}

struct Options {
    depth: usize,
    limit: usize,
    timeout: Duration,
    latency: Duration,
}

struct Report {
    found: BTreeMap<String, Fetched>,
    cancelled: Option<String>,
    most_at_once: usize,
}

fn crawl(start: &str, opts: &Options) -> Report {
    let web = Arc::new(fake_web());
    let (ctx, cancel) = Context::with_timeout(&Context::background(), opts.timeout);
    // A semaphore: a fetcher sends a token to start and takes one back when
    // done, so at most `limit` fetch at once (`tokens := make(chan struct{}, n)`).
    let (tokens, tokens_rx) = bounded::<()>(opts.limit);
    let (results_tx, results) = unbounded::<(String, usize, Option<Fetched>)>();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let fetchers = WaitGroup::new();

    let spawn_fetch = |url: String, depth: usize, results_tx: &Sender<_>| {
        let (web, ctx, tokens, tokens_rx) =
            (web.clone(), ctx.clone(), tokens.clone(), tokens_rx.clone());
        let (results_tx, in_flight, most) = (results_tx.clone(), in_flight.clone(), most.clone());
        let latency = opts.latency;
        fetchers.go(move || {
            // Take a token, or give up if cancelled first.
            select! {
                send(tokens, ()) -> _ => {}
                recv(ctx.done()) -> _ => {
                    let _ = results_tx.send((url, depth, None));
                    return;
                }
            }
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let fetched = fetch(&web, &url, latency, &ctx);
            in_flight.fetch_sub(1, Ordering::SeqCst);
            let _ = tokens_rx.recv(); // give the token back
            let _ = results_tx.send((url, depth, fetched));
        });
    };

    let mut seen: HashSet<String> = HashSet::from([start.to_string()]);
    let mut found = BTreeMap::new();
    let mut cancelled = None;
    let mut pending = 0;
    if opts.depth > 0 {
        spawn_fetch(start.to_string(), opts.depth, &results_tx);
        pending += 1;
    }
    while pending > 0 {
        let (url, depth, fetched) = select! {
            recv(results) -> r => r.expect("we hold a sender"),
            recv(ctx.done()) -> _ => {
                cancelled = ctx.err().map(|e| e.to_string());
                break;
            }
        };
        pending -= 1;
        let Some(fetched) = fetched else { continue }; // cancelled meanwhile
        if let Ok((_, links)) = &fetched
            && depth > 1
        {
            for link in links {
                if seen.insert(link.clone()) {
                    spawn_fetch(link.clone(), depth - 1, &results_tx);
                    pending += 1;
                }
            }
        }
        found.insert(url, fetched);
    }
    drop(cancel); // cancels the context: fetchers still waiting give up
    fetchers.wait(); // no goroutine left behind
    Report {
        found,
        cancelled,
        most_at_once: most.load(Ordering::SeqCst),
    }
}

fn main() -> ExitCode {
    let mut opts = Options {
        depth: 4,
        limit: 2,
        timeout: Duration::from_secs(5),
        latency: Duration::from_millis(10),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse::<u64>().ok());
        match arg.as_str() {
            "--limit" => match value() {
                Some(n) if n > 0 => opts.limit = n as usize,
                _ => return usage(),
            },
            "--timeout-ms" => match value() {
                Some(ms) => opts.timeout = Duration::from_millis(ms),
                None => return usage(),
            },
            "--latency-ms" => match value() {
                Some(ms) => opts.latency = Duration::from_millis(ms),
                None => return usage(),
            },
            _ => match arg.parse() {
                Ok(depth) => opts.depth = depth,
                Err(_) => return usage(),
            },
        }
    }

    let limit = opts.limit;
    let report = goro::run(move || crawl("https://golang.org/", &opts));
    let mut ok = 0;
    for (url, fetched) in &report.found {
        match fetched {
            Ok((body, _)) => {
                ok += 1;
                println!("found: {url} {body:?}");
            }
            Err(e) => println!("{e}"),
        }
    }
    if let Some(why) = &report.cancelled {
        println!("cancelled: {why}");
    }
    println!(
        "crawled {} urls ({ok} found, {} not found), at most {} fetches at once (limit {limit})",
        report.found.len(),
        report.found.len() - ok,
        report.most_at_once,
    );
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!("usage: crawler [DEPTH] [--limit N] [--timeout-ms T] [--latency-ms L]");
    ExitCode::from(2)
}
