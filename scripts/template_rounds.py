"""What groupwise registration (face.template_rounds) buys, on synthetic cohorts whose mean face
is the template's (synth.mean_shift 0) or differs from it (mean_shift 1: mouth +8 mm,
intercanthal width +4 mm, nose +5 mm, jaw -8 mm), and what it costs.

For each world: the synth stage once; then, for each set of guiding points (`all`: the 65
annotated; `sparse`: 12 of them, the canthi, nasion, pronasale, subnasale, cheilia, labrale
superius and inferius and pogonion, written as a landmark,x,y,z CSV; `none`: no annotation),
the landmarks, register, ams and geometry stages with each number of rounds, in a scratch
folder; from reports/geometry.json the correspondence error to the true faces
(register.vertex_error_mm), the landmark error, and the median registered-vs-true AM
correlation per kind, with the register stage's wall time. Writes
reports/experiments/template_rounds.json (with the commit and settings; docs/geometry.md quotes
it) and prints the table.

    python scripts/template_rounds.py                 # 40 faces per sex, params.yaml's default seed
    python scripts/template_rounds.py --speakers 100
    python scripts/template_rounds.py --summarise    # recompute round_effects of the file as it is
"""
from __future__ import annotations

import argparse
import itertools
import json
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from pipeline.config import default_params, with_values
from pipeline.provenance import run_record
from pipeline.stages import Paths, run_stage

ROOT = Path(__file__).resolve().parents[1]
SPARSE = (11, 15, 19, 23, 28, 31, 35, 39, 42, 45, 48, 53)  # sfv numbers
GUIDES = ("all", "sparse", "none")


def with_guides(root: Path, guides: str, into: Path) -> Path:
    """A copy of the synthetic root (no audio) whose annotations are `guides`."""
    shutil.copytree(root, into, ignore=shutil.ignore_patterns("audio"))
    manifest = pd.read_csv(into / "manifest.csv", dtype=str, keep_default_na=False)
    if guides == "none":
        manifest["landmarks"] = ""
    elif guides == "sparse":
        for rel in manifest["landmarks"]:
            points = pd.read_csv(into / rel)
            rows = points.iloc[[k - 1 for k in SPARSE]].assign(landmark=[f"sfv{k}" for k in SPARSE])
            rows[["landmark", "x", "y", "z"]].to_csv(into / rel, index=False)
    manifest.to_csv(into / "manifest.csv", index=False)
    return into


def round_effects(runs: list[dict]) -> dict:
    """What one more round changes, over every world and guide set run with 0 and 1 rounds: the
    largest relative change of the correspondence error, the largest change of a median AM
    correlation, and the range of the register stage's time ratio."""
    by_key = {(r["mean_shift"], r["guides"], r["rounds"]): r for r in runs}
    pairs = [(r, by_key[(r["mean_shift"], r["guides"], 1)]) for r in runs
             if r["rounds"] == 0 and (r["mean_shift"], r["guides"], 1) in by_key]
    if not pairs:
        return {}
    error = [b["vertex_error_mm"] / a["vertex_error_mm"] - 1 for a, b in pairs]
    am = [b["am_r_median"][k] - a["am_r_median"][k] for a, b in pairs for k in a["am_r_median"]]
    time_ratio = [b["register_seconds"] / a["register_seconds"] for a, b in pairs]
    return {"pairs": len(pairs), "max_abs_vertex_error_change": max(map(abs, error)),
            "max_abs_am_r_change": max(map(abs, am)), "min_time_ratio": min(time_ratio),
            "max_time_ratio": max(time_ratio)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", type=int, default=40, help="faces per sex")
    parser.add_argument("--shifts", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--rounds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--guides", nargs="+", choices=list(GUIDES), default=list(GUIDES))
    parser.add_argument("--out", type=Path, default=ROOT / "reports/experiments/template_rounds.json")
    parser.add_argument("--summarise", action="store_true", help="only recompute round_effects of --out")
    args = parser.parse_args()
    if args.summarise:
        report = json.loads(args.out.read_text())
        report["round_effects"] = round_effects(report["runs"])
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report["round_effects"], indent=2))
        return
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for shift in args.shifts:
            world = Path(scratch) / f"shift{shift}"
            params = with_values(default_params(), "synth", {"speakers": {"male": args.speakers,
                                                                          "female": args.speakers},
                                                             "seconds": 4.0, "recordings": 1, "mean_shift": shift},
                                 "template_rounds.py")
            paths = Paths.from_dvc_yaml(ROOT / "dvc.yaml", world)
            run_stage("synth", None, params, paths)
            for guides, rounds in itertools.product(args.guides, args.rounds):
                root = world / f"root_{guides}"
                if not root.exists():
                    with_guides(paths.synthetic, guides, root)
                data = {"root": str(root), "on_error": "skip"}  # a flagged face is counted, not fatal
                run_params = with_values(with_values(params, "data", data, "script"), "face",
                                         {"template_rounds": rounds}, "script")
                work = Paths.from_dvc_yaml(ROOT / "dvc.yaml", world / f"{guides}_rounds{rounds}")
                run_stage("landmarks", None, run_params, work)
                started = time.perf_counter()
                run_stage("register", None, run_params, work)
                seconds = time.perf_counter() - started
                run_stage("ams", None, run_params, work)
                run_stage("geometry", None, run_params, work)
                report = json.loads(work.geometry.read_text())
                results.append({"mean_shift": shift, "guides": guides, "rounds": rounds, "faces": report["n_faces"],
                                "register_flagged": report["register"]["qc_flagged"],
                                "vertex_error_mm": report["register"]["vertex_error_mm"],
                                "surface_distance_mm": report["register"]["surface_distance_mm"],
                                "landmark_error_mm": report["landmarks"]["error_mm"],
                                "am_r_median": {kind: v["r_median"] for kind, v in report["ams"].items()},
                                "register_seconds": seconds})
                print(json.dumps(results[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    settings = {"speakers_per_sex": args.speakers, "shifts": args.shifts, "rounds": args.rounds,
                "guides": args.guides, "sparse": list(SPARSE), "seconds": 4.0, "seed": params.seed,
                "face": params.face.model_dump(mode="json")}
    args.out.write_text(json.dumps({"speakers_per_sex": args.speakers, "seed": params.seed, "runs": results,
                                    "round_effects": round_effects(results),
                                    "run": run_record(settings, time.perf_counter() - started)}, indent=2) + "\n")
    print("| mean_shift | guides | rounds | vertex error (mm) | AM r: distance / angle / proportion | register (s) |")
    print("|---:|---|---:|---:|---|---:|")
    for r in results:
        am = r["am_r_median"]
        print(f"| {r['mean_shift']:g} | {r['guides']} | {r['rounds']} | {r['vertex_error_mm']:.2f} | "
              f"{am['distance']:.3f} / {am['angle']:.3f} / {am['proportion']:.3f} | {r['register_seconds']:.0f} |")


if __name__ == "__main__":
    main()
