//! What `cargo xtask bench` runs: the systems and the workloads, with their
//! sizes, units, notes and the goals of DESIGN.md §4.

/// One system under test: a binary that runs `<binary> <workload> <n>` and
/// prints `checksum=<u64> elapsed_ns=<u64>` (and, for some workloads, more
/// `key=value` fields).
#[derive(Debug)]
pub(crate) struct System {
    /// Name in flags and table columns.
    pub(crate) name: &'static str,
    /// File name of the binary under `target/release`.
    pub(crate) binary: &'static str,
    /// Environment variables the binary runs with.
    pub(crate) env: &'static [(&'static str, &'static str)],
}

/// All systems, in table column order. goro comes first: ratios are goro's.
pub(crate) const SYSTEMS: &[System] = &[
    System {
        name: "goro",
        binary: "bench-goro",
        env: &[],
    },
    System {
        name: "goro-migrate",
        binary: "bench-goro",
        env: &[("GORO_BENCH_MODE", "migrating")],
    },
    System {
        name: "go",
        binary: "bench-go",
        env: &[],
    },
    System {
        name: "tokio",
        binary: "bench-tokio",
        env: &[],
    },
    System {
        name: "may",
        binary: "bench-may",
        env: &[],
    },
    System {
        name: "crossbeam",
        binary: "bench-crossbeam",
        env: &[],
    },
    System {
        name: "corosensei",
        binary: "bench-corosensei",
        env: &[],
    },
];

/// How a run's printed fields become its figure (lower is better for all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Measure {
    /// `elapsed_ns / (n * ops_per_n)`.
    PerOp,
    /// `elapsed_ns / requests`: a rate's inverse, for a workload that runs
    /// for a time (`n` ms) and counts what it got done in it.
    PerRequest,
    /// `(peak_kib - baseline_kib) / n`: resident KiB per parked goroutine.
    KibEach,
    /// As `KibEach`, with `threads` (the process's threads once all `n`
    /// are parked) as a second figure.
    KibEachThreads,
    /// `worst_lag_us` in ms, with `p99_lag_us` in ms as a second figure.
    Lag,
}

impl Measure {
    /// What the second figure is called in the table and the history, if
    /// there is one.
    pub(crate) fn second(self) -> Option<&'static str> {
        match self {
            Measure::Lag => Some("p99"),
            Measure::KibEachThreads => Some("threads"),
            Measure::PerOp | Measure::PerRequest | Measure::KibEach => None,
        }
    }
}

/// A goal of DESIGN.md §4: goro's figure at most `max` times the peer's
/// figure, or at most `max` itself (in the workload's unit) with no peer.
/// `of` names the column judged when it is not `goro` (the default mode);
/// `second` judges the second figure (with no peer) instead of the first.
#[derive(Debug)]
pub(crate) struct Goal {
    pub(crate) peer: Option<&'static str>,
    pub(crate) max: f64,
    pub(crate) of: Option<&'static str>,
    pub(crate) second: bool,
}

/// One workload, run by each of its systems' binaries as `<binary> <name> <n>`.
#[derive(Debug)]
pub(crate) struct Workload {
    /// Name in flags, in the binaries' arguments and in the table.
    pub(crate) name: &'static str,
    /// What one operation is, for `--help`.
    pub(crate) about: &'static str,
    /// The size passed to the binaries normally, and with `--quick`.
    pub(crate) n: u64,
    pub(crate) quick_n: u64,
    /// Operations per unit of `n`: 1, unless each of the `n` (goroutines, say)
    /// does a fixed batch of them.
    pub(crate) ops_per_n: u64,
    /// Unit of the figures.
    pub(crate) unit: &'static str,
    /// Unit of `n` in the table, if it is not a count.
    pub(crate) n_unit: &'static str,
    pub(crate) measure: Measure,
    /// Names of the systems (from [`SYSTEMS`]) that implement this workload.
    pub(crate) systems: &'static [&'static str],
    /// `(system, n, quick_n)`: a system that runs this workload at another
    /// size (its note says why).
    pub(crate) sizes: &'static [(&'static str, u64, u64)],
    /// `(system, note)`: how a system runs this workload differently from
    /// the others, printed under the table.
    pub(crate) notes: &'static [(&'static str, &'static str)],
    /// `(system, reason)`: a system that cannot run this workload, and why.
    pub(crate) skips: &'static [(&'static str, &'static str)],
    /// DESIGN.md §4's goals for goro.
    pub(crate) goals: &'static [Goal],
}

