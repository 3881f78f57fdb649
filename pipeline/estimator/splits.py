"""Speaker-disjoint splits: a fixed evaluation set, then fresh train/val1/val2 splits per repeat.

Every split is drawn by speaker, never by recording or segment, so no voice is ever seen in
training and scored in validation or evaluation.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SPLITS = ("t", "v1", "v2", "e")
GENDER_CODE = {"male": 0, "female": 1}


def evaluation_set(speaker_ids: list[str], share: float, rng: np.random.Generator) -> list[str]:
    """The fixed D_e: round(share * N) speakers (at least one), in input order."""
    n = max(1, int(round(share * len(speaker_ids))))
    chosen = set(rng.choice(len(speaker_ids), n, replace=False).tolist())
    return [s for i, s in enumerate(speaker_ids) if i in chosen]


def repeat_split(speaker_ids: list[str], rng: np.random.Generator,
                 proportions: tuple[int, int, int] = (7, 1, 1)) -> dict[str, str]:
    """One random split of `speaker_ids` into t / v1 / v2 in `proportions` (each at least one)."""
    n = len(speaker_ids)
    total = sum(proportions)
    n_v1 = max(1, int(round(n * proportions[1] / total)))
    n_v2 = max(1, int(round(n * proportions[2] / total)))
    if n - n_v1 - n_v2 < 2:
        raise ValueError(f"{n} speakers are too few to split {proportions} with two or more in training")
    order = rng.permutation(n)
    labels = np.array(["t"] * n, dtype=object)
    labels[order[:n_v1]] = "v1"
    labels[order[n_v1:n_v1 + n_v2]] = "v2"
    return dict(zip(speaker_ids, labels.tolist()))


def make_splits(speaker_ids: list[str], repeats: int, seed: int, gender: str,
                evaluation_share: float = 0.1) -> pd.DataFrame:
    """All splits of one gender: rows (repeat, speaker_id, split), repeats numbered from 1.

    D_e is drawn once from (seed, gender); repeat r draws from (seed, gender, r), so adding
    repeats never changes the earlier ones.
    """
    code = GENDER_CODE[gender]
    if len(speaker_ids) < 2:
        raise ValueError(f"{len(speaker_ids)} speakers are too few to hold out an evaluation set")
    held_out = evaluation_set(speaker_ids, evaluation_share, np.random.default_rng([seed, code]))
    rest = [s for s in speaker_ids if s not in set(held_out)]
    rows = []
    for repeat in range(1, repeats + 1):
        split = repeat_split(rest, np.random.default_rng([seed, code, repeat]))
        split.update({s: "e" for s in held_out})
        rows += [(repeat, s, split[s]) for s in speaker_ids]
    return pd.DataFrame(rows, columns=["repeat", "speaker_id", "split"])
