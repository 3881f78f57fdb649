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

import re
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
import torch
import yaml

from ..audio.frontend import FrontEnd
from ..cohort import Gender
from ..config import Params, with_values
from ..embeddings import EmbeddingSettings
from ..errors import ParamsError
from ..estimator.base import VoiceEstimator
from ..estimator.data import joined_features, repeat_data
from ..estimator.null import empty_null
from ..estimator.registry import estimator_class
from ..face.ams import default_am_table
from ..face.template import build_template
from ..seeds import null_world_seed, permutation_seed, repeat_seed, world_oracle_rng
from ..splits import Splits, make_splits
from ..synth.cohort import VoiceSettings
from ..synth.link import LINK_GROUPS, oracle
from ..synth.shape_model import build_shape_model
from ..synth.voices import voice_cohort
from .significance import PermutationNull
from .table import SelectionSettings, nmse_summary, selection_table

R2_BINS = (0.05, 0.3, 0.5)


@dataclass(frozen=True)
class PowerSettings:
    """The study's worlds and tests (the `sfv power` command line, params.yaml for the rest)."""

    speakers: int
    seconds: float
    genders: tuple[Gender, ...]
    repeats: tuple[int, ...]
    null_worlds: int
    alpha: float
    permutations: int
    exceedances: int
    evaluation_share: float
    seed: int
    coupling: float


@dataclass
class WorldRun:
    """One estimator on one world: its predictions for the largest N (train-stage layout),
    a permutation table per N (empty for a CNN), the split sizes and the seconds per repeat."""

    predictions: pd.DataFrame
    null: dict[int, pd.DataFrame]
    n_test: int
    n_train: int
    seconds_per_repeat: float


def estimator_variant(spec: str, params: Params) -> tuple[str, VoiceEstimator]:
    """'name=estimator[,key=value...]' -> (name, the estimator params.yaml gives with sfv.estimator
    and the sfv.<key> values set; `embedding.<key>` sets a key of the embedding section instead.
    Each value is read as YAML (a list in brackets may hold commas) and validated like params.yaml."""
    name, _, rest = spec.partition("=")
    estimator, *pairs = re.split(r",(?![^\[]*\])", rest)
    if not name:
        raise ValueError(f"{spec!r}: give NAME=ESTIMATOR[,KEY=VALUE...]")
    values: dict[str, dict] = {"sfv": {"estimator": estimator}, "embedding": {}}
    for pair in pairs:
        key, _, value = pair.partition("=")
        section, _, key = key.rpartition(".")
        if section not in ("", "embedding") or key in ("estimator", "genders", "repeats"):
            raise ValueError(f"{spec!r}: {pair.partition('=')[0]!r} is not a training setting one can set here")
        values[section or "sfv"][key] = yaml.safe_load(value)
    variant = params
    for section, changed in values.items():
        if changed:
            variant = with_values(variant, section, changed, f"--estimator {spec}")
    return name, estimator_class(estimator).from_params(variant)


def run_world(cohort, gender: Gender, world_seed: int, estimators: dict[str, VoiceEstimator],
              repeats: tuple[int, ...], permutations: tuple[int, int], evaluation_share: float,
              device: torch.device, progress=None) -> dict[str, WorldRun]:
    """Every estimator on the same splits of one cohort, max(repeats) repeats (the first N of
    them are the protocol with N repeats, as splits only extend); `permutations` is (most
    shufflings, exceedances) of the permutation null."""
    ids = [f"s{i:04d}" for i in range(len(cohort.ams))]
    splits = Splits(make_splits(ids, max(repeats), world_seed, gender, evaluation_share))
    targets = pd.DataFrame(cohort.ams, index=ids, columns=[f"am_{k}" for k in cohort.am_ids])
    sizes = splits.sizes()
    out = {}
    for name, estimator in estimators.items():
        features = speaker_inputs(estimator, cohort, ids)
        started = time.perf_counter()
        predictions = fit_repeats(estimator, splits, world_seed, gender, features, targets, cohort.am_ids, device,
                                  progress)
        elapsed = (time.perf_counter() - started) / max(repeats)
        null = {n: (estimator.permutation_null(splits.first(n).table, features, targets, *permutations,
                                               permutation_seed(world_seed, gender), f"permutations N={n}")
                    if estimator.supports_permutation else empty_null()) for n in repeats}
        out[name] = WorldRun(predictions, null, sizes["v2"], sizes["t"], elapsed)
    return out


