"""Which outputs are bit-stable across what differs between two machines of one kind, and by
how much the others move: thread counts, the SIMD code paths numpy, OpenBLAS, torch (ATen,
MKL, oneDNN) pick for the CPU, and the process pool's width (pipeline/parallel.py).

Each setting is a set of environment variables, read by those libraries when they load, so
each setting runs in a process of its own. The reference setting is this machine as it is.

Stages (default): for each setting, a child process runs the stages synth .. select on a small
default-world cohort (--speakers per sex; every other parameter params.yaml's default) into
a folder; every output file's md5 is compared with the reference setting's, and where it
differs, by how much (largest absolute difference of the numbers it holds). Writes
reports/experiments/bit_stability/stages.json and stages.csv (a row per setting and output
group), after every setting.

Kernels (--kernels): for each setting, a child process computes the elementwise functions,
reductions and products the stages lean on (numpy's exp, log, power, arctan2, ...; BLAS and
torch products) on fixed inputs, and the template mesh (the first output the stages make);
each is compared with the reference setting's, in units in the last place. Seconds per setting:
it names the kernel behind a difference the stages mode finds. Writes
reports/experiments/bit_stability/kernels.json.

Pipeline (--pipeline SETTING ...): the default `dvc repro` in a workspace (.bit_stability/,
scripts/workspace.py) under each setting's environment, compared with a reference workspace
run under this machine's default environment (--reference, default the seed spread's seed 0,
.seed_spread/seed_0, which is the default run): dvc.lock's md5 of every output, and every
metric's difference, also in SDs of the seed spread (reports/experiments/seeds/summary.json).
Writes reports/experiments/bit_stability/pipeline.json.

    python scripts/bit_stability.py                        # every setting, 6 speakers per sex
    python scripts/bit_stability.py --resume               # the settings stages.json lacks
    python scripts/bit_stability.py --kernels              # every setting, kernel by kernel
    python scripts/bit_stability.py --pipeline avx2_machine
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.artifacts import write_csv, write_json
from pipeline.spread import flatten, is_number
from pipeline.stability import compare_folders, comparison_table, differing, ulps
from workspace import ROOT, commit, metrics, repro, stage_outputs, sync

OUT = ROOT / "reports/experiments/bit_stability"
STAGES = ("synth", "vad", "features", "landmarks", "register", "ams", "splits", "train", "select")
NO_AVX512_NUMPY = "X86_V4,AVX512_ICL,AVX512_SPR"  # numpy's dispatch targets above AVX2 (numpy 2.4 names)

# name -> (what it emulates, environment)
SETTINGS: dict[str, tuple[str, dict[str, str]]] = {
    "reference": ("this machine as it is", {}),
    "reference_again": ("the reference once more (is a run repeatable at all?)", {}),
    "threads_1": ("one thread for OpenMP (torch), OpenBLAS (numpy) and MKL (SFV_THREADS too: pipeline/threads.py sets them)",
                  {"SFV_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}),
    "threads_4": ("four threads for each", {"SFV_THREADS": "4", "OMP_NUM_THREADS": "4", "OPENBLAS_NUM_THREADS": "4",
                                            "MKL_NUM_THREADS": "4"}),
    "workers_1": ("no process pool (SFV_WORKERS=1): every person and scan in the stage's process",
                  {"SFV_WORKERS": "1"}),
    "workers_3": ("a pool of 3 processes (SFV_WORKERS=3): other chunks per worker, other completion order",
                  {"SFV_WORKERS": "3"}),
    "numpy_avx2": ("numpy's SIMD dispatch of a CPU with AVX2 but no AVX-512",
                   {"NPY_DISABLE_CPU_FEATURES": NO_AVX512_NUMPY}),
    "numpy_icelake": ("numpy's SIMD dispatch of an AVX-512 CPU without the Sapphire Rapids extensions (Ice Lake)",
                      {"NPY_DISABLE_CPU_FEATURES": "AVX512_SPR"}),
    "numpy_baseline": ("numpy's SIMD dispatch of an x86-64-v2 CPU (no AVX2)",
                       {"NPY_DISABLE_CPU_FEATURES": "X86_V3," + NO_AVX512_NUMPY}),
    "openblas_haswell": ("OpenBLAS's kernels for an AVX2 CPU (OPENBLAS_CORETYPE=Haswell)", {"OPENBLAS_CORETYPE": "Haswell"}),
    "openblas_sapphirerapids": ("OpenBLAS's kernels for a CPU it names SapphireRapids",
                                {"OPENBLAS_CORETYPE": "SapphireRapids"}),
    "torch_avx2": ("torch's ATen kernels at AVX2 (ATEN_CPU_CAPABILITY=avx2)", {"ATEN_CPU_CAPABILITY": "avx2"}),
    "torch_default": ("torch's ATen kernels without vector extensions (ATEN_CPU_CAPABILITY=default)",
                      {"ATEN_CPU_CAPABILITY": "default"}),
    "mkl_avx2": ("torch's MKL at AVX2 (MKL_ENABLE_INSTRUCTIONS=AVX2)", {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}),
    "onednn_avx2": ("torch's oneDNN at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2)", {"ONEDNN_MAX_CPU_ISA": "AVX2"}),
    "avx2_machine": ("a CPU with AVX2 and no AVX-512: all of numpy_avx2, openblas_haswell, torch_avx2, mkl_avx2, "
                     "onednn_avx2", {"NPY_DISABLE_CPU_FEATURES": NO_AVX512_NUMPY, "OPENBLAS_CORETYPE": "Haswell",
                                     "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                                     "ONEDNN_MAX_CPU_ISA": "AVX2"}),
}


def detected() -> dict:
    """What the libraries picked in this process: numpy's dispatch targets, BLAS, torch."""
    import torch
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    from threadpoolctl import threadpool_info

    return {"numpy_dispatch": sorted(f for f in __cpu_dispatch__ if __cpu_features__.get(f)),
            "blas": sorted({f"{i['internal_api']} {i.get('architecture')} x{i['num_threads']}" for i in threadpool_info()}),
            "torch_capability": torch.backends.cpu.get_cpu_capability(), "torch_threads": torch.get_num_threads(),
            "cores": len(os.sched_getaffinity(0))}


