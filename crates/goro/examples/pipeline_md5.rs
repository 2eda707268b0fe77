//! The Go blog's "Pipelines and cancellation" (go.dev/blog/pipelines): the
//! MD5 digest of every file under a directory, computed by a bounded number
//! of goroutines, stopping everything on the first error.
//!
//! ```text
//! cargo run --release --example pipeline_md5 [DIR] [--workers N]
//! ```
//!
//! Prints `md5sum`'s format (`<digest>  <path>`, sorted by path, relative
//! to DIR), then a summary. DIR defaults to this crate's own directory;
//! `--workers` (default 4) is the number of digesting goroutines.
//!
//! The shape is the blog's `bounded.go`: one goroutine walks the tree and
//! sends paths; `--workers` goroutines read and digest files; `main`
//! collects the results. Where Go closes a `done` channel when `main`
//! returns early, the stages here are members of an [`ErrGroup`], whose
//! context is cancelled by the first error: the walker and the digesters
//! watch `ctx.done()` in their `select!`s and stop, and `wait` returns that
//! first error. File I/O is blocking, so it runs in `goro::blocking`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use goro::chan::{Receiver, Sender, bounded};
use goro::context::Context;
use goro::patterns::ErrGroup;
use goro::select;
use md5::{Digest, Md5};

type Sums = BTreeMap<PathBuf, [u8; 16]>;

/// Reads every file under `root` and returns its MD5 sum by path, or the
/// first error (Go's `MD5All`).
fn md5_all(root: &Path, workers: usize) -> io::Result<(Sums, u64)> {
    let (group, ctx) = ErrGroup::<io::Error>::with_context(&Context::background());

    // Stage 1: walk the tree, sending the path of each file.
    let (paths_tx, paths) = bounded::<PathBuf>(0);
    {
        let (root, ctx) = (root.to_path_buf(), ctx.clone());
        group.go(move || walk(&root, &paths_tx, &ctx).map(drop));
    }

    // Stage 2: a fixed number of digesters (the bounded parallelism).
    let (results_tx, results) = bounded::<(PathBuf, [u8; 16], u64)>(0);
    for _ in 0..workers {
        let (paths, results_tx, ctx) = (paths.clone(), results_tx.clone(), ctx.clone());
        group.go(move || digester(&paths, &results_tx, &ctx));
    }
    drop((paths, results_tx));

    // Stage 3: collect, until every digester is gone (the channel closes).
    let mut sums = Sums::new();
    let mut bytes = 0;
    for (path, sum, len) in &results {
        sums.insert(path, sum);
        bytes += len;
    }
    group.wait()?; // the first error, if any
    Ok((sums, bytes))
}

/// Sends the path of every file under `dir`, depth first and sorted.
/// Returns `Ok(false)` if it stopped early: `ctx` was cancelled, or every
/// digester is gone.
fn walk(dir: &Path, paths: &Sender<PathBuf>, ctx: &Context) -> io::Result<bool> {
    let mut entries: Vec<_> = goro::blocking(|| std::fs::read_dir(dir)?.collect::<io::Result<_>>())
        .map_err(|e| with_path(e, dir))?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        let kind = goro::blocking(|| entry.file_type()).map_err(|e| with_path(e, &path))?;
        if kind.is_dir() {
            if !walk(&path, paths, ctx)? {
                return Ok(false);
            }
            continue;
        }
        if kind.is_symlink() {
            // Digest a link to a file; skip one to a directory (no cycles);
            // a broken link is an error, which cancels the whole run.
            let target = goro::blocking(|| std::fs::metadata(&path));
            if !target.map_err(|e| with_path(e, &path))?.is_file() {
                continue;
            }
        } else if !kind.is_file() {
            continue; // sockets, fifos, devices
        }
        let sent = select! {
            send(paths, path) -> res => res.is_ok(), // Err: every digester is gone
            recv(ctx.done()) -> _ => false,          // cancelled
        };
        if !sent {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reads and digests files from `paths` until it closes, or until `ctx` is
/// cancelled; the first read error cancels everyone (through the group).
fn digester(
    paths: &Receiver<PathBuf>,
    results: &Sender<(PathBuf, [u8; 16], u64)>,
    ctx: &Context,
) -> io::Result<()> {
    for path in paths {
        if ctx.is_done() {
            return Ok(());
        }
        let data = goro::blocking(|| std::fs::read(&path)).map_err(|e| with_path(e, &path))?;
        let sum: [u8; 16] = Md5::digest(&data).into();
        let len = data.len() as u64;
        select! {
            send(results, (path, sum, len)) -> _ => {}
            recv(ctx.done()) -> _ => return Ok(()),
        }
    }
    Ok(())
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn hex(sum: &[u8; 16]) -> String {
    sum.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> ExitCode {
    let mut root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut workers = 4;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--workers" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => workers = n,
                _ => return usage(),
            },
            _ if arg.starts_with('-') => return usage(),
            _ => root = PathBuf::from(arg),
        }
    }
    let result = {
        let root = root.clone();
        goro::run(move || md5_all(&root, workers))
    };
    match result {
        Ok((sums, bytes)) => {
            for (path, sum) in &sums {
                let shown = path.strip_prefix(&root).unwrap_or(path);
                println!("{}  {}", hex(sum), shown.display());
            }
            println!(
                "digested {} files, {bytes} bytes, with {workers} workers",
                sums.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: pipeline_md5 [DIR] [--workers N]");
    ExitCode::from(2)
}
