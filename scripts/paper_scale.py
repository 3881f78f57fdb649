"""The whole pipeline once at the source's scale (issue 28): 364 men and 662 women, about 2 min
of speech each (4 recordings of 30 s, silences included), everything else as params.yaml.

A fresh git + DVC project, `.paper_scale/` (git- and DVC-ignored), holds a copy of this working
tree's tracked files (scripts/workspace.py's sync) committed as its baseline; the run is

    dvc exp run -n paper_scale -S synth.speakers.male=364 -S synth.speakers.female=662 \\
        -S synth.recordings=4 -S synth.seconds=30

While it runs, /proc is sampled every SAMPLE_S seconds: which stage's process is alive
(`python -m pipeline.stages NAME`) and the proportional set size (PSS: shared pages split among
the processes sharing them, so forked workers are not counted twice) of every process of the
project but DVC's own. Per stage: wall seconds (first to last sample it was seen in) and peak
PSS of its processes together; for the run: wall seconds, peak PSS, the largest single process.

Then, from the run's outputs and beside the default run's committed ones (reports/): Tables 1/2
keys (reports/metrics.json), declared AMs, recall by oracle-r² bin (the plan's bins) and
precision (reports/selection/<sex>.csv), the reconstruction gain over the mean face, and the
recovered share. With --plan, `sfv plan` at the source's size (men 364, women 662, 120 s of
speech) for the prediction beside them.

Writes reports/experiments/paper_scale/: summary.json (all of it, with run_record),
stages.csv (stage, seconds, peak PSS), comparison.csv (per sex: default run, paper scale, plan), stage_times.csv (both sizes' stages),
dvc.log (the run's output), samples.csv (every sample); default/ the same for --default.

    python scripts/paper_scale.py                 # the run (about an hour on 2 cores)
    python scripts/paper_scale.py --plan          # sfv plan at that size
    python scripts/paper_scale.py --default       # this project's dvc repro -f, sampled the same way
    python scripts/paper_scale.py --resume        # after a failed run (DVC keeps what is up to date)
    python scripts/paper_scale.py --memory        # the train stage's repeat data, copied or shared
    python scripts/paper_scale.py --tabulate      # comparison.csv again from what is there
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import yaml

from pipeline.artifacts import write_json
from pipeline.provenance import run_record
from pipeline.selection.plan import R2_BINS, r2_bins
from workspace import ROOT, dvc_command, sync

WORKSPACE = ROOT / ".paper_scale"
OUT = ROOT / "reports/experiments/paper_scale"
DEFAULT_OUT = OUT / "default"  # the same protocol at params.yaml's size, for the stage times beside
SIZE = {"male": 364, "female": 662}
RECORDINGS, SECONDS = 4, 30.0
OVERRIDES = [f"synth.speakers.male={SIZE['male']}", f"synth.speakers.female={SIZE['female']}",
             f"synth.recordings={RECORDINGS}", f"synth.seconds={SECONDS:g}"]
SAMPLE_S = 0.5
# The resumed run's samples include a killed earlier resume's forkserver and its two idle workers
# (cwd the workspace, no CPU): their PSS, read from /proc/<pid>/smaps_rollup when the run had
# ended, before they were killed. stage_table() takes it off the peaks of that attempt's stages.
STRAY_PSS_MB = {2: 805}
PAGE = os.sysconf("SC_PAGE_SIZE")


def environment() -> dict[str, str]:
    """This Python's environment first on PATH, the workspace's package (not the editable
    install's), no thread settings, a git identity for the experiment commits."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SFV_THREADS", "SFV_WORKERS")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update({"GIT_AUTHOR_NAME": "sfv", "GIT_AUTHOR_EMAIL": "sfv@sfv.invalid",
                "GIT_COMMITTER_NAME": "sfv", "GIT_COMMITTER_EMAIL": "sfv@sfv.invalid"})
    return env