def child(folder: Path, speakers: int, stages: list[str]) -> None:
    """Run `stages` on the small cohort into `folder` (this process's environment is the setting)."""
    from pipeline.config import load_params, with_values
    from pipeline.stages import Paths, run_stage
    from pipeline.threads import apply_threads

    apply_threads()  # as a stage's process does (pipeline/stages/__init__.py)
    paths = Paths.from_dvc_yaml(ROOT / "dvc.yaml", folder)
    params = with_values(load_params(ROOT / "params.yaml"), "synth", {"speakers": {"male": speakers, "female": speakers}}, "bit_stability")
    params = with_values(params, "data", {"root": str(paths.synthetic)}, "bit_stability")
    seconds = {}
    for stage in stages:
        started = time.perf_counter()
        run_stage(stage, None, params, paths)
        seconds[stage] = round(time.perf_counter() - started, 1)
    (folder / "setting.json").write_text(json.dumps({"detected": detected(), "stage_seconds": seconds}, indent=1))


def kernels() -> dict[str, np.ndarray]:
    """Results of the kernels the stages lean on, on fixed inputs (deterministic)."""
    import torch

    from pipeline.config import load_params
    from pipeline.face.template import build_template

    x = np.linspace(-5.0, 5.0, 100_001)
    positive = np.abs(x) + 0.1
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 300))
    signal = torch.from_numpy(rng.standard_normal((1, 4, 16_000)).astype(np.float32))
    weight = torch.from_numpy(rng.standard_normal((8, 4, 9)).astype(np.float32))
    template = build_template(load_params(ROOT / "params.yaml").face.template_vertices)
    out = {f"numpy.{f.__name__}": f(x) for f in (np.exp, np.expm1, np.sin, np.cos, np.tanh)}
    out.update({f"numpy.{f.__name__}": f(positive) for f in (np.log, np.log1p, np.sqrt, np.cbrt)})
    out.update({"numpy.power": np.power(positive, 1.7), "numpy.arctan2": np.arctan2(x, x[::-1] + 0.3),
                "numpy.sum": np.array([a.sum()]), "numpy.matmul (BLAS dgemm)": a @ a,
                "numpy.linalg.solve (LAPACK)": np.linalg.solve(a + 300 * np.eye(300), a[:, 0]),
                "numpy.linalg.svd (LAPACK)": np.linalg.svd(a, compute_uv=False),
                "torch.exp float32": torch.exp(torch.from_numpy(x.astype(np.float32))).numpy(),
                "torch.matmul float32": (torch.from_numpy(a.astype(np.float32)) @ torch.from_numpy(a.astype(np.float32))).numpy(),
                "torch.conv1d float32": torch.nn.functional.conv1d(signal, weight).numpy(),
                "template.vertices": template.vertices, "template.faces": template.faces})
    return out


