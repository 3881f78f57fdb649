"""`sfv`: the command line of the shape-from-voice pipeline."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .artifacts import write_json
from .bench_vad import bench_vad
from .benchmarks import (bench_audio, bench_geometry, bench_permutations, bench_phonatory, bench_reconstruct,
                         bench_synth, bench_train, phonatory_estimates, provenance)
from .errors import ParamsError, SfvError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sfv", description="Shape from voice: voice -> face measurements -> 3D face.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    predict = commands.add_parser("predict", help="the AMs and the 3D face a new voice implies, from the trained models")
    predict.add_argument("voices", nargs="+", type=Path, metavar="VOICE",
                         help="one speaker's recordings (WAV or FLAC, any rate, mono or stereo)")
    predict.add_argument("--gender", required=True, choices=["male", "female"],
                         help="which gender's estimators and face model to use")
    predict.add_argument("--models", type=Path, default=Path("models"), help="the models folder of a `dvc repro`")
    predict.add_argument("-o", "--out", type=Path, default=Path("face.ply"), help="the reconstructed face (PLY)")
    predict.add_argument("--json", type=Path, default=None, help="also write every AM's prediction as JSON")
    predict.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    bench = commands.add_parser("bench-synth", help="benchmark synthetic cohort generation (docs/benchmarks.md)")
    bench.add_argument("--people", type=int, default=20)
    bench.add_argument("--vertices", type=int, default=6790)
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--out", type=str, default="reports/bench.json")
    audio = commands.add_parser("bench-audio", help="benchmark log-mel features against librosa, and the VADs")
    audio.add_argument("--recordings", type=int, default=32)
    audio.add_argument("--seconds", type=float, default=20.0)
    audio.add_argument("--seed", type=int, default=0)
    audio.add_argument("--out", type=str, default="reports/bench.json")
    vad = commands.add_parser("bench-vad", help="benchmark the vad stage beside a busy torch process, against the "
                              "code before its thread settings (issue 29)")
    vad.add_argument("--speakers", type=int, default=20, help="speakers per sex of the synthetic world")
    vad.add_argument("--seconds", type=float, default=10.0, help="length of each recording (s)")
    vad.add_argument("--seed", type=int, default=0)
    vad.add_argument("--repeats", type=int, default=3)
    vad.add_argument("--old", type=str, default="65c5571", help="the commit whose code is the old setting")
    vad.add_argument("--out", type=str, default="reports/bench.json")
    geometry = commands.add_parser("bench-geometry", help="benchmark registration against trimesh's nricp_amberg, and AM throughput")
    geometry.add_argument("--scans", type=int, default=4)
    geometry.add_argument("--faces", type=int, default=2000)
    geometry.add_argument("--seed", type=int, default=0)
    geometry.add_argument("--out", type=str, default="reports/bench.json")
    train = commands.add_parser("bench-train", help="benchmark batched against sequential training, shared against per_am, GFLOP/s")
    train.add_argument("--repeats", type=int, default=20)
    train.add_argument("--steps", type=int, default=3)
    train.add_argument("--frames", type=int, default=300)
    train.add_argument("--batch", type=int, default=64)
    train.add_argument("--ams", type=int, default=96)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", type=str, default="reports/bench.json")
    phon = commands.add_parser("bench-phonatory", help="benchmark the phonatory pre-training step against the "
                               "estimator's step, and stacked against sequential copies")
    phon.add_argument("--repeats", type=int, default=4)
    phon.add_argument("--steps", type=int, default=30)
    phon.add_argument("--frames", type=int, default=350)
    phon.add_argument("--seed", type=int, default=0)
    phon.add_argument("--out", type=str, default="reports/bench.json")
    phon.add_argument("--estimates-only", action="store_true",
                      help="time nothing: recompute the run-time estimates from the stored section's step time")
    recon = commands.add_parser("bench-reconstruct", help="benchmark the batched AM-guided fit against per-face scipy")
    recon.add_argument("--faces", type=int, default=100)
    recon.add_argument("--top-k", type=int, default=10)
    recon.add_argument("--seed", type=int, default=0)
    recon.add_argument("--out", type=str, default="reports/bench.json")
    perm = commands.add_parser("bench-permutations", help="benchmark the batched permutation null against refitting "
                               "the ridge per shuffling")
    perm.add_argument("--speakers", type=int, default=135)
    perm.add_argument("--statistics", type=int, default=2464)
    perm.add_argument("--ams", type=int, default=96)
    perm.add_argument("--repeats", type=int, default=10)
    perm.add_argument("--permutations", type=int, default=1000)
    perm.add_argument("--seed", type=int, default=0)
    perm.add_argument("--out", type=str, default="reports/bench.json")
    emb = commands.add_parser("bench-embeddings", help="benchmark the voice encoders (egemaps, praat, resemblyzer) "
                              "in real-time factors per core, against the log-mel front end")
    emb.add_argument("--recordings", type=int, default=8)
    emb.add_argument("--seconds", type=float, default=10.0)
    emb.add_argument("--seed", type=int, default=0)
    emb.add_argument("--out", type=str, default="reports/bench.json")
    calibrate = commands.add_parser("calibrate", help="false-positive share of the selection tests in null worlds, "
                                    "recall and precision in the default world (reports/calibration.json)")
    calibrate.add_argument("--params", type=str, default="params.yaml", help="training settings from sfv.*")
    calibrate.add_argument("--speakers", type=int, default=100, help="speakers per world (one sex)")
    calibrate.add_argument("--seconds", type=float, default=6.0, help="recording length")
    calibrate.add_argument("--sex", choices=["M", "F"], default="F")
    calibrate.add_argument("--repeats", type=int, nargs="+", default=[3, 5, 10], help="numbers of repeats N tested")
    calibrate.add_argument("--null-worlds", type=int, default=2)
    calibrate.add_argument("--iterations", type=int, default=200)
    calibrate.add_argument("--segment-s", type=float, nargs=2, default=[1.5, 2.5])
    calibrate.add_argument("--coupling", type=float, default=None,
                           help="synth.coupling of the linked world (default: params.yaml's)")
    calibrate.add_argument("--out", type=str, default="reports/calibration.json")
    power = commands.add_parser("power", help="every estimator on the same voice-only worlds: recall by oracle r2, "
                                "null-world level of each test, Tables 1/2 (reports/power.json)")
    power.add_argument("--params", type=str, default="params.yaml", help="training settings from sfv.*")
    power.add_argument("--estimator", action="append", dest="estimators", metavar="NAME=ESTIMATOR[,KEY=VALUE...]",
                       help="an estimator to compare, e.g. ridge=stats_ridge or cnn=shared,dropout=0.3 (keys: "
                            "training settings, default params.yaml's sfv.*); repeatable; default: "
                            "stats_ridge and shared as params.yaml sets them")
    power.add_argument("--speakers", type=int, default=150, help="speakers per world (one sex)")
    power.add_argument("--seconds", type=float, default=10.0, help="recording length")
    power.add_argument("--sexes", nargs="+", choices=["M", "F"], default=["M", "F"])
    power.add_argument("--repeats", type=int, nargs="+", default=[10, 30], help="numbers of repeats N tested")
    power.add_argument("--null-worlds", type=int, default=2)
    power.add_argument("--coupling", type=float, default=None,
                       help="synth.coupling of the linked world (default: params.yaml's)")
    power.add_argument("--out", type=str, default="reports/power.json")
    plan = commands.add_parser("plan", help="how many speakers a study needs: the power study's worlds swept over "
                               "cohort size, recall by oracle r2 with intervals over world seeds (reports/plan.json)")
    plan.add_argument("--params", type=str, default="params.yaml", help="training and test settings from sfv.*")
    plan.add_argument("--estimator", type=str, default=None, metavar="NAME=ESTIMATOR[,KEY=VALUE...]",
                      help="as in `sfv power`; default: params.yaml's sfv.estimator")
    plan.add_argument("--speakers", type=int, nargs="+", default=[50, 100, 150, 300],
                      help="cohort sizes, speakers per sex")
    plan.add_argument("--seconds", type=float, nargs="+", default=None,
                      help="speech per speaker (one recording, s); default: synth.seconds x synth.recordings")
    plan.add_argument("--sexes", nargs="+", choices=["M", "F"], default=["M", "F"])
    plan.add_argument("--world-seeds", type=int, default=3, help="linked worlds per size (seeds seed..seed+K-1)")
    plan.add_argument("--null-worlds", type=int, default=1, help="null worlds per size")
    plan.add_argument("--repeats", type=int, default=None, help="repeats N per world; default: sfv.repeats")
    plan.add_argument("--permutations", type=int, default=2000,
                      help="most shufflings per AM (default: about the fewest with which BH can declare a lone AM)")
    plan.add_argument("--exceedances", type=int, default=None, help="default: sfv.permutation_exceedances")
    plan.add_argument("--coupling", type=float, default=None,
                      help="synth.coupling of the linked worlds (default: params.yaml's; docs/planning.md)")
    plan.add_argument("--measurement", type=str, default="reports/geometry_ams.csv",
                      help="the AMs' measurement error: a table with am, r (measured vs true) and truth_sd, as the "
                           "geometry stage writes on a root with truth (default: the default run's registration); "
                           "none: the worlds' AMs are the true ones (docs/planning.md)")
    plan.add_argument("--target-recall", type=float, default=0.8, help="recall the smallest-cohort table asks for")
    plan.add_argument("--interval", type=float, default=0.9, help="level of the prediction interval over world seeds")
    plan.add_argument("--out", type=str, default="reports/plan.json")
    plan.add_argument("--table", type=str, default="reports/plan.csv", help="the smallest cohort per sex and r2 bin")
    plan.add_argument("--plot", type=str, default="reports/plots/plan.png")
    deps = commands.add_parser("code-deps", help="write every stage's code deps (its import closure) into dvc.yaml")
    deps.add_argument("--check", action="store_true", help="only list what dvc.yaml misses; exit 1 if anything")
    params_doc = commands.add_parser("params-doc", help="write the parameter reference (docs/parameters.md) from "
                                     "pipeline/config.py")
    params_doc.add_argument("--out", type=Path, default=Path("docs/parameters.md"), help="the reference to write")
    params_doc.add_argument("--check", action="store_true",
                            help="only compare; exit 1 if the file differs from the rendering")
    docs = commands.add_parser("docs", help="render the figures of README.md and docs/*.md from the committed "
                               "outputs they quote (docs/results-pages.md)")
    docs.add_argument("--check", action="store_true", help="only compare: list every figure that differs from its "
                      "source, does not resolve, or has no source; exit 1 if any")
    args = parser.parse_args(argv)
    try:
        if args.command == "docs":
            return _docs(args.check)
        if args.command == "code-deps":
            return _code_deps(args.check)
        if args.command == "params-doc":
            return _params_doc(args.out, args.check)
        if args.command == "predict":
            _predict(args)
        elif args.command == "bench-synth":
            _report(args.out, "synth", bench_synth(args.people, args.vertices, args.seed))
        elif args.command == "bench-audio":
            _report(args.out, "audio", bench_audio(args.recordings, args.seconds, args.seed))
        elif args.command == "bench-vad":
            _report(args.out, "vad_threads", bench_vad(args.speakers, args.seconds, args.seed, args.repeats, args.old))
        elif args.command == "bench-geometry":
            _report(args.out, "geometry", bench_geometry(args.scans, args.faces, args.seed))
        elif args.command == "bench-permutations":
            _report(args.out, "permutations", bench_permutations(args.speakers, args.statistics, args.ams, args.repeats,
                                                                 args.permutations, args.seed))
        elif args.command == "bench-reconstruct":
            _report(args.out, "reconstruct", bench_reconstruct(args.faces, args.top_k, args.seed))
        elif args.command == "bench-embeddings":
            from .bench_embeddings import bench_embeddings

            _report(args.out, "embeddings", bench_embeddings(args.recordings, args.seconds, args.seed))
        elif args.command == "calibrate":
            _calibrate(args)
        elif args.command == "power":
            _power(args)
        elif args.command == "plan":
            _plan(args)
        elif args.command == "bench-train":
            _report(args.out, "train", bench_train(args.repeats, args.steps, args.frames, args.batch, args.ams, args.seed))
        elif args.command == "bench-phonatory":
            if args.estimates_only:
                _estimates(args.out)
            else:
                _report(args.out, "phonatory", bench_phonatory(args.repeats, args.steps, args.frames, args.seed))
    except SfvError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _code_deps(check: bool) -> int:
    """On the project in the working directory (where dvc.yaml is)."""
    from .code_deps import missing_deps, write_code_deps

    root = Path.cwd()
    if check:
        missing = missing_deps(root)
        for stage, files in missing.items():
            print(f"{stage}: {' '.join(files)}")
        return 1 if missing else 0
    for stage, files in write_code_deps(root).items():
        print(f"{stage}: {len(files)} code files")
    return 0


def _docs(check: bool) -> int:
    """On the checkout in the working directory."""
    from .pages.render import check as check_pages, write

    root = Path.cwd()
    if check:
        problems = check_pages(root)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"{len(problems)} problems; `sfv docs` renders the quoted figures (docs/results-pages.md)",
                  file=sys.stderr)
        return 1 if problems else 0
    changed, problems = write(root)
    print("\n".join(f"{page}: rendered" for page in changed) or "every page is current")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} quotes did not resolve and kept their text", file=sys.stderr)
        return 1
    return 0


def _params_doc(out: Path, check: bool) -> int:
    from .params_doc import is_current, write

    if check:
        if is_current(out):
            return 0
        print(f"{out} differs from the rendering of pipeline/config.py; run `sfv params-doc`", file=sys.stderr)
        return 1
    write(out)
    print(f"{out}: written")
    return 0


def _predict(args) -> None:
    """Predict, then write the mesh and the JSON only once everything has succeeded."""
    from .device import device_for
    from .face.io import write_mesh
    from .predict import predict_voice

    result = predict_voice(list(args.voices), args.gender, args.models, device_for(args.device))
    rows = result.table()
    shown = [r for r in rows if r["predictable"]]
    print(f"{len(args.voices)} recording(s), {result.speech_s:.1f} s of speech; {result.repeats} estimators "
          f"({args.gender}); {len(shown)} of {len(rows)} AMs predictable, {sum(r['guides_face'] for r in rows)} "
          f"guide the face")
    if shown:
        unit = {"distance": "mm", "angle": "deg", "proportion": ""}
        print(f"{'AM':>4}  {'landmarks':<14} {'kind':<10} {'value':>9}  {'95% interval':>21} {'unit':<4} guides")
        for r in sorted(shown, key=lambda r: r["ci_u"]):
            print(f"{r['am_id']:>4}  {r['label'][:14]:<14} {r['kind']:<10} {r['value']:>9.2f}  "
                  f"[{r['low']:>8.2f}, {r['high']:>8.2f}] {unit.get(r['kind'], ''):<4} {'yes' if r['guides_face'] else ''}")
    else:
        print("No AM was found predictable for this gender, so the face is the mean face.")
    write_mesh(args.out, result.face, result.fit.triangles)
    print(f"face: {args.out}")
    if args.json:
        document = {"gender": args.gender, "recordings": [str(v) for v in args.voices],
                    "speech_s": result.speech_s, "estimators": result.repeats, "ams": rows}
        write_json(document, args.json, sort_keys=False)
        print(f"AMs: {args.json}")


def _calibrate(args) -> None:
    """Train the calibration worlds and write their test results (see docs/selection.md)."""
    from tqdm import tqdm

    from .cohort import Gender
    from .config import load_params, with_values
    from .device import device_for
    from .estimator.registry import estimator_class
    from .selection.calibration import CalibrationSettings, calibrate

    params = load_params(args.params)
    params = with_values(params, "sfv", {"iterations": args.iterations, "segment_s": list(args.segment_s)},
                         "sfv calibrate --iterations/--segment-s")
    estimator = estimator_class(params.sfv.estimator).from_params(params)  # sfv.test is not used here
    settings = CalibrationSettings(args.speakers, args.seconds, Gender.from_code(args.sex), tuple(sorted(args.repeats)),
                                   args.null_worlds, params.sfv.alpha, params.sfv.evaluation_share, params.seed,
                                   params.synth.coupling if args.coupling is None else args.coupling)
    total = estimator.progress_units(1) * max(settings.repeats) * (settings.null_worlds + 1)
    with tqdm(total=total, desc="calibrate", unit=estimator.progress_unit) as bar:
        result = calibrate(settings, estimator, params, device_for(params.device), bar.update)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(result, out)
    print(json.dumps(result, indent=2))


def _power(args) -> None:
    """Run the power study and write its results (see docs/estimators.md)."""
    from tqdm import tqdm

    from .cohort import Gender
    from .config import load_params
    from .device import device_for
    from .selection.power import PowerSettings, estimator_variant, markdown_table, power_study

    params = load_params(args.params)
    specs = args.estimators or ["stats_ridge=stats_ridge", "shared=shared"]
    try:
        estimators = dict(estimator_variant(spec, params) for spec in specs)
    except ValueError as err:
        raise ParamsError(f"--estimator: {err}") from None
    settings = PowerSettings(args.speakers, args.seconds, tuple(Gender.from_code(s) for s in args.sexes),
                             tuple(sorted(args.repeats)), args.null_worlds, params.sfv.alpha, params.sfv.permutations,
                             params.sfv.permutation_exceedances,
                             params.sfv.evaluation_share, params.seed,
                             params.synth.coupling if args.coupling is None else args.coupling)
    total = len(settings.genders) * (1 + settings.null_worlds) * len(estimators) * max(settings.repeats)
    with tqdm(total=total, desc="power", unit="repeat") as bar:
        result = power_study(settings, estimators, params, device_for(params.device), bar.update)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(result, out)
    print(markdown_table(result))


def _plan(args) -> None:
    """Run the cohort-size sweep, write its results and figure (see docs/planning.md)."""
    import time

    from tqdm import tqdm

    from .cohort import Gender
    from .config import load_params
    from .device import device_for
    from .plots.plan import plot_plan
    from .provenance import run_record
    from .selection.plan import PlanSettings, markdown_table, measurement_noise, plan_study, smallest_table
    from .selection.power import RULES, estimator_variant

    params = load_params(args.params)
    try:
        name, estimator = estimator_variant(args.estimator or f"{params.sfv.estimator}={params.sfv.estimator}", params)
    except ValueError as err:
        raise ParamsError(f"--estimator: {err}") from None
    rule = params.sfv.test if params.sfv.fdr == "none" else f"{params.sfv.test}+{params.sfv.fdr}"
    if rule not in RULES:
        raise ParamsError(f"sfv.test {params.sfv.test!r} with sfv.fdr {params.sfv.fdr!r} is no rule of the power study")
    seconds = args.seconds or [params.synth.seconds * params.synth.recordings]
    settings = PlanSettings(tuple(sorted(args.speakers)), tuple(seconds), tuple(Gender.from_code(s) for s in args.sexes),
                            args.world_seeds, args.null_worlds, args.repeats or params.sfv.repeats, rule,
                            params.sfv.alpha, args.permutations,
                            args.exceedances or params.sfv.permutation_exceedances, params.sfv.evaluation_share,
                            params.seed, params.synth.coupling if args.coupling is None else args.coupling,
                            args.target_recall, args.interval, args.measurement)
    noise_sd = None
    if args.measurement != "none":
        import numpy as np
        import pandas as pd

        from .face.ams import default_am_table

        if not Path(args.measurement).is_file():
            raise ParamsError(f"--measurement {args.measurement}: no such file (run `dvc repro geometry` on a root "
                              f"with truth, give your own am,r,truth_sd table, or pass --measurement none)")
        try:
            noise_sd = measurement_noise(pd.read_csv(args.measurement), np.asarray(default_am_table().am_id))
        except ValueError as err:
            raise ParamsError(f"--measurement {args.measurement}: {err}") from None
    total = (len(settings.genders) * len(settings.seconds) * len(settings.speakers)
             * (settings.world_seeds + settings.null_worlds) * settings.repeats)
    started = time.perf_counter()
    with tqdm(total=total, desc="plan", unit="repeat") as bar:
        result = plan_study(settings, estimator, params, device_for(params.device), bar.update, noise_sd)
    result["estimator_name"] = name
    result["run"] = run_record({"argv": sys.argv[1:]}, time.perf_counter() - started)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(result, out)
    smallest_table(result).to_csv(args.table, index=False)
    plot_plan(result, Path(args.plot))
    print(markdown_table(result))


def _estimates(path: str) -> None:
    """Refresh the phonatory section's estimates from its stored step time (after a change of
    params.yaml or the source's setup), keeping the timings and the run they came from."""
    out = Path(path)
    stored = json.loads(out.read_text())
    section = stored["phonatory"]
    section.update(phonatory_estimates(section["pretraining_s_per_step"]))
    write_json(stored, out)
    print(json.dumps(section, indent=2))


def _report(path: str, section: str, result: dict) -> None:
    """Print a benchmark's result and store it as one section of the benchmark file, with the
    commit, cores and load it ran at (a timing on a busy machine must say so)."""
    out = Path(path)
    stored = json.loads(out.read_text()) if out.is_file() else {}
    stored[section] = {**result, "run": provenance()}
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(stored, out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
