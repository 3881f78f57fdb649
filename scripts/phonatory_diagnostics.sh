#!/usr/bin/env bash
# Why the module changes what it changes (docs/training.md, "Result on the default world"), women only: the
# module with one pre-training step (a control: the same code path, the encoder barely moved),
# with the pre-trained encoder frozen (what the ε-loss alone put into the voice code), and with
# a 10 times lower pre-training learning rate (the encoder moved less).
#   usage: scripts/phonatory_diagnostics.sh [scratch dir]   (about 25 min on 2 cores)
set -euo pipefail
source "$(dirname "$0")/scratch.sh"
scratch_clone "${1:-$(mktemp -d)}"
scratch_run cnn_phonatory_1step -S sfv.estimator=shared -S sfv.test=corrected -S sfv.phonatory=true \
  -S 'sfv.genders=[female]' -S phonatory.steps=1
scratch_run cnn_phonatory_frozen -S phonatory.steps=200 -S phonatory.encoder=frozen
scratch_run cnn_phonatory_lr1e-4 -S phonatory.encoder=trainable -S phonatory.lr=0.0001
