//! Runs each example of `crates/goro/examples/` with small arguments and
//! checks what it prints: exact lines where the result is deterministic
//! (primes, digests, the crawl set, counts), bounds where it is timing.
//! The servers (`echo`, `chat`, `http_hello`) listen on a free port and
//! get a few clients; `echo` is stopped with SIGINT, which its signal
//! channel turns into a clean exit. (`tests/chat.rs` and
//! `tests/http_hello.rs` load the servers harder.)
//!
//! `cargo test` builds the examples before it runs the tests; they are
//! found next to this test's binary, in `target/<profile>/examples/`. (With
//! `--test examples` alone cargo does not build them: run `cargo test -p
//! goro` or `cargo build -p goro --examples` first.)

use std::io::{BufRead, BufReader, Lines, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Generous bound against a hung example (never a timing claim).
const HANG: Duration = Duration::from_secs(120);

fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/examples-<hash> -> target/<profile>/examples/<name>
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let rebuild = "run `cargo test -p goro` (which builds the examples) or \
                   `cargo build -p goro --examples` first";
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: {rebuild}", path.display()));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let edited = std::fs::metadata(&source)
        .and_then(|m| m.modified())
        .unwrap();
    assert!(
        edited <= built,
        "{} is older than {}: {rebuild}",
        path.display(),
        source.display()
    );
    path
}

