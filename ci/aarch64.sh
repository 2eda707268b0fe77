#!/usr/bin/env bash
# The aarch64 switch, run under qemu-user: cross-builds goro-fiber's coroutine
# suite and the mprotect-guard overflow report for aarch64-unknown-linux-gnu.
# (Overflow reports with madvise guards cannot be checked under qemu-user,
# which emulates the fault.) Skips, saying so, when the tools cannot be had.
set -euo pipefail
cd "$(dirname "$0")"/..

if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross) \
        >/dev/null 2>&1 || true
fi
if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null \
    || ! rustup target add aarch64-unknown-linux-gnu; then
    echo "ci/aarch64.sh: qemu-user, the cross gcc or the rust target is unavailable: skipped"
    exit 0
fi

set -x
runner="qemu-aarch64 -L /usr/aarch64-linux-gnu"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$runner"
export GORO_TEST_RUNNER="$runner"
target=(--target aarch64-unknown-linux-gnu)
cargo test -p goro-fiber "${target[@]}" --lib --test coroutine
cargo test -p goro-fiber "${target[@]}" --test stack -- --exact overflow_is_reported_with_mprotect_guards
