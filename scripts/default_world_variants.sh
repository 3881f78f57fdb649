#!/usr/bin/env bash
# The default world's one-setting variants that docs/reconstruction.md and docs/phonemes.md
# report: 20 and 5 guiding AMs (only reconstruct, evaluate and what follows re-run) and the
# phoneme analysis per single phone. Each run is the default with one setting changed.
#   usage: scripts/default_world_variants.sh [scratch dir]   (about 3 min on 2 cores)
set -euo pipefail
source "$(dirname "$0")/scratch.sh"
scratch_clone "${1:-$(mktemp -d)}"
scratch_run recon_top20 -S reconstruct.top_k=20
scratch_run recon_top5 -S reconstruct.top_k=5
dvc metrics diff --targets reports/metrics.json | tee "$here/reports/experiments/recon_top5/metrics_diff.txt"
scratch_run phonemes_by_phone -S reconstruct.top_k=10 -S phonemes.by=phone
cp -r reports/phonemes "$here/reports/experiments/phonemes_by_phone/"
scratch_run repeats100 -S phonemes.by=class -S sfv.repeats=100
