"""What each estimator can show: its power on the planted AMs and its tests' level in null worlds.

`sfv calibrate` asks whether the tests hold their level; this study asks which estimator to
run. Each world is a voice-only synthetic cohort of one sex (`synth.voices`); every estimator
is trained on the same splits of the same voices (a fixed D_e, fresh 7/1/1 splits, its own
D_v1 model selection), and the tests at smaller N use the first N repeats. Per estimator:
- in the linked world, recall of the planted AMs by oracle-r2 bin and precision, per rule and N;
- in the null worlds (coupling 0), the share of AMs each rule declares (all false);
- the source's Tables 1 and 2 (NMSE on D_v2) at the largest N, and the share of the error
  that the 50 % most certain speakers remove;
- the wall time per repeat.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from ..estimator.data import repeat_data, repeat_seed
from ..estimator.estimators import fit_group, is_cnn
from ..estimator.null import permutation_seed, permutation_table
from ..estimator.splits import make_splits
from ..estimator.training import TrainSettings
from ..face.ams import default_am_table
from ..synth.cohort import VoiceSettings
from ..synth.link import LINK_GROUPS, oracle
from ..synth.shape_model import build_shape_model
from ..synth.template import build_template
from ..synth.voices import voice_cohort
from .table import SelectionSettings, nmse_summary, selection_table

R2_BINS = (0.05, 0.3, 0.5)


@dataclass(frozen=True)
class PowerSettings:
    speakers: int = 150
    seconds: float = 10.0
    sexes: tuple[str, ...] = ("M", "F")
    repeats: tuple[int, ...] = (10, 30)
    null_worlds: int = 2
    alpha: float = 0.05
    permutations: int = 1000
    seed: int = 0
    coupling: float = 1.6


@dataclass
class WorldRun:
    """One estimator on one world: its predictions for the largest N (train-stage layout),
    a permutation table per N (empty for a CNN), the split sizes and the seconds per repeat."""

    predictions: pd.DataFrame
    null: dict[int, pd.DataFrame]
    n_test: int
    n_train: int
    seconds_per_repeat: float


def estimator_variant(spec: str, base: TrainSettings) -> tuple[str, TrainSettings]:
    """'name=estimator[,key=value...]' -> (name, base with the estimator and the keys set)."""
    from dataclasses import fields, replace

    from ..estimator.estimators import ESTIMATORS

    name, _, rest = spec.partition("=")
    estimator, *pairs = rest.split(",")
    if not name or estimator not in ESTIMATORS:
        raise ValueError(f"{spec!r}: give NAME=ESTIMATOR with ESTIMATOR one of {', '.join(ESTIMATORS)}")
    types = {f.name: type(getattr(base, f.name)) for f in fields(base)}
    changes = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in types or key in ("estimator", "segment_frames"):
            raise ValueError(f"{spec!r}: {key!r} is not a training setting one can set here")
        changes[key] = types[key](value)
    return name, replace(base, estimator=estimator, **changes)


def run_world(cohort, sex: str, world_seed: int, estimators: dict[str, TrainSettings], repeats: tuple[int, ...],
              permutations: int, device: torch.device, progress=None) -> dict[str, WorldRun]:
    """Every estimator on the same splits of one cohort, max(repeats) repeats (the first N of
    them are the protocol with N repeats, as splits only extend)."""
    gender = "male" if sex == "M" else "female"
    ids = [f"s{i:04d}" for i in range(len(cohort.ams))]
    splits = make_splits(ids, max(repeats), world_seed, gender)
    targets = pd.DataFrame(cohort.ams, index=ids, columns=[f"am_{k}" for k in cohort.am_ids])
    features = {s: [f] for s, f in zip(ids, cohort.features)}
    first = splits[splits["repeat"] == 1]["split"].value_counts()
    out = {}
    for name, settings in estimators.items():
        rows, started = [], time.perf_counter()
        for r, part in splits.groupby("repeat"):
            split = dict(zip(part["speaker_id"], part["split"]))
            data, _, _ = repeat_data(r, repeat_seed(world_seed, gender, r), split, features, targets)
            (result,) = fit_group([data], settings, device)
            for i, (speaker, which) in enumerate(zip(data.scored_ids, data.scored_splits)):
                rows.append(pd.DataFrame({"repeat": r, "split": which, "speaker_id": speaker, "am_id": cohort.am_ids,
                                          "mean_z": result.mean_z[i], "var_z": result.var_z[i],
                                          "target_z": data.scored_targets[i]}))
            if progress:
                progress(1)
        elapsed = (time.perf_counter() - started) / max(repeats)
        null = {n: permutation_table(splits[splits["repeat"] <= n], features, targets, settings.estimator,
                                     permutations, permutation_seed(world_seed, gender), desc=f"permutations N={n}")
                for n in repeats}
        out[name] = WorldRun(pd.concat(rows, ignore_index=True), null, int(first["v2"]), int(first["t"]), elapsed)
    return out


RULES = {"paper": ("paper", "none"), "corrected": ("corrected", "none"), "corrected+bh": ("corrected", "bh"),
         "permutation": ("permutation", "none"), "permutation+bh": ("permutation", "bh")}


def rules_for(estimator: str) -> tuple[str, ...]:
    """The rules an estimator affords (a CNN cannot be refitted for a permutation null)."""
    return tuple(r for r in RULES if not (is_cnn(estimator) and r.startswith("permutation")))


def decisions(run: WorldRun, am_ids: np.ndarray, n: int, alpha: float, rules: tuple[str, ...]
              ) -> dict[str, np.ndarray]:
    """z per AM under each rule, from the first n repeats (and the permutation null of them)."""
    subset = run.predictions[run.predictions["repeat"] <= n]
    labels, kinds = [str(k) for k in am_ids], ["?"] * len(am_ids)
    out = {}
    for rule in rules:
        table = selection_table(subset, am_ids, labels, kinds, run.n_test, run.n_train,
                                SelectionSettings(alpha, *RULES[rule]), run.null[n])
        out[rule] = table["z"].to_numpy().astype(bool)
    return out


def power_study(settings: PowerSettings, estimators: dict[str, TrainSettings], device: torch.device,
                progress=None) -> dict:
    """The study's results (see the module docstring), by estimator and sex."""
    table = default_am_table()
    model = build_shape_model(build_template())
    truth = oracle(model, table, settings.coupling, LINK_GROUPS, np.random.default_rng([settings.seed, 99]))
    result = {"settings": {**asdict(settings), "sexes": list(settings.sexes), "repeats": list(settings.repeats),
                           "estimators": {name: asdict(s) for name, s in estimators.items()}},
              "estimators": {name: {} for name in estimators}}
    voice = VoiceSettings(seconds=settings.seconds, coupling=settings.coupling)
    null_voice = VoiceSettings(seconds=settings.seconds, coupling=0.0)
    for sex in settings.sexes:
        gender = "male" if sex == "M" else "female"
        r2 = truth.set_index("am_id").loc[table.am_id, f"r2_{gender}"].to_numpy()
        runs = {name: {} for name in estimators}
        worlds = [("linked", voice, settings.seed)] + [
            (f"null{w}", null_voice, settings.seed + 1000 + w) for w in range(settings.null_worlds)]
        for label, world, world_seed in worlds:
            cohort = voice_cohort(settings.speakers, sex, world, seed=world_seed)
            for name, run in run_world(cohort, sex, world_seed, estimators, settings.repeats, settings.permutations,
                                       device, progress).items():
                runs[name][label] = run
        for name, settings_of in estimators.items():
            result["estimators"][name][gender] = _summarise(runs[name], settings, rules_for(settings_of.estimator),
                                                            np.asarray(table.am_id), r2)
    return result


