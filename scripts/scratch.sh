# Helpers of the experiment scripts (sourced, not run): DVC experiments in a scratch clone that
# shares this repository's DVC cache, so nothing in this workspace is touched. Each run's
# metrics and selection are copied to reports/experiments/<name>/, its wall time to
# reports/experiments/wall_time.txt (and .json, which the pages quote).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

scratch_clone() {  # scratch dir: clone this repository's HEAD there and enter it
  local dir="$1/sfv"
  rm -rf "$dir"
  git clone -q "$here" "$dir"
  cd "$dir"
  dvc cache dir --local "$here/.dvc/cache"
  dvc checkout -q
  mkdir -p "$here/reports/experiments"
}

scratch_run() {  # name, then the -S settings on top of the workspace's current params
  local name=$1; shift
  local start; start=$(date +%s)
  dvc exp run -n "$name" "$@"
  mkdir -p "$here/reports/experiments/$name"
  sed -i "/^$name: /d" "$here/reports/experiments/wall_time.txt" 2>/dev/null || true
  echo "$name: $(( $(date +%s) - start )) s" | tee -a "$here/reports/experiments/wall_time.txt"
  (cd "$here" && python scripts/wall_times.py >/dev/null)  # the same as JSON, which the pages quote
  cp -r reports/metrics.json reports/selection.json "$here/reports/experiments/$name/"
  # the pre-training losses, when the run pre-trained (with the module off they are headers only)
  if [ -n "$(tail -q -n +2 reports/phonatory/*.csv 2>/dev/null)" ]; then
    cp -r reports/phonatory "$here/reports/experiments/$name/"
  fi
}
