"""splits stage: per gender, the fixed evaluation set D_e and each repeat's speaker-disjoint
D_t / D_v1 / D_v2 split (pipeline/splits.py), over the speakers that have both features and AMs.

A stage of its own, as the prepare stage of DVC's example project: changing the estimator
or its settings retrains on the very same splits, and only sfv.repeats, the evaluation
share, the seed or the cohort redraw them.
"""
from __future__ import annotations

from ..artifacts import read_table, write_csv
from ..cohort import Gender
from ..config import Params
from ..errors import DatasetError
from ..splits import make_splits
from . import Paths


def main(params: Params, paths: Paths) -> None:
    with_features = set(read_table(paths.features / "index.csv")["speaker_id"])
    ams = read_table(paths.ams)
    tables = {}
    for gender in map(Gender, params.sfv.genders):
        speakers = [s for s in ams.loc[ams["gender"] == gender.code, "speaker_id"] if s in with_features]
        try:
            tables[gender] = make_splits(speakers, params.sfv.repeats, params.seed, gender,
                                         params.sfv.evaluation_share)
        except ValueError as err:
            raise DatasetError(f"{paths.ams}: {len(speakers)} {gender} speakers have both features and AMs, "
                               f"too few for an evaluation set and 7/1/1 splits ({err})") from None
    for gender, table in tables.items():
        write_csv(table, paths.splits / f"{gender}.csv")