impl Workload {
    /// The size `system` runs this workload at.
    pub(crate) fn n_for(&self, system: &str, quick: bool) -> u64 {
        let own = self.sizes.iter().find(|(s, _, _)| *s == system);
        match (own, quick) {
            (Some(&(_, n, _)), false) => n,
            (Some(&(_, _, q)), true) => q,
            (None, false) => self.n,
            (None, true) => self.quick_n,
        }
    }
}

/// Goals of a workload that goro should run at most `max` times as long as
/// Go.
const fn vs_go(max: f64) -> Goal {
    vs_peer("go", max)
}

/// At most `max` times `peer`'s figure (a time: lower is better).
const fn vs_peer(peer: &'static str, max: f64) -> Goal {
    Goal {
        peer: Some(peer),
        max,
        of: None,
        second: false,
    }
}

/// may's stacks are one `mmap` each with an `mprotect`ed guard page: two
/// memory maps per coroutine, so `vm.max_map_count` (65530 by default) holds
/// about 32K live coroutines, and a million fail with ENOMEM.
const MAY_MAPS: &str = "n = 20_000 (quick: 10_000): each may stack is an mmap of its own with an \
    mprotect guard (2 memory maps), and vm.max_map_count (65530 by default) allows about 32K \
    live coroutines; a million fail with ENOMEM";

/// How the `hogs` workloads treat each peer.
const HOG_NOTES: &[(&str, &str)] = &[
    (
        "goro",
        "the hogs are plain goroutines (no goro::blocking): sysmon must notice them on its own",
    ),
    (
        "go",
        "CPU loop: preempted asynchronously (Go ≥ 1.14); sleep: syscall.Nanosleep (time.Sleep would \
         park the goroutine); read: a raw blocking socket and syscall.Read (a net.Conn would park \
         on the netpoller)",
    ),
    (
        "tokio",
        "the hogs are plain tokio::spawn tasks that block their workers, as a naive port would \
         (spawn_blocking would spare them); tokio's timer wheel ticks in whole ms",
    ),
    (
        "may",
        "the hogs are plain coroutines that block their workers; a coroutine woken by its timer \
         runs on may's timer thread, so the sleeping ticker needs no worker at all",
    ),
];

/// How the `hogs-net` workload treats each peer: every hog waits on its
/// system's own socket type, so none blocks a worker.
const NET_HOG_NOTES: &[(&str, &str)] = &[
    (
        "goro",
        "the hogs are plain goroutines reading a goro::net::TcpStream: parked on the netpoller",
    ),
    ("go", "the hogs read a net.Conn: parked on the netpoller"),
    (
        "tokio",
        "the hogs are tasks awaiting a read on a tokio::net::TcpStream",
    ),
    (
        "may",
        "the hogs are coroutines reading a may::net::TcpStream: parked on may's poller",
    ),
];

/// The `hogs` goal: worst tick lag at most 20 ms, in the migrating mode
/// (in the default mode a hog's worker keeps its started goroutines, the
/// ticker perhaps among them: sysmon reports the hog instead).
const HOG_GOAL: &[Goal] = &[Goal {
    peer: None,
    max: 20.0,
    of: Some("goro-migrate"),
    second: false,
}];

/// The systems that run the network workloads (may has sockets, but no
/// side written for them).
const NET_SYSTEMS: &[&str] = &["goro", "goro-migrate", "go", "tokio"];

/// The systems that run the `hogs` workloads.
const HOG_SYSTEMS: &[&str] = &["goro", "goro-migrate", "go", "tokio", "may"];

/// A `hogs` workload: `n` ms of hogs, the ticker's lag as the figure.
const fn hog_workload(
    name: &'static str,
    about: &'static str,
    systems: &'static [&'static str],
    notes: &'static [(&'static str, &'static str)],
    goals: &'static [Goal],
) -> Workload {
    Workload {
        name,
        about,
        n: 2_000,
        quick_n: 300,
        ops_per_n: 1,
        unit: "tick lag ms: worst, p99",
        n_unit: " ms",
        measure: Measure::Lag,
        systems,
        sizes: &[],
        notes,
        skips: &[],
        goals,
    }
}