def project(folder: Path, env: dict[str, str]) -> None:
    """A fresh git + DVC project: this working tree's tracked files and params.yaml, committed."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    sync(folder, (ROOT / "params.yaml").read_text(), ROOT)
    (folder / ".dvc/config.local").unlink(missing_ok=True)  # sync's no_scm: this one is a git project
    for cmd in (["git", "init", "-q"], [dvc_command(), "config", "--local", "core.analytics", "false"],
                # links, not copies, from the cache: the audio alone is about 4 GB here
                [dvc_command(), "config", "--local", "cache.type", "hardlink,symlink,copy"],
                ["git", "add", "-A"], ["git", "commit", "-q", "-m", "baseline"]):
        subprocess.run(cmd, cwd=folder, env=env, check=True, capture_output=True)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _pss(pid: str) -> int:
    """Proportional set size in bytes (smaps_rollup), else resident size."""
    rollup = _read(Path(f"/proc/{pid}/smaps_rollup"))
    if rollup:
        for line in rollup.split(b"\n"):
            if line.startswith(b"Pss:"):
                return int(line.split()[1]) * 1024
    statm = _read(Path(f"/proc/{pid}/statm"))
    return int(statm.split()[1]) * PAGE if statm else 0


class Monitor(threading.Thread):
    """Samples the project's processes: the running stage and their PSS."""

    def __init__(self, folder: Path, log: Path) -> None:
        super().__init__(daemon=True)
        self.folder, self.log = str(folder.resolve()), log
        self.samples: list[tuple[float, str | None, int, int]] = []  # time, stage, PSS sum, largest
        self.stop = threading.Event()

    def sample(self) -> tuple[str | None, int, int]:
        stage, total, largest = None, 0, 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{entry.name}/cwd") != self.folder:  # stages run in the project's root
                    continue
            except OSError:
                continue
            argv = (_read(Path(f"/proc/{entry.name}/cmdline")) or b"").split(b"\0")
            if any(arg.endswith(b"/dvc") or arg == b"dvc" for arg in argv[:2]):
                continue  # DVC itself, not a stage
            if b"pipeline.stages" in argv:
                at = argv.index(b"pipeline.stages")
                stage = " ".join(a.decode() for a in argv[at + 1:] if a) or stage
            pss = _pss(entry.name)
            total += pss
            largest = max(largest, pss)
        return stage, total, largest

    def run(self) -> None:
        with open(self.log, "w") as log:  # as it goes: a run cut short keeps its times
            log.write("t,stage,pss,largest\n")
            while not self.stop.is_set():
                self.samples.append((time.time(), *self.sample()))
                log.write(",".join(map(str, self.samples[-1])) + "\n")
                log.flush()
                self.stop.wait(SAMPLE_S)

    def stages(self) -> pd.DataFrame:
        table = pd.DataFrame(self.samples, columns=["t", "stage", "pss", "largest"]).dropna(subset=["stage"])
        rows = [{"stage": stage, "seconds": round(g.t.max() - g.t.min() + SAMPLE_S, 1),
                 "peak_pss_mb": round(g.pss.max() / 2**20), "largest_process_mb": round(g.largest.max() / 2**20)}
                for stage, g in table.groupby("stage", sort=False)]
        return pd.DataFrame(rows)