def speaker_inputs(estimator: VoiceEstimator, cohort, ids: list[str]) -> dict[str, list[np.ndarray]]:
    """What `estimator` reads of each speaker of a voice-only cohort (one recording each)."""
    features = {s: [f] for s, f in zip(ids, cohort.features)}
    if not estimator.needs_embeddings:
        return features
    vectors = {s: np.concatenate([cohort.embeddings[spec][i] for spec in estimator.inputs.encoders])[None]
               for i, s in enumerate(ids)}
    return estimator.speaker_inputs(features, vectors)


def embedding_settings(estimators: dict[str, VoiceEstimator]) -> EmbeddingSettings | None:
    """The encoders the estimators read, each once (their layers, windows and batches must agree)."""
    reading = [e.inputs for e in estimators.values() if e.needs_embeddings]
    if not reading:
        return None
    if len({(i.layers, i.window_s, i.batch_size) for i in reading}) > 1:
        raise ParamsError("--estimator: the estimators read encoders with different embedding.layers, window_s "
                          "or batch_size; run them in separate studies")
    specs = tuple(dict.fromkeys(spec for i in reading for spec in i.encoders))
    return EmbeddingSettings(specs, reading[0].layers, reading[0].window_s, reading[0].batch_size)


def fit_repeats(estimator: VoiceEstimator, splits: Splits, world_seed: int, gender: Gender,
                features: dict[str, list[np.ndarray]], targets: pd.DataFrame, am_ids: np.ndarray,
                device: torch.device, progress=None, fit_progress=None) -> pd.DataFrame:
    """Every repeat of `splits`, in the train stage's prediction layout (repeat, split, speaker_id,
    am_id, mean_z, var_z, target_z). Repeats are fitted in the groups the estimator takes when one
    at a time is asked for: a CNN trains alone, the ridge fits its fixed group and so computes
    each speaker's statistics once per group, not once per repeat. `progress` counts repeats,
    `fit_progress` is handed to the estimator."""
    size = estimator.group_size(1, splits.n_repeats, device)
    joined = joined_features(features)
    rows = []
    for start in range(1, splits.n_repeats + 1, size):
        chunk = range(start, min(start + size, splits.n_repeats + 1))
        data = [repeat_data(r, repeat_seed(world_seed, gender, r), splits.repeat(r), features, targets,
                            joined=joined)[0] for r in chunk]
        for r, repeat, result in zip(chunk, data, estimator.fit(data, device, fit_progress)):
            for i, (speaker, which) in enumerate(zip(repeat.scored_ids, repeat.scored_splits)):
                rows.append(pd.DataFrame({"repeat": r, "split": which, "speaker_id": speaker, "am_id": am_ids,
                                          "mean_z": result.mean_z[i], "var_z": result.var_z[i],
                                          "target_z": repeat.scored_targets[i]}))
        if progress:
            progress(len(chunk))
    return pd.concat(rows, ignore_index=True)


RULES = {"paper": ("paper", "none"), "corrected": ("corrected", "none"), "corrected+bh": ("corrected", "bh"),
         "permutation": ("permutation", "none"), "permutation+bh": ("permutation", "bh")}


def rules_for(estimator: VoiceEstimator) -> tuple[str, ...]:
    """The rules an estimator affords (a CNN cannot be refitted for a permutation null)."""
    return tuple(r for r in RULES if estimator.supports_permutation or not r.startswith("permutation"))


