#!/usr/bin/env bash
# The null world through the whole pipeline (docs/selection.md): the default world with the
# voice-face link cut (synth.coupling 0) at N = 100 repeats. Every declared AM is a false one.
#   usage: scripts/null_world.sh [scratch dir]   (about 24 min on 2 cores)
set -euo pipefail
source "$(dirname "$0")/scratch.sh"
scratch_clone "${1:-$(mktemp -d)}"
scratch_run null_world -S synth.coupling=0 -S sfv.repeats=100
