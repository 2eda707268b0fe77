#!/usr/bin/env bash
# The whole test suite: what README.md calls "the tests" and .ci/run runs.
# Debug and release builds (the release run includes the million-coroutine
# scale test); the runtime, channel, sync and pattern tests once more in the
# migrating mode; the fiber suite once more with the mprotect guard fallback
# forced; the release suite once more with both cores kept busy by another
# process, so that tests with thin timing margins fail here, not for users.
set -euxo pipefail
cd "$(dirname "$0")"/..

cargo test --workspace
cargo test --workspace --release
# Once more in the migrating mode (crates/sched/tests/common/mod.rs; the
# other crates' tests include it).
GORO_TEST_MODE=migrating cargo test --release -p goro-sched -p goro-chan -p goro-sync -p goro-patterns -p goro-net
GORO_STACK_GUARD=mprotect cargo test --release -p goro-fiber --lib --test coroutine --test stack
# Both cores busy (two `yes`), ended with the script whatever happens.
yes > /dev/null &
busy1=$!
yes > /dev/null &
busy2=$!
trap 'kill "$busy1" "$busy2" 2>/dev/null || true' EXIT
cargo test --workspace --release
