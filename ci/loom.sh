#!/usr/bin/env bash
# loom models of the lock-free protocols (goro-sched's park protocol and netpoller slot;
# goro-chan's ring and its waiters; goro-sync's Mutex and Semaphore).
set -euxo pipefail
cd "$(dirname "$0")"/..

RUSTFLAGS="--cfg goro_loom" LOOM_MAX_PREEMPTIONS=3 \
    cargo test --release -p goro-sched --test loom_park --target-dir target/loom
RUSTFLAGS="--cfg goro_loom" LOOM_MAX_PREEMPTIONS=3 \
    cargo test --release -p goro-chan --test loom_ring --target-dir target/loom
RUSTFLAGS="--cfg goro_loom" LOOM_MAX_PREEMPTIONS=3 \
    cargo test --release -p goro-sync --test loom_sync --target-dir target/loom
RUSTFLAGS="--cfg goro_loom" LOOM_MAX_PREEMPTIONS=3 \
    cargo test --release -p goro-sched --test loom_poll --target-dir target/loom
