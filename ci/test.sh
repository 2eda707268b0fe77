#!/usr/bin/env bash
# The whole test suite: what README.md calls "the tests" and .ci/run runs.
# Debug and release builds (the release run includes the million-coroutine
# scale test); goro-sched's runtime tests once more in the migrating mode;
# the fiber suite once more with the mprotect guard fallback forced.
set -euxo pipefail
cd "$(dirname "$0")"/..

cargo test --workspace
cargo test --workspace --release
# The runtime tests once more in the migrating mode (tests/common/mod.rs).
GORO_TEST_MODE=migrating cargo test --release -p goro-sched
GORO_STACK_GUARD=mprotect cargo test --release -p goro-fiber --lib --test coroutine --test stack