def run_experiment(folder: Path, env: dict[str, str], out: Path, name: str | None, overrides: list[str]) -> dict:
    """`dvc exp run -n NAME -S ...` in `folder` (name None: `dvc repro -f`), sampled; its log,
    samples and stage table in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    command = ([dvc_command(), "exp", "run", "-n", name, *[a for o in overrides for a in ("-S", o)]] if name
               else [dvc_command(), "repro", "-f"])
    monitor = Monitor(folder, out / "samples.csv")
    monitor.start()
    started = time.perf_counter()
    with open(out / "dvc.log", "w") as log:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, bufsize=1)
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            log.write(line)
        code = process.wait()
    wall = time.perf_counter() - started
    monitor.stop.set()
    monitor.join()
    stages = monitor.stages()
    stages.to_csv(out / "stages.csv", index=False)
    if code:
        raise SystemExit(f"{' '.join(command)} exited {code}; see {out / 'dvc.log'}")
    pss = [s[2] for s in monitor.samples]
    return {"command": " ".join(command[1:]), "wall_s": round(wall, 1),
            "stage_sum_s": round(float(stages.seconds.sum()), 1),
            "peak_pss_mb": round(max(pss) / 2**20), "largest_process_mb": int(stages.largest_process_mb.max()),
            "samples": len(monitor.samples), "run": run_record({"overrides": overrides, "workspace": str(folder)}, wall)}


def outcome(reports: Path, sex: str) -> dict:
    """What one run found for one sex: its own reports folder."""
    selection = pd.read_csv(reports / "selection" / f"{sex}.csv")
    metrics = json.loads((reports / "metrics.json").read_text())
    out = {"declared": int(selection.z.sum()), "ams": len(selection)}
    planted = selection.r2 >= R2_BINS[0]
    out["precision"] = float((selection.z.astype(bool) & planted).sum() / max(selection.z.sum(), 1))
    for label, inside in r2_bins(selection.r2.to_numpy()).items():
        out[f"recall_{label}"] = float(selection.z[inside].mean()) if inside.any() else None
    strong = selection[selection.r2 >= 0.5]
    out["recall_r2>=0.5"] = float(strong.z.mean())
    carried = selection[selection.r2 >= R2_BINS[0]]
    out["recovered_all"] = float((1 - carried.mean_ratio.mean()) / carried.r2.mean())  # the plan's definition
    strong_ratio = strong.mean_ratio.mean()
    out["recovered_share_r2>=0.5"] = float(((1 - strong.mean_ratio) / strong.r2).mean())
    out["mean_ratio_r2>=0.5"] = float(strong_ratio)
    out.update(_flat(metrics[sex]))
    return out


def _flat(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def run_plan(env: dict[str, str]) -> dict:
    """`sfv plan` at the source's size, one sex per call (so men's worlds are not drawn at the
    women's size), the speech per speaker of the run, its default linked worlds and no null
    world (drawing two minutes of voice per speaker is most of the cost), every other setting
    its default."""
    record = {}
    for sex, code in (("male", "M"), ("female", "F")):
        started = time.perf_counter()
        command = [str(Path(sys.executable).parent / "sfv"), "plan", "--speakers", str(SIZE[sex]), "--sexes", code,
                   "--seconds", f"{RECORDINGS * SECONDS:g}", "--null-worlds", "0", "--out", str(OUT / f"plan_{sex}.json"),
                   "--table", str(OUT / f"plan_{sex}.csv"), "--plot", str(OUT / f"plan_{sex}.png")]
        subprocess.run(command, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, check=True)
        record[sex] = {"command": " ".join(command[1:]), "wall_s": round(time.perf_counter() - started, 1)}
    return record


# (row name, key in outcome(), path in a plan point or None)
ROWS = [("declared AMs", "declared", ("declared",)), ("precision", "precision", ("precision",)),
        *[(f"recall, r2 {b}", f"recall_{b}", ("recall", b)) for b in ("0.05-0.1", "0.1-0.2", "0.2-0.3", "0.3-0.5", "0.5-1")],
        ("recovered share", "recovered_all", ("recovered", "all")),
        ("NMSE all_100", "nmse.all_100", ("nmse", "all_100")), ("NMSE all_50", "nmse.all_50", ("nmse", "all_50")),
        ("NMSE predictable", "nmse.predictable", ("nmse", "predictable")),
        ("gain over the mean face (mm)", "reconstruction.gain_over_mean_face_mm", None),
        ("vertex error (mm)", "reconstruction.vertex_error_mm", None), ("1:2 matching", "matching_1v2", None)]


def comparison(summary: dict) -> pd.DataFrame:
    """Per sex and number: the default run, the paper-scale run, and sfv plan's mean and
    prediction interval at the paper's size (when plan_<sex>.json is there)."""
    rows = []
    for sex in SIZE:
        plan_file = OUT / f"plan_{sex}.json"
        point = None
        if plan_file.is_file():
            plan = json.loads(plan_file.read_text())
            point = plan["points"][f"{sex}/{RECORDINGS * SECONDS:g}"][str(SIZE[sex])]
        for name, key, path in ROWS:
            row = {"sex": sex, "number": name, "default_run": summary["default_outcome"][sex].get(key),
                   "paper_scale": summary["outcome"][sex].get(key)}
            if point is not None and path is not None:
                value = point
                for part in path:
                    value = value[part]
                row |= {"plan_mean": value["mean"], "plan_low": value["low"], "plan_high": value["high"],
                        "inside": "yes" if value["low"] - 1e-9 <= row["paper_scale"] <= value["high"] + 1e-9 else "no"}
            rows.append(row)
    return pd.DataFrame(rows)