def kernel_child(file: Path) -> None:
    """Write `kernels()` and what the libraries detected to `file` (an NPZ)."""
    np.savez(file, detected=np.array(json.dumps(detected())), **kernels())


def run_kernels(args: argparse.Namespace) -> None:
    names = ["reference", *[n for n in (args.settings or SETTINGS) if n != "reference"]]
    head, uncommitted = commit()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bit_stability_") as scratch:
        for name in names:
            what, env = SETTINGS[name]
            file = Path(scratch) / f"{name}.npz"
            subprocess.run([sys.executable, __file__, "--kernel-child", str(file)], check=True,
                           env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
            with np.load(file) as mine, np.load(Path(scratch) / "reference.npz") as reference:
                kept = [k for k in mine.files if k != "detected" and not k.startswith("template.")]
                moved = {k: ulps(reference[k], mine[k]) for k in kept}
                same = reference["template.faces"].shape == mine["template.faces"].shape
                template = {"faces_identical": same and bool((reference["template.faces"] == mine["template.faces"]).all()),
                            "vertices_max_abs_diff_mm": float(np.abs(reference["template.vertices"] -
                                                                     mine["template.vertices"]).max())}
                results[name] = {"what": what, "env": env, "detected": json.loads(str(mine["detected"])),
                                 "kernels_differing": sorted(k for k, u in moved.items() if u), "ulps": moved,
                                 "template": template}
            print(f"== {name}: {', '.join(results[name]['kernels_differing']) or 'every kernel identical'}", flush=True)
    write_json({"what": "kernels the stages lean on, on fixed inputs, under each setting against the reference "
                        "setting (scripts/bit_stability.py --kernels): per kernel the largest distance in units in "
                        "the last place (0: bit-identical); the template mesh (params.yaml's vertex count): its "
                        "triangles identical or not, and the largest |difference| of its vertices in mm",
                "commit": head, "uncommitted_changes": uncommitted, "settings": results},
               args.out / "kernels.json", sort_keys=False)
    print(f"wrote {args.out / 'kernels.json'}")


def resumed(out: Path, args: argparse.Namespace) -> tuple[dict[str, dict], dict[str, dict[str, dict]]]:
    """The settings an earlier study of the same cohort measured, each marked with the commit it
    ran at (its comparison was against that run's reference, at that commit); its reference is
    kept as `reference@<commit>`, since the resumed study runs the reference again."""
    if not out.is_file():
        return {}, {}
    old = json.loads(out.read_text())
    if old["speakers_per_sex"] != args.speakers or old["stages"] != list(args.stages):
        raise SystemExit(f"{out} measured another cohort or other stages: resume with its --speakers and --stages")
    results = {(f"reference@{old['commit'][:7]}" if name == "reference" else name): {"commit": old["commit"], **entry}
               for name, entry in old["settings"].items()}
    compared = {name: entry["outputs"] for name, entry in results.items() if "outputs" in entry}
    return results, compared


def run_stages(args: argparse.Namespace) -> None:
    names = args.settings or list(SETTINGS)
    if "reference" not in names:
        names = ["reference", *names]
    head, uncommitted = commit()
    out = args.out / "stages.json"
    results, compared = resumed(out, args) if args.resume else ({}, {})
    names = [n for n in names if n == "reference" or n not in results]
    with tempfile.TemporaryDirectory(prefix="bit_stability_") as scratch:
        for i, name in enumerate(names, 1):
            what, env = SETTINGS[name]
            folder = Path(scratch) / name
            print(f"== {name} ({i}/{len(names)}): {what}", flush=True)
            started = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--child", str(folder), "--speakers", str(args.speakers),
                            "--stages", *args.stages], check=True, env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
            setting = json.loads((folder / "setting.json").read_text())
            results[name] = {"what": what, "env": env, "commit": head, **setting,
                             "seconds": round(time.perf_counter() - started, 1)}
            if name != "reference":
                groups = compare_folders(Path(scratch) / "reference", folder, frozenset({"setting.json"}))
                moved = differing(groups)
                compared[name] = groups
                results[name].update({"bit_stable": not moved, "groups": len(groups),
                                      "groups_identical": len(groups) - len(moved), "groups_differing": moved,
                                      "outputs": groups})
                print(f"   {len(moved)} of {len(groups)} output groups differ: {', '.join(moved) or '-'}", flush=True)
            # Written after every setting: an interrupted study keeps what it measured.
            write_json({
                "what": "outputs of the stages below on a small default-world cohort under each setting, against "
                        "the reference setting run at the setting's commit (scripts/bit_stability.py; a resumed "
                        "study keeps an earlier reference as reference@<commit>); per output group (speaker IDs "
                        "generalised): files, byte-identical files, and among the others the largest |difference| "
                        "of the numbers held (wav: 16-bit steps; csv: numeric columns as written), the largest share "
                        "of numbers that differ and the largest |number|",
                "commit": head, "uncommitted_changes": uncommitted, "speakers_per_sex": args.speakers,
                "stages": list(args.stages), "settings_done": len(results),
                "settings_asked": list(dict.fromkeys([*results, *names])),
                "settings": results}, out, sort_keys=False)
            write_csv(comparison_table(compared), out.with_suffix(".csv"), float_format=None)
    print(f"wrote {out}")


