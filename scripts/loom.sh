#!/usr/bin/env bash
# The jobs engine's lifecycle, model-checked with loom (src/engine/model.rs):
# submit, cancel, free a queue, shut a pool down with jobs in flight, delivery.
# The crate is built with `--cfg camb_loom` (the engine's locks, condition variables
# and threads become loom's) in a target directory of its own, so that it does
# not rebuild the ordinary one. Preemptions are bounded in each model (1 or 2,
# src/engine/model.rs), which keeps it to a few minutes on 2 cores;
# LOOM_MAX_PREEMPTIONS overrides that for a deeper run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/target-dir.sh
export RUSTFLAGS="--cfg camb_loom ${RUSTFLAGS:-}"
export CARGO_TARGET_DIR="$TARGET_DIR/loom"
started=$(date +%s)
cargo test --release --lib engine::model -- --test-threads=1 "$@"
echo "loom: the engine's model passed in $(( $(date +%s) - started )) s"