def decisions(run: WorldRun, am_ids: np.ndarray, n: int, alpha: float, exceedances: int, rules: tuple[str, ...]
              ) -> dict[str, np.ndarray]:
    """z per AM under each rule, from the first n repeats (and the permutation null of them)."""
    subset = run.predictions[run.predictions["repeat"] <= n]
    labels, kinds = [str(k) for k in am_ids], ["?"] * len(am_ids)
    out = {}
    for rule in rules:
        table = selection_table(subset, am_ids, labels, kinds, run.n_test, run.n_train,
                                SelectionSettings(alpha, *RULES[rule]), PermutationNull(run.null[n], exceedances))
        out[rule] = table["z"].to_numpy().astype(bool)
    return out


def power_study(settings: PowerSettings, estimators: dict[str, VoiceEstimator], params: Params,
                device: torch.device, progress=None) -> dict:
    """The study's results (see the module docstring), by estimator and gender; the worlds'
    faces, channel and log-mels follow params.yaml (synth:, audio:)."""
    table = default_am_table()
    model = build_shape_model(build_template(params.synth.vertices), params.synth.residual_mm)
    truth = oracle(model, table, settings.coupling, LINK_GROUPS, world_oracle_rng(settings.seed))
    result = {"settings": {**asdict(settings), "genders": [str(g) for g in settings.genders],
                           "repeats": list(settings.repeats),
                           "estimators": {name: e.fingerprint(1) for name, e in estimators.items()}},
              "estimators": {name: {} for name in estimators}}
    voice = replace(VoiceSettings.from_params(params.synth), seconds=settings.seconds, coupling=settings.coupling,
                    recordings=1, planted=LINK_GROUPS)
    null_voice = replace(voice, coupling=0.0)
    front_end = FrontEnd.from_params(params.audio)
    for gender in settings.genders:
        r2 = truth.set_index("am_id").loc[table.am_id, f"r2_{gender}"].to_numpy()
        runs = {name: {} for name in estimators}
        worlds = [("linked", voice, settings.seed)] + [
            (f"null{w}", null_voice, null_world_seed(settings.seed, w)) for w in range(settings.null_worlds)]
        for label, world, world_seed in worlds:
            cohort = voice_cohort(settings.speakers, gender, world, world_seed, front_end, model,
                                  embedding=embedding_settings(estimators))
            for name, run in run_world(cohort, gender, world_seed, estimators, settings.repeats,
                                       (settings.permutations, settings.exceedances),
                                       settings.evaluation_share, device, progress).items():
                runs[name][label] = run
        for name, estimator in estimators.items():
            result["estimators"][name][str(gender)] = _summarise(runs[name], settings, rules_for(estimator),
                                                                 np.asarray(table.am_id), r2)
    return result


def _summarise(runs: dict, settings: PowerSettings, rules: tuple[str, ...], am_ids: np.ndarray,
               r2: np.ndarray) -> dict:
    planted = {f"r2>={b}": r2 >= b for b in R2_BINS}
    linked, null = {}, {}
    for n in settings.repeats:
        z = decisions(runs["linked"], am_ids, n, settings.alpha, settings.exceedances, rules)
        for rule in rules:
            chosen = z[rule]
            hits = chosen & planted["r2>=0.05"]
            linked.setdefault(rule, {})[str(n)] = {
                "declared": int(chosen.sum()),
                "precision": float(hits.sum() / chosen.sum()) if chosen.any() else None,
                "recall": {k: float((chosen & mask).sum() / mask.sum()) for k, mask in planted.items()}}
        counts = {rule: [] for rule in rules}
        for w in range(settings.null_worlds):
            z_null = decisions(runs[f"null{w}"], am_ids, n, settings.alpha, settings.exceedances, rules)
            for rule in rules:
                counts[rule].append(int(z_null[rule].sum()))
        for rule in rules:
            tested = len(am_ids) * settings.null_worlds
            null.setdefault(rule, {})[str(n)] = {"declared": sum(counts[rule]), "tested": tested,
                                                 "share": sum(counts[rule]) / tested,
                                                 "declared_per_world": counts[rule]}
    largest = runs["linked"]
    z_default = decisions(largest, am_ids, max(settings.repeats), settings.alpha, settings.exceedances, rules)[rules[-1]]  # the strictest
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
    """The table of a power study (docs/estimators.md)."""
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