def run_pipeline(args: argparse.Namespace) -> None:
    head, uncommitted = commit()
    reference = args.reference
    ref_outs = stage_outputs(reference / "dvc.lock")
    ref_metrics = metrics(reference)
    spread = ROOT / "reports/experiments/seeds/summary.json"
    seeds = json.loads(spread.read_text()) if spread.is_file() else {"metrics": {}, "commit": None}
    out = args.out / "pipeline.json"
    record = json.loads(out.read_text()) if out.exists() else {"settings": {}}
    committed = stage_outputs(ROOT / "dvc.lock")
    record["reference"] = {"workspace": str(reference.relative_to(ROOT)),
                           "outputs_equal_to_committed_dvc_lock": sorted(p for p, h in ref_outs.items() if committed.get(p) == h),
                           "outputs_unlike_committed_dvc_lock": sorted(p for p, h in ref_outs.items() if committed.get(p) != h)}
    for name in args.pipeline:
        what, env = SETTINGS[name]
        workspace = args.workspaces / name
        sync(workspace, (ROOT / "params.yaml").read_text(), ROOT)
        print(f"== {name}: {what}; dvc repro in {workspace}", flush=True)
        started = time.perf_counter()
        ran = repro(workspace, name, env)
        seconds = time.perf_counter() - started
        outs = stage_outputs(workspace / "dvc.lock")
        shown = metrics(workspace)
        moved = {}
        for file, tree in sorted(shown.items()):
            for key, value in sorted(flatten(tree).items()):
                base = flatten(ref_metrics.get(file, {})).get(key)
                if is_number(value) and is_number(base) and value != base:
                    sd = seeds["metrics"].get(file, {}).get(key, {}).get("sd")
                    moved[f"{file}:{key}"] = {"reference": base, "setting": value, "difference": value - base,
                                             "in_seed_sds": (value - base) / sd if sd else None}
        record["settings"][name] = {
            "what": what, "env": env, "stages_run": len(ran), "seconds": round(seconds),
            "outputs_identical": sorted(p for p, h in outs.items() if ref_outs.get(p) == h),
            "outputs_differing": sorted(p for p, h in outs.items() if ref_outs.get(p) != h),
            "metrics_differing": moved, "metrics_total": sum(is_number(v) for t in shown.values() for v in flatten(t).values())}
        print(f"   {len(record['settings'][name]['outputs_differing'])} of {len(outs)} outputs differ, "
              f"{len(moved)} metrics moved", flush=True)
    record.update({"what": "the default pipeline (dvc repro) under each setting's environment against the reference "
                           "workspace, run under this machine's default one (scripts/bit_stability.py --pipeline): "
                           "dvc.lock md5 per output, and every metric that moved, also in SDs of the seed spread "
                           "(reports/experiments/seeds/summary.json)",
                   "commit": head, "uncommitted_changes": uncommitted, "seed_spread_commit": seeds["commit"]})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), help="default: all")
    parser.add_argument("--speakers", type=int, default=6, help="per sex, for the stages run (default 6)")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=list(STAGES))
    parser.add_argument("--pipeline", nargs="+", choices=list(SETTINGS), help="run the default pipeline under these")
    parser.add_argument("--reference", type=Path, default=ROOT / ".seed_spread/seed_0")
    parser.add_argument("--workspaces", type=Path, default=ROOT / ".bit_stability")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--resume", action="store_true",
                        help="keep the settings stages.json already has, run the reference and the rest")
    parser.add_argument("--kernels", action="store_true", help="compare kernel by kernel (seconds per setting)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--kernel-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.speakers, args.stages)
    elif args.kernel_child:
        kernel_child(args.kernel_child)
    elif args.kernels:
        run_kernels(args)
    elif args.pipeline:
        run_pipeline(args)
    else:
        run_stages(args)


if __name__ == "__main__":
    main()
