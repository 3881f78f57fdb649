"""Speaker-disjoint splits: a fixed evaluation set, then fresh train/val1/val2 splits per repeat.

Every split is drawn by speaker, never by recording or segment, so no voice is ever seen in
training and scored in validation or evaluation. The splits stage writes one table per gender
(repeat, speaker_id, split); every later stage reads it through `Splits`, so "which speakers
are D_e" and "what repeat r trains on" are answered in one place.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cohort import Gender
from .seeds import held_out_rng, split_rng

SPLITS = ("t", "v1", "v2", "e")
COLUMNS = ["repeat", "speaker_id", "split"]


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


def make_splits(speaker_ids: list[str], repeats: int, seed: int, gender: Gender,
                evaluation_share: float) -> pd.DataFrame:
    """All splits of one gender: rows (repeat, speaker_id, split), repeats numbered from 1.

    D_e is drawn once from (seed, gender); repeat r draws from (seed, gender, r), so adding
    repeats never changes the earlier ones.
    """
    gender = Gender(gender)
    if len(speaker_ids) < 2:
        raise ValueError(f"{len(speaker_ids)} speakers are too few to hold out an evaluation set")
    held_out = evaluation_set(speaker_ids, evaluation_share, held_out_rng(seed, gender))
    rest = [s for s in speaker_ids if s not in set(held_out)]
    rows = []
    for repeat in range(1, repeats + 1):
        split = repeat_split(rest, split_rng(seed, gender, repeat))
        split.update({s: "e" for s in held_out})
        rows += [(repeat, s, split[s]) for s in speaker_ids]
    return pd.DataFrame(rows, columns=COLUMNS)


@dataclass(frozen=True)
class Splits:
    """The splits table of one gender, and the questions later stages ask of it."""

    table: pd.DataFrame  # COLUMNS, repeats 1..N

    @property
    def n_repeats(self) -> int:
        return int(self.table["repeat"].max())

    @property
    def speakers(self) -> list[str]:
        """Every speaker of the gender (D_e included), in table order."""
        return list(dict.fromkeys(self.table["speaker_id"]))

    @property
    def held_out(self) -> list[str]:
        """D_e, the same in every repeat: never trained on, never used to choose anything."""
        first = self.table[self.table["repeat"] == self.table["repeat"].min()]
        return list(first.loc[first["split"] == "e", "speaker_id"])

    def repeat(self, r: int) -> dict[str, str]:
        """speaker_id -> t | v1 | v2 | e in repeat r."""
        rows = self.table[self.table["repeat"] == r]
        return dict(zip(rows["speaker_id"], rows["split"]))

    def members(self, r: int, part: str) -> list[str]:
        """The speakers of one part of repeat r, in table order."""
        return [s for s, p in self.repeat(r).items() if p == part]

    def sizes(self) -> dict[str, int]:
        """Speakers per part in a repeat (every repeat has the same sizes)."""
        counts = pd.Series(self.repeat(int(self.table["repeat"].min()))).value_counts()
        return {part: int(counts.get(part, 0)) for part in SPLITS}

    def first(self, n: int) -> Splits:
        """The first n repeats: the protocol with N = n (splits only ever extend)."""
        return Splits(self.table[self.table["repeat"] <= n])