/// Runs an example to its end; returns its exit status and stdout.
fn run(name: &str, args: &[&str]) -> (ExitStatus, String) {
    let mut child = Command::new(example_path(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > HANG {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "example {name} {args:?} still running after {HANG:?}; stdout so far:\n{}",
                out.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    println!("--- {name} {args:?}: {status}\n{out}--- stderr\n{err}");
    (status, out)
}

/// Runs an example that must succeed; returns its stdout.
fn run_ok(name: &str, args: &[&str]) -> String {
    let (status, out) = run(name, args);
    assert!(
        status.success(),
        "example {name} {args:?} failed: {status}\n{out}"
    );
    out
}

fn assert_line(out: &str, line: &str) {
    assert!(
        out.lines().any(|l| l == line),
        "no line {line:?} in the output:\n{out}"
    );
}

/// The line that starts with `prefix`.
fn line_with<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in the output:\n{out}"))
}

/// The number right after `before` in `line`.
fn number_after(line: &str, before: &str) -> u64 {
    let rest = &line[line
        .find(before)
        .unwrap_or_else(|| panic!("{before:?} not in {line:?}"))
        + before.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {before:?} in {line:?}"))
}

#[test]
fn tour() {
    let out = run_ok("tour", &[]);
    for line in [
        "goroutines: 10 goroutines squared 1..=10, sum 385",
        "goroutines: go!(greet(..)) returned \"hello, gopher\"",
        "goroutines: a panicking goroutine's join says \"goroutine panicked: oops\"",
        "channels: received [1, 2, 3], then the channel closed",
        "select: no reply within 20 ms: timeout",
        "select: got \"fast\" before the timeout",
        "waitgroup: 100 goroutines added 1..=100 under a Mutex: 5050",
        "worker pool: 4 workers ran 20 jobs, sum of cubes 44100",
        "pipeline: squares of 1..=8 in order: [1, 4, 9, 16, 25, 36, 49, 64]",
        "pipeline: plus one, sorted: [2, 5, 10, 17, 26, 37, 50, 65]",
        "pipeline: an endless stream gave [2, 4, 6]; dropped, 0 goroutines left",
        "context: cancel() woke 3 waiting goroutines",
        "virtual time: a 1-minute ticker ticked 1440 times in 24 virtual hours",
    ] {
        assert_line(&out, line);
    }
    line_with(&out, "tour: done in ");
}

fn first_primes(n: usize) -> Vec<u64> {
    let mut primes: Vec<u64> = Vec::new();
    let mut k: u64 = 2;
    while primes.len() < n {
        if primes.iter().all(|&p| !k.is_multiple_of(p)) {
            primes.push(k);
        }
        k += 1;
    }
    primes
}

#[test]
fn prime_sieve() {
    let out = run_ok("prime_sieve", &["25"]);
    assert_line(
        &out,
        "first 25 primes: 2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71 73 79 83 89 97",
    );
    assert_line(
        &out,
        "goroutines: 26 started (1 generator, 25 filters), 0 left",
    );

    let out = run_ok("prime_sieve", &["300"]);
    let primes: Vec<String> = first_primes(300).iter().map(u64::to_string).collect();
    assert_line(&out, &format!("first 300 primes: {}", primes.join(" ")));
    assert_line(
        &out,
        "goroutines: 301 started (1 generator, 300 filters), 0 left",
    );

    let out = run_ok("prime_sieve", &[]); // the default: 100
    assert!(line_with(&out, "first 100 primes: 2 3 5 ").ends_with(" 523 541"));
}

fn collatz_steps(mut n: u64) -> u64 {
    let mut steps = 0;
    while n != 1 {
        n = if n.is_multiple_of(2) {
            n / 2
        } else {
            3 * n + 1
        };
        steps += 1;
    }
    steps
}

#[test]
fn worker_pool() {
    let out = run_ok("worker_pool", &["20", "3"]);
    assert_line(&out, "pool: 3 workers, a queue of 4, 20 jobs");
    let mut total = 0;
    for n in (1..=20).filter(|&n| n != 13) {
        let steps = collatz_steps(n);
        total += steps;
        assert_line(&out, &format!("job {n}: {steps} steps"));
    }
    assert_line(&out, "job 13: failed: job panicked: job 13 is unlucky");
    assert_line(
        &out,
        &format!("done: 19 jobs ok, 1 failed, {total} steps in all"),
    );
    let busy = line_with(&out, "busy: at most ");
    let most = number_after(busy, "at most ");
    assert!((1..=3).contains(&most), "{busy}");
    assert_line(&out, "closed: try_submit -> Closed");
    assert_line(&out, "closed: submit -> PoolClosed");

    // Fewer jobs than 13: none fails.
    let out = run_ok("worker_pool", &["5", "2"]);
    let total: u64 = (1..=5).map(collatz_steps).sum();
    assert_line(
        &out,
        &format!("done: 5 jobs ok, 0 failed, {total} steps in all"),
    );
}

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("goro-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, rel: &str, data: &[u8]) {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn pipeline_md5() {
    // RFC 1321's test suite, and a million 'a's, in a small tree.
    let tree = TempDir::new("md5");
    tree.write("empty", b"");
    tree.write("a/abc", b"abc");
    tree.write("a/b/message", b"message digest");
    tree.write("a/b/c/alphabet", b"abcdefghijklmnopqrstuvwxyz");
    tree.write(
        "a/digits",
        b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
    );
    tree.write("million", &vec![b'a'; 1_000_000]);
    let root = tree.path().to_str().unwrap();
    let expected = "\
900150983cd24fb0d6963f7d28e17f72  a/abc
c3fcd3d76192e4007dfb496cca67e13b  a/b/c/alphabet
f96b697d7cb7938d525a2f31aaf161d0  a/b/message
57edf4a22be3c955ac49da2e2107b67a  a/digits
d41d8cd98f00b204e9800998ecf8427e  empty
7707d6ae4e027c70eea2a935c2296f21  million
digested 6 files, 1000123 bytes, with 3 workers
";
    assert_eq!(run_ok("pipeline_md5", &[root, "--workers", "3"]), expected);
    // One worker or many: the same digests.
    let one = run_ok("pipeline_md5", &["--workers", "1", root]);
    assert_eq!(one, expected.replace("with 3 workers", "with 1 workers"));

    // An error (a broken link) cancels the run: no digest, the error, a
    // failed exit.
    let with_link = tree.path().join("a/b/broken");
    std::os::unix::fs::symlink(tree.path().join("nowhere"), &with_link).unwrap();
    let (status, out) = run("pipeline_md5", &[root, "--workers", "2"]);
    assert!(!status.success(), "{out}");
    let error = line_with(&out, "error: ");
    assert!(
        error.contains("broken") && error.contains("No such file"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");

    let (status, out) = run("pipeline_md5", &["/nonexistent/goro/tree"]);
    assert!(!status.success(), "{out}");
    assert!(line_with(&out, "error: ").contains("/nonexistent/goro/tree"));
}

#[test]
fn rate_limit() {
    let out = run_ok("rate_limit", &["20", "100", "5"]);
    for i in 1..=5 {
        line_with(&out, &format!("tick: request {i} at +"));
    }
    // The k-th tick of a 20 ms ticker comes no sooner than k * 20 ms.
    let tick = line_with(&out, "tick: 5 requests in ");
    assert!(number_after(tick, "in ") >= 100, "{tick}");
    assert_line(
        &out,
        "limiter: allow() let 5 of 10 immediate requests through (burst 5)",
    );
    let mut served: Vec<u64> = out
        .lines()
        .filter(|l| l.contains(" served by goroutine "))
        .map(|l| number_after(l, "limiter: request "))
        .collect();
    served.sort_unstable();
    assert_eq!(served, (1..=20).collect::<Vec<_>>());
    // 20 requests, bursts of 5, 100 a second: no sooner than 150 ms.
    let done = line_with(&out, "limiter: 20 requests in ");
    assert!(number_after(done, "in ") >= 150, "{done}");
    assert!(
        done.ends_with("(the bucket allows no less than 150 ms)"),
        "{done}"
    );
}

#[test]
fn select_timeout() {
    let out = run_ok("select_timeout", &["400"]);
    assert_eq!(
        out,
        "\
timeout 1
result 2
no message received
no message sent
recv_timeout 3: timed out waiting on receive operation
result 3 (after waiting longer)
context 4: context deadline exceeded
"
    );
}

#[test]
fn stateful_goroutine() {
    let (readers, writers, ops) = (20u64, 7u64, 30u64);
    let args = [readers, writers, ops].map(|n| n.to_string());
    let out = run_ok("stateful_goroutine", &args.each_ref().map(String::as_str));
    assert_line(&out, &format!("readOps: {}", readers * ops));
    assert_line(&out, &format!("writeOps: {}", writers * ops));
    let mut state = [0u64; 5];
    for w in 0..writers {
        for i in 0..ops {
            state[((w + i) % 5) as usize] += i + 1;
        }
    }
    let shown: Vec<String> = state
        .iter()
        .enumerate()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    assert_line(&out, &format!("state: {}", shown.join(" ")));
    assert_line(
        &out,
        &format!("state total: {}", writers * ops * (ops + 1) / 2),
    );
}

#[test]
fn crawler() {
    let full = "\
found: https://golang.org/ \"The Go Programming Language\"
not found: https://golang.org/cmd/
found: https://golang.org/pkg/ \"Packages\"
found: https://golang.org/pkg/fmt/ \"Package fmt\"
found: https://golang.org/pkg/os/ \"Package os\"
";
    let out = run_ok("crawler", &[]);
    assert!(out.starts_with(full), "{out}");
    let summary = line_with(&out, "crawled 5 urls (4 found, 1 not found), at most ");
    assert!(summary.ends_with("fetches at once (limit 2)"), "{summary}");
    assert!(number_after(summary, "at most ") <= 2, "{summary}");

    // One fetch at a time, three at a time: the same pages.
    let out = run_ok("crawler", &["4", "--limit", "1"]);
    assert!(out.starts_with(full), "{out}");
    assert_line(
        &out,
        "crawled 5 urls (4 found, 1 not found), at most 1 fetches at once (limit 1)",
    );
    let out = run_ok("crawler", &["--limit", "3", "--latency-ms", "1"]);
    assert!(out.starts_with(full), "{out}");

    // Depth 2: the start page and its links only.
    let out = run_ok("crawler", &["2"]);
    let depth2 = "\
found: https://golang.org/ \"The Go Programming Language\"
not found: https://golang.org/cmd/
found: https://golang.org/pkg/ \"Packages\"
";
    assert!(out.starts_with(depth2), "{out}");
    line_with(&out, "crawled 3 urls (2 found, 1 not found)");

    // Cancelled by the context's timeout, long before the first fetch ends.
    let start = Instant::now();
    let out = run_ok("crawler", &["--timeout-ms", "100", "--latency-ms", "30000"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("cancelled: context deadline exceeded"),
        "{out}"
    );
    let summary = lines.next().unwrap();
    assert!(summary.starts_with("crawled 0 urls (0 found, 0 not found), at most "));
    assert_eq!(lines.next(), None, "{out}");
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "the fetch was not cancelled"
    );
}

/// A server example started on a free port: the child, the address it
/// printed, and the rest of its stdout.
fn start_server(name: &str) -> (Child, SocketAddr, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(example_path(name))
        .arg("127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix(&format!("{name}: listening on "))
        .unwrap_or_else(|| panic!("{name} printed {first:?}"))
        .parse()
        .unwrap();
    (child, addr, lines)
}

/// Waits for a server example that was told to stop (killed after `HANG`).
fn wait_server(name: &str, mut child: Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > HANG {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("example {name} still running after {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn client(addr: SocketAddr) -> (std::net::TcpStream, BufReader<std::net::TcpStream>) {
    let conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(HANG)).unwrap();
    let reader = BufReader::new(conn.try_clone().unwrap());
    (conn, reader)
}

fn read_line(reader: &mut BufReader<std::net::TcpStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

#[test]
fn echo_stops_on_interrupt() {
    let (child, addr, mut lines) = start_server("echo");
    let (mut conn, mut reader) = client(addr);
    conn.write_all(b"hello\n").unwrap();
    assert_eq!(read_line(&mut reader), "hello\n");
    drop((conn, reader));
    // Ctrl-C: the example's signal channel, not the default action.
    goro::signal::kill(child.id(), goro::signal::Signal::Interrupt).unwrap();
    let status = wait_server("echo", child);
    let rest: Vec<String> = lines.by_ref().map(Result::unwrap).collect();
    assert!(status.success(), "{status}: {rest:?}");
    assert_eq!(rest, ["echo: interrupt: served 1 connections, 6 bytes"]);
}

#[test]
fn chat_relays_between_two_clients() {
    let (mut child, addr, _lines) = start_server("chat");
    let (mut a, mut a_in) = client(addr);
    let you_are = read_line(&mut a_in);
    let a_name = you_are
        .trim_end()
        .strip_prefix("You are ")
        .unwrap()
        .to_owned();
    assert_eq!(read_line(&mut a_in), format!("{a_name} has arrived\n"));
    let (b, mut b_in) = client(addr);
    let b_name = b.local_addr().unwrap().to_string();
    assert_eq!(read_line(&mut b_in), format!("You are {b_name}\n"));
    assert_eq!(read_line(&mut b_in), format!("{b_name} has arrived\n"));
    assert_eq!(read_line(&mut a_in), format!("{b_name} has arrived\n"));
    a.write_all(b"hi there\r\n").unwrap();
    assert_eq!(read_line(&mut a_in), format!("{a_name}: hi there\n"));
    assert_eq!(read_line(&mut b_in), format!("{a_name}: hi there\n"));
    drop((b, b_in));
    assert_eq!(read_line(&mut a_in), format!("{b_name} has left\n"));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn http_hello_answers_on_one_connection() {
    let (mut child, addr, _lines) = start_server("http_hello");
    let (mut conn, mut reader) = client(addr);
    for _ in 0..3 {
        conn.write_all(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
            .unwrap();
        assert_eq!(read_line(&mut reader), "HTTP/1.1 200 OK\r\n");
        let mut length = None;
        loop {
            let header = read_line(&mut reader);
            if header == "\r\n" {
                break;
            }
            if let Some(n) = header.strip_prefix("Content-Length: ") {
                length = Some(n.trim_end().parse::<usize>().unwrap());
            }
        }
        let mut body = vec![0u8; length.unwrap()];
        reader.read_exact(&mut body).unwrap();
        assert_eq!(body, b"hello");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