/// All workloads, in table row order.
pub(crate) const WORKLOADS: &[Workload] = &[
    Workload {
        name: "switch",
        about: "fiber resume + suspend round trip",
        n: 20_000_000,
        quick_n: 1_000_000,
        ops_per_n: 1,
        unit: "ns per round trip",
        n_unit: "",
        measure: Measure::PerOp,
        systems: &["goro", "corosensei"],
        sizes: &[],
        notes: &[],
        skips: &[],
        goals: &[Goal {
            peer: Some("corosensei"),
            max: 1.0,
            of: None,
            second: false,
        }],
    },
    Workload {
        name: "spawn",
        about: "n goroutines each bump a counter; wait for all",
        n: 1_000_000,
        quick_n: 100_000,
        ops_per_n: 1,
        unit: "ns per goroutine",
        n_unit: "",
        measure: Measure::PerOp,
        systems: &["goro", "goro-migrate", "go", "tokio", "may"],
        sizes: &[("may", 20_000, 10_000)],
        notes: &[("may", MAY_MAPS)],
        skips: &[],
        goals: &[vs_go(0.5), vs_peer("tokio", 1.0)],
    },
    Workload {
        name: "skynet",
        about: "tree of goroutines, 10 children a node, n leaves, sums over channels",
        n: 1_000_000,
        quick_n: 100_000,
        ops_per_n: 1,
        unit: "ns per leaf",
        n_unit: "",
        measure: Measure::PerOp,
        systems: &["goro", "goro-migrate", "go", "tokio", "may"],
        sizes: &[("may", 10_000, 10_000)],
        notes: &[
            (
                "tokio",
                "mpsc channels of capacity 1 (tokio has no unbuffered channel)",
            ),
            (
                "may",
                "unbounded mpsc channels (may has no other kind); n = 10_000: as for spawn, \
                 its stacks take 2 memory maps each",
            ),
        ],
        skips: &[],
        goals: &[vs_go(0.5)],
    },
    Workload {
        name: "skynet-join",
        about: "skynet with sums over join handles (Go has no such thing)",
        n: 1_000_000,
        quick_n: 100_000,
        ops_per_n: 1,
        unit: "ns per leaf",
        n_unit: "",
        measure: Measure::PerOp,
        systems: &["goro", "goro-migrate", "tokio"],
        sizes: &[],
        notes: &[],
        skips: &[],
        goals: &[],
    },
    Workload {
        name: "pingpong",
        about: "round trips over two unbuffered channels (tokio: capacity 1)",
        n: 1_000_000,
        quick_n: 100_000,
        ops_per_n: 1,
        unit: "ns per round trip",
        n_unit: "",
        measure: Measure::PerOp,
        systems: &["goro", "goro-migrate", "go", "tokio", "may", "crossbeam"],
        sizes: &[],
        notes: &[
            ("tokio", "mpsc channels of capacity 1"),
            (
                "may",
                "unbounded mpsc channels (one value in flight at a time here)",
            ),
            ("crossbeam", "two OS threads"),
        ],
        skips: &[],
        goals: &[vs_go(0.5)],
    },
    Workload {
        name: "ring",
        about: "503 goroutines pass a token around a ring of unbuffered channels",
        n: 10_000_000,
        quick_n: 1_000_000,
        ops_per_n: 1,
        unit: "ns per hop",
        n_unit: "",
        measure: Measure::PerOp,
        systems: &["goro", "goro-migrate", "go", "tokio", "may"],
        sizes: &[],
        notes: &[
            ("tokio", "mpsc channels of capacity 1"),
            ("may", "unbounded mpsc channels (one token in flight)"),
        ],
        skips: &[],
        goals: &[vs_go(0.5)],
    },
    Workload {
        name: "ring1",
        about: "503 goroutines pass a token around a ring of channels of one",
        n: 10_000_000,
        quick_n: 1_000_000,
        ops_per_n: 1,
        unit: "ns per hop",
        n_unit: "",
        measure: Measure::PerOp,
        systems: &["goro", "goro-migrate", "go", "tokio"],
        sizes: &[],
        notes: &[(
            "tokio",
            "mpsc channels of capacity 1 (the same as its ring)",
        )],
        skips: &[],
        goals: &[vs_go(0.5)],
    },
    Workload {
        name: "mpmc",
        about: "4 producers, 4 consumers, one channel of 1024",
        n: 10_000_000,
        quick_n: 1_000_000,
        ops_per_n: 1,
        unit: "ns per message",
        n_unit: "",
        measure: Measure::PerOp,
        systems: &["goro", "goro-migrate", "go", "may", "crossbeam"],
        sizes: &[],
        notes: &[
            (
                "may",
                "may::sync::mpmc is unbounded (may has no bounded channel): producers never wait",
            ),
            ("crossbeam", "8 OS threads"),
        ],
        skips: &[],
        goals: &[
            vs_go(0.7),
            Goal {
                peer: Some("crossbeam"),
                max: 1.0,
                of: None,
                second: false,
            },
        ],
    },
    Workload {
        name: "select",
        about: "one consumer selects over 4 unbuffered channels, 4 producers",
        n: 4_000_000,
        quick_n: 400_000,
        ops_per_n: 1,
        unit: "ns per message",
        n_unit: "",
        measure: Measure::PerOp,
        systems: &["goro", "goro-migrate", "go", "tokio", "crossbeam"],
        sizes: &[],
        notes: &[
            ("tokio", "tokio::select! over mpsc channels of capacity 1"),
            ("crossbeam", "5 OS threads"),
        ],
        skips: &[(
            "may",
            "may::select! runs each arm in a coroutine of its own and cancels the losers with \
             the value they may have received: with several channels ready it loses messages \
             (8 messages on 4 channels: 2 selected, then the consumer waits forever)",
        )],
        goals: &[vs_go(0.6)],
    },
    Workload {
        name: "select-buffered",
        about: "one consumer selects over 4 channels of 1024, 4 producers that close them",
        n: 4_000_000,
        quick_n: 400_000,
        ops_per_n: 1,
        unit: "ns per message",
        n_unit: "",
        measure: Measure::PerOp,
        systems: &["goro", "goro-migrate", "go", "tokio", "crossbeam"],
        sizes: &[],
        notes: &[
            ("tokio", "tokio::select! over mpsc channels of 1024"),
            ("crossbeam", "5 OS threads"),
        ],
        skips: &[],
        goals: &[vs_go(0.6)],
    },
    Workload {
        name: "mutex",
        about: "n goroutines × 1000 increments of a counter under one shared mutex",
        n: 1_000,
        quick_n: 100,
        ops_per_n: 1_000,
        unit: "ns per increment",
        n_unit: "",
        measure: Measure::PerOp,
        systems: &["goro", "goro-migrate", "go", "tokio", "may", "crossbeam"],
        sizes: &[],
        notes: &[
            ("tokio", "tokio::sync::Mutex, n tasks"),
            ("may", "may::sync::Mutex, n coroutines"),
            (
                "crossbeam",
                "std::sync::Mutex on 8 OS threads sharing the same n × 1000 increments",
            ),
        ],
        skips: &[],
        goals: &[vs_go(1.0)],
    },
    Workload {
        name: "memory",
        about: "n goroutines parked receiving on one channel; peak resident KiB each",
        n: 1_000_000,
        quick_n: 100_000,
        ops_per_n: 1,
        unit: "KiB per parked goroutine",
        n_unit: "",
        measure: Measure::KibEach,
        systems: &["goro", "goro-migrate", "go", "tokio", "may"],
        sizes: &[("may", 20_000, 10_000)],
        notes: &[
            (
                "all",
                "(VmHWM once all n are parked - VmRSS once the runtime has started, before the \
                 first spawn) / n, both read from /proc/self/status in the benchmark process; \
                 closing the channel then releases them all (checksum: how many were released)",
            ),
            (
                "tokio",
                "the tasks wait on one tokio::sync::watch channel (tokio's mpsc has one receiver)",
            ),
            ("may", MAY_MAPS),
        ],
        skips: &[],
        goals: &[Goal {
            peer: None,
            max: 5.0,
            of: None,
            second: false,
        }],
    },
    hog_workload(
        "hogs",
        "a hog per worker spins n ms; a goroutine sleeps 1 ms at a time: worst lag",
        HOG_SYSTEMS,
        HOG_NOTES,
        HOG_GOAL,
    ),
    hog_workload(
        "hogs-sleep",
        "hogs in std::thread::sleep (50 ms chunks) instead of a CPU loop",
        HOG_SYSTEMS,
        HOG_NOTES,
        HOG_GOAL,
    ),
    hog_workload(
        "hogs-read",
        "hogs in a blocking TcpStream::read on loopback, written to after n ms",
        HOG_SYSTEMS,
        HOG_NOTES,
        HOG_GOAL,
    ),
    hog_workload(
        "hogs-net",
        "hogs in a read on the system's own loopback socket, written to after n ms",
        HOG_SYSTEMS,
        NET_HOG_NOTES,
        &[Goal {
            peer: None,
            max: 5.0,
            of: None,
            second: false,
        }],
    ),
    hog_workload(
        "hogs-blocking",
        "the CPU-loop hogs, each wrapped in goro::blocking (goro only)",
        &["goro", "goro-migrate"],
        &[(
            "goro",
            "each hog runs inside goro::blocking: on the blocking pool in the default mode, in place \
             with its worker handed off at once in the migrating mode",
        )],
        &[
            Goal {
                peer: None,
                max: 20.0,
                of: None,
                second: false,
            },
            Goal {
                peer: None,
                max: 20.0,
                of: Some("goro-migrate"),
                second: false,
            },
        ],
    ),
    Workload {
        name: "echo",
        about: "n loopback connections × 1000 round trips of 64 B, both ends in one process",
        n: 1_000,
        quick_n: 100,
        ops_per_n: 1_000,
        unit: "ns per round trip",
        n_unit: "",
        measure: Measure::PerOp,
        systems: NET_SYSTEMS,
        sizes: &[],
        notes: &[
            (
                "all",
                "a goroutine (task) per connection at each end, the clients and the server in \
                 one process; the server reads into 1 KiB and writes back what it read; \
                 TCP_NODELAY at both ends (Go's default); checksum: the sum of the numbers the \
                 messages carry, each checked on its way back",
            ),
            (
                "tokio",
                "the listener is a TcpSocket with a backlog of 4096 (goro's and Go's; \
                 TcpListener::bind takes 1024)",
            ),
        ],
        skips: &[],
        goals: &[vs_go(0.8), vs_peer("tokio", 1.0)],
    },
    Workload {
        name: "idle-conns",
        about: "n loopback connections, each a goroutine parked in read; KiB each, threads",
        n: 10_000,
        quick_n: 1_000,
        ops_per_n: 1,
        unit: "KiB per connection, threads",
        n_unit: "",
        measure: Measure::KibEachThreads,
        systems: NET_SYSTEMS,
        sizes: &[],
        notes: &[(
            "all",
            "the clients are another process (bench-client idle: 20,000 descriptors, the hard \
             limit here, do not hold both ends of 10,000 connections); a goroutine (task) per \
             accepted connection reads into 64 B; (VmHWM once all n wait in read - VmRSS before \
             the first accept) / n, and the threads then (entries of /proc/self/task); the \
             client then closes them all (checksum: how many read the end of the stream)",
        )],
        skips: &[],
        goals: &[
            Goal {
                peer: None,
                max: 8.0,
                of: None,
                second: false,
            },
            // DESIGN.md §4: workers + 3, and the machine has 2 CPUs.
            Goal {
                peer: None,
                max: 5.0,
                of: None,
                second: true,
            },
        ],
    },
    Workload {
        name: "http",
        about: "HTTP/1.1 hello server driven n ms by 256 keep-alive connections of bench-client",
        n: 10_000,
        quick_n: 500,
        ops_per_n: 1,
        unit: "ns per request (1e9 / requests per s)",
        n_unit: " ms",
        measure: Measure::PerRequest,
        systems: NET_SYSTEMS,
        sizes: &[],
        notes: &[
            (
                "all",
                "one load client for every server: bench-client, another process, on goro (a \
                 goroutine per connection) and on the same 2 CPUs; 256 keep-alive connections, \
                 one GET / at a time each, every answer checked (200, body hello); the figure \
                 is the client's time over the answers it got (checksum: the connections)",
            ),
            (
                "goro",
                "the http_hello example's server (crates/goro/examples/http_hello.rs, included): \
                 a goroutine per connection parsing with httparse; it sends content-length and \
                 content-type but no date header (Go and hyper send one, some 37 bytes)",
            ),
            ("go", "net/http with a HandlerFunc writing hello"),
            (
                "tokio",
                "hyper 1's http1 server on hyper-util's TokioIo, a task per connection",
            ),
        ],
        skips: &[],
        goals: &[vs_go(1.0)],
    },
];
