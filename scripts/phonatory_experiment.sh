#!/usr/bin/env bash
# The with/without comparison of the phonatory module (README, "The phonatory module"):
# two DVC experiments on the default world in a scratch clone that shares this repository's
# DVC cache, so nothing in this workspace is touched. Their metrics are copied to
# reports/experiments/<name>/ and tabulated by scripts/phonatory_tables.py.
#   usage: scripts/phonatory_experiment.sh [scratch dir]   (about 40 min on 2 cores)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:-$(mktemp -d)}/sfv"
rm -rf "$scratch"
git clone -q "$here" "$scratch"
cd "$scratch"
dvc cache dir --local "$here/.dvc/cache"
dvc checkout -q
mkdir -p "$here/reports/experiments"
: > "$here/reports/experiments/wall_time.txt"
run() {  # name, then the -S settings on top of the previous experiment's workspace
  local name=$1; shift
  local start; start=$(date +%s)
  dvc exp run -n "$name" "$@"
  echo "$name: $(( $(date +%s) - start )) s" | tee -a "$here/reports/experiments/wall_time.txt"
  mkdir -p "$here/reports/experiments/$name"
  cp -r reports/metrics.json reports/selection.json reports/phonatory "$here/reports/experiments/$name/"
}
run cnn -S sfv.estimator=shared -S sfv.test=corrected
run cnn_phonatory -S sfv.phonatory=true
dvc exp diff cnn cnn_phonatory --md | tee "$here/reports/experiments/exp_diff.md"
