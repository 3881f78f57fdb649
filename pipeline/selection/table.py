"""The selection table of one gender: every AM's ratios, tests and decisions, side by side."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import SfvParams
from .ratios import error_ratios
from .significance import PermutationNull, corrected_test, decide, paper_test, permutation_test

SHARES = {"": 1.0, "_75": 0.75, "_50": 0.5}


@dataclass(frozen=True)
class SelectionSettings:
    alpha: float
    test: str  # paper | corrected | permutation
    fdr: str  # none | bh

    @classmethod
    def from_params(cls, sfv: SfvParams) -> SelectionSettings:
        return cls(sfv.alpha, sfv.test, sfv.fdr)


def ratio_matrix(ratios: pd.DataFrame, am_ids: np.ndarray, column: str = "ratio") -> np.ndarray:
    """One column of error_ratios (the ratio, eps or eps_chance) as [K, N], in the order of
    am_ids (rows) and repeats (columns)."""
    wide = ratios.pivot(index="am_id", columns="repeat", values=column)
    missing = sorted(set(am_ids) - set(wide.index))
    if missing:
        raise ValueError(f"no D_v2 ratios for AMs {missing[:5]}")
    if wide.isna().any().any():
        raise ValueError("some repeats lack ratios for some AMs")
    return wide.loc[am_ids].to_numpy()


def selection_table(predictions: pd.DataFrame, am_ids: np.ndarray, labels: list[str], kinds: list[str],
                    n_test: int, n_train: int, settings: SelectionSettings,
                    null: PermutationNull | None = None) -> pd.DataFrame:
    """One row per AM: n (repeats), mean_ratio, sd, ci_u (paper), p_value (paper),
    ci_u_corrected, p_corrected, p_permutation (when `null`, the train stage's permutation
    table, has rows), p_bh (BH of the configured test's p), z (the configured decision),
    z_paper, z_corrected, z_permutation (each without FDR), and mean_ratio / ci_u / z for the
    75 % and 50 % most certain D_v2 speakers of each AM (ci_u and z of the configured test;
    the permutation null is of the whole D_v2, so its subsets use the corrected test)."""
    has_null = null is not None and len(null.table) > 0
    if settings.test == "permutation" and not has_null:
        raise ValueError("test: permutation needs the train stage's permutation table (sfv.permutations > 0 "
                         "and an estimator that affords the null; docs/selection.md)")
    p_permutation = permutation_test(null.table, am_ids, null.exceedances) if has_null else None
    table = pd.DataFrame({"am_id": am_ids, "label": labels, "kind": kinds})
    for suffix, share in SHARES.items():
        ratios = ratio_matrix(error_ratios(predictions, share), am_ids)
        paper = paper_test(ratios, settings.alpha)
        corrected = corrected_test(ratios, settings.alpha, n_test, n_train)
        configured = paper if settings.test == "paper" else corrected
        chosen_p = p_permutation if settings.test == "permutation" and suffix == "" else configured.p_value
        z, p_bh = decide(chosen_p, settings.alpha, settings.fdr)
        if suffix == "":
            table["n"] = ratios.shape[1]
            table["mean_ratio"], table["sd"] = paper.mean, paper.sd
            table["ci_u"], table["p_value"] = paper.ci_u, paper.p_value
            table["ci_u_corrected"], table["p_corrected"] = corrected.ci_u, corrected.p_value
            if has_null:
                table["p_permutation"] = p_permutation
            table["p_bh"] = p_bh
            table["z"] = z
            table["z_paper"] = decide(paper.p_value, settings.alpha, "none")[0]
            table["z_corrected"] = decide(corrected.p_value, settings.alpha, "none")[0]
            if has_null:
                table["z_permutation"] = decide(p_permutation, settings.alpha, "none")[0]
        else:
            table[f"mean_ratio{suffix}"] = configured.mean
            table[f"ci_u{suffix}"] = configured.ci_u
            table[f"z{suffix}"] = z
    return table


def nmse_summary(predictions: pd.DataFrame, am_ids: np.ndarray, predictable: np.ndarray) -> dict[str, float]:
    """The source's Tables 1 and 2: the normalised MSE eps/eps^C on D_v2, averaged over AMs
    within each repeat, then mean and SD (ddof 1) over the repeats.

    all_100 / all_75 / all_50: over all AMs, with all / the 75 % / the 50 % most certain D_v2
    speakers of each AM; predictable / unpredictable: over the AMs with z = 1 / z = 0 (all
    speakers; null when there are none). error_* and chance_* are eps and eps^C themselves
    (z units: per repeat and AM the mean over the subset's speakers, then the same averaging
    over AMs and repeats), so a reader sees which of the two moves the ratio on a subset
    (their quotient is not all_*, which averages ratios). Each key has a `_sd` twin.
    """
    predictable = np.asarray(predictable, bool)
    per_repeat = {}
    for share_name, share in (("100", 1.0), ("75", 0.75), ("50", 0.5)):
        scores = error_ratios(predictions, share)
        ratios = ratio_matrix(scores, am_ids)  # [K, N]
        per_repeat[f"all_{share_name}"] = ratios.mean(axis=0)
        per_repeat[f"error_{share_name}"] = ratio_matrix(scores, am_ids, "eps").mean(axis=0)
        per_repeat[f"chance_{share_name}"] = ratio_matrix(scores, am_ids, "eps_chance").mean(axis=0)
        if share == 1.0:
            for name, rows in (("predictable", predictable), ("unpredictable", ~predictable)):
                per_repeat[name] = ratios[rows].mean(axis=0) if rows.any() else None
    out: dict[str, float | None] = {}
    for key, values in per_repeat.items():
        out[key] = None if values is None else float(values.mean())
        out[f"{key}_sd"] = None if values is None or len(values) < 2 else float(values.std(ddof=1))
    return out


def truth_scores(selected: np.ndarray, planted: np.ndarray) -> dict[str, float]:
    """Precision, recall and false-positive rate of a selection against the planted AMs."""
    selected, planted = np.asarray(selected, bool), np.asarray(planted, bool)
    tp = int((selected & planted).sum())
    fp = int((selected & ~planted).sum())
    return {
        "precision": tp / selected.sum() if selected.any() else float("nan"),
        "recall": tp / planted.sum() if planted.any() else float("nan"),
        "fpr": fp / (~planted).sum() if (~planted).any() else float("nan"),
        "n_planted": int(planted.sum()), "n_selected": int(selected.sum()),
    }