def _summarise(runs: dict, settings: PowerSettings, rules: tuple[str, ...], am_ids: np.ndarray,
               r2: np.ndarray) -> dict:
    planted = {f"r2>={b}": r2 >= b for b in R2_BINS}
    linked, null = {}, {}
    for n in settings.repeats:
        z = decisions(runs["linked"], am_ids, n, settings.alpha, rules)
        for rule in rules:
            chosen = z[rule]
            hits = chosen & planted["r2>=0.05"]
            linked.setdefault(rule, {})[str(n)] = {
                "declared": int(chosen.sum()),
                "precision": float(hits.sum() / chosen.sum()) if chosen.any() else None,
                "recall": {k: float((chosen & mask).sum() / mask.sum()) for k, mask in planted.items()}}
        counts = {rule: [] for rule in rules}
        for w in range(settings.null_worlds):
            z_null = decisions(runs[f"null{w}"], am_ids, n, settings.alpha, rules)
            for rule in rules:
                counts[rule].append(int(z_null[rule].sum()))
        for rule in rules:
            tested = len(am_ids) * settings.null_worlds
            null.setdefault(rule, {})[str(n)] = {"declared": sum(counts[rule]), "tested": tested,
                                                 "share": sum(counts[rule]) / tested,
                                                 "declared_per_world": counts[rule]}
    largest = runs["linked"]
    z_default = decisions(largest, am_ids, max(settings.repeats), settings.alpha, rules)[rules[-1]]  # the strictest
    nmse = nmse_summary(largest.predictions, am_ids, z_default)
    v2 = largest.predictions[largest.predictions["split"] == "v2"]
    ratio = v2.assign(e=(v2.mean_z - v2.target_z) ** 2, c=v2.target_z ** 2).groupby(["repeat", "am_id"])[["e", "c"]].sum()
    mean_ratio = (ratio["e"] / ratio["c"]).groupby("am_id").mean().loc[am_ids].to_numpy()
    return {
        "linked": linked, "null": null,
        "nmse": nmse, "nmse_rule": rules[-1],
        "error_removed_by_50": 1.0 - nmse["all_50"] / nmse["all_100"],
        "mean_ratio": {f"r2>={b}": float(mean_ratio[r2 >= b].mean()) for b in R2_BINS}
        | {"r2<0.05": float(mean_ratio[r2 < 0.05].mean())},
        "seconds_per_repeat": float(np.mean([run.seconds_per_repeat for run in runs.values()])),
    }


def markdown_table(result: dict) -> str:
    """The README's table of a power study."""
    lines = ["| estimator | sex | rule | N | recall r² ≥ 0.05 / 0.3 / 0.5 | precision | null share declared "
             "(per world) | NMSE 100 / 50 % | error removed by 50 % | mean ratio r² ≥ 0.5 | s per repeat |",
             "|---|---|---|---:|---|---:|---|---|---:|---:|---:|"]
    for name, by_sex in result["estimators"].items():
        for gender, s in by_sex.items():
            for rule, by_n in s["linked"].items():
                for n, row in by_n.items():
                    recall = " / ".join(f"{v:.2f}" for v in row["recall"].values())
                    precision = "–" if row["precision"] is None else f"{row['precision']:.2f}"
                    null = s["null"][rule][n]
                    lines.append(
                        f"| {name} | {gender} | {rule} | {n} | {recall} | {precision} | {null['share']:.3f} "
                        f"({', '.join(map(str, null['declared_per_world']))}) | {s['nmse']['all_100']:.3f} / "
                        f"{s['nmse']['all_50']:.3f} | {s['error_removed_by_50']:.3f} | "
                        f"{s['mean_ratio']['r2>=0.5']:.3f} | {s['seconds_per_repeat']:.1f} |")
    return "\n".join(lines)