def resume(env: dict[str, str]) -> None:
    """After a failed run: this working tree's code into the workspace (committed there), the
    failed attempt's log, samples and stages kept in OUT/attempt<k>/, and the same `dvc exp run`
    again; DVC keeps the stages that are still up to date, whose times come from the attempt that
    ran them (stages.csv's `attempt`)."""
    attempts = json.loads((OUT / "attempts.json").read_text()) if (OUT / "attempts.json").is_file() else []
    earlier = OUT / f"attempt{len(attempts) + 1}"
    earlier.mkdir(parents=True, exist_ok=True)
    for name in ("dvc.log", "samples.csv", "stages.csv"):
        shutil.move(OUT / name, earlier / name)
    attempts.append({"folder": str(earlier.relative_to(ROOT)), "failure": (earlier / "dvc.log").read_text().strip()
                     .splitlines()[-1]})
    write_json(attempts, OUT / "attempts.json")
    changed = sync(WORKSPACE, (WORKSPACE / "params.yaml").read_text(), ROOT)
    subprocess.run(["git", "add", "-A", "--", "pipeline", "dvc.yaml"], cwd=WORKSPACE, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "-m", f"code of the resumed run ({changed} files)"], cwd=WORKSPACE, env=env)
    record = run_experiment(WORKSPACE, env, OUT, "paper_scale_resumed", OVERRIDES)
    stages = pd.read_csv(OUT / "stages.csv").assign(attempt=len(attempts) + 1)
    for k, attempt in enumerate(attempts, 1):
        before = pd.read_csv(ROOT / attempt["folder"] / "stages.csv")
        kept = before[~before.stage.isin(stages.stage) & (before.stage != before.stage.iloc[-1])]  # not the failed one
        stages = pd.concat([kept.assign(attempt=k), stages], ignore_index=True)
    stages.to_csv(OUT / "stages.csv", index=False)
    record["stage_sum_s"] = round(float(stages.seconds.sum()), 1)
    write_json(record, OUT / "experiment.json")


def stage_table() -> pd.DataFrame:
    """Per stage, in run order: seconds and peak PSS at the default size and at the source's (less
    STRAY_PSS_MB), and their ratio, plus a total row."""
    paper = pd.read_csv(OUT / "stages.csv").set_index("stage")
    paper["peak_pss_mb"] -= paper.attempt.map(STRAY_PSS_MB).fillna(0)
    default = pd.read_csv(DEFAULT_OUT / "stages.csv").set_index("stage")
    order = list(default.index) + [s for s in paper.index if s not in default.index]
    rows = [{"stage": s, "default_s": default.seconds.get(s), "paper_s": paper.seconds.get(s),
             "default_peak_mb": default.peak_pss_mb.get(s), "paper_peak_mb": paper.peak_pss_mb.get(s)} for s in order]
    rows.append({"stage": "all stages", "default_s": default.seconds.sum(), "paper_s": paper.seconds.sum(),
                 "default_peak_mb": default.peak_pss_mb.max(), "paper_peak_mb": paper.peak_pss_mb.max()})
    table = pd.DataFrame(rows)
    return table.assign(ratio=table.paper_s / table.default_s)


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE / 2**20


