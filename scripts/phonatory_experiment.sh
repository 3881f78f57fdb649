#!/usr/bin/env bash
# The with/without comparison of the phonatory module (docs/training.md, "Result on the default world"): the
# shared CNN on the default world without and with the module, in a scratch clone (see
# scratch.sh). scripts/phonatory_tables.py tabulates reports/experiments/.
#   usage: scripts/phonatory_experiment.sh [scratch dir]   (about 25 min on 2 cores)
set -euo pipefail
source "$(dirname "$0")/scratch.sh"
scratch_clone "${1:-$(mktemp -d)}"
scratch_run cnn -S sfv.estimator=shared -S sfv.test=corrected
scratch_run cnn_phonatory -S sfv.phonatory=true
dvc exp diff cnn cnn_phonatory --md | tee "$here/reports/experiments/exp_diff.md"