def repeat_memory(sex: str = "female") -> dict:
    """The train stage's repeat data at the source's scale, built as before the fix (each repeat
    joins its own copy of D_t's frames) and as now (one joined copy shared): the resident memory
    each adds over the loaded features, for all of sfv.repeats at once (the stage builds them all)."""
    from pipeline.cohort import Gender
    from pipeline.config import load_params
    from pipeline.estimator.data import joined_features, load_features, repeat_data
    from pipeline.seeds import repeat_seed
    from pipeline.splits import Splits

    params = load_params(WORKSPACE / "params.yaml")
    features = load_features(WORKSPACE / "data/features")
    splits = Splits(pd.read_csv(WORKSPACE / "data/splits" / f"{sex}.csv", dtype={"speaker_id": str}))
    targets = pd.read_csv(WORKSPACE / "data/ams/ams.csv", dtype={"speaker_id": str}).set_index("speaker_id")
    targets = targets.loc[splits.speakers, [c for c in targets.columns if c.startswith("am_")]]
    record = {"sex": sex, "repeats": params.sfv.repeats, "speakers": len(splits.speakers),
              "features_mb": round(sum(r.nbytes for f in features.values() for r in f) / 2**20)}
    for way in ("shared", "per_repeat"):
        before = _rss_mb()
        joined = joined_features(features) if way == "shared" else None
        built = [repeat_data(r, repeat_seed(params.seed, Gender(sex), r), splits.repeat(r), features, targets, joined=joined)
                 for r in range(1, params.sfv.repeats + 1)]
        record[f"{way}_mb"] = round(_rss_mb() - before)
        del built, joined
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan", action="store_true", help="also run sfv plan at the source's size")
    parser.add_argument("--default", action="store_true",
                        help="`dvc repro -f` of this project (params.yaml's size), sampled the same way: stage "
                             "times and memory beside, and reports/ refreshed")
    parser.add_argument("--resume", action="store_true",
                        help="after a failed run: this tree's code into the workspace, the same run again")
    parser.add_argument("--memory", action="store_true",
                        help="the train stage's repeat data at this size, per-repeat copies against shared")
    parser.add_argument("--tabulate", action="store_true", help="only comparison.csv, from what is there")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    summary_path = OUT / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    env = environment()
    if args.memory:
        record = repeat_memory()
        write_json({**record, "run": run_record({"workspace": str(WORKSPACE)})}, OUT / "repeat_memory.json")
        print(record)
        return
    if args.plan:  # its own record: the run may still be writing summary.json
        write_json(run_plan(env), OUT / "plan_runs.json")
        return
    if args.default:  # this project's own default run, every stage forced: it refreshes reports/ too
        record = {"experiment": run_experiment(ROOT, {**env, "PYTHONPATH": str(ROOT)}, DEFAULT_OUT, None, [])}
        record["outcome"] = {sex: outcome(ROOT / "reports", sex) for sex in SIZE}
        write_json(record, DEFAULT_OUT / "summary.json")
        return
    if args.resume:
        resume(env)
    elif not args.tabulate:
        project(WORKSPACE, env)
        summary = {"size": SIZE, "recordings": RECORDINGS, "seconds": SECONDS, "overrides": OVERRIDES,
                   "experiment": run_experiment(WORKSPACE, env, OUT, "paper_scale", OVERRIDES)}
        write_json(summary, summary_path)
    if args.resume:
        summary = {"size": SIZE, "recordings": RECORDINGS, "seconds": SECONDS, "overrides": OVERRIDES,
                   "experiment": json.loads((OUT / "experiment.json").read_text()),
                   "attempts": json.loads((OUT / "attempts.json").read_text())}
    summary["params"] = yaml.safe_load((WORKSPACE / "params.yaml").read_text())
    summary["outcome"] = {sex: outcome(WORKSPACE / "reports", sex) for sex in SIZE}
    summary["default_outcome"] = {sex: outcome(ROOT / "reports", sex) for sex in SIZE}  # the default run
    write_json(summary, summary_path)
    table = comparison(summary)
    table.to_csv(OUT / "comparison.csv", index=False, float_format="%.4g")
    print(table.to_string(index=False))
    if (DEFAULT_OUT / "stages.csv").is_file():
        times = stage_table()
        times.to_csv(OUT / "stage_times.csv", index=False, float_format="%.4g")
        print(times.to_string(index=False))


if __name__ == "__main__":
    main()
