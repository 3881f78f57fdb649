"""train stage: AM estimators for every repeat of the splits stage's splits, and their predictions.

Per gender: the repeats (pipeline/estimator/protocol.py: in groups, on this machine or on
Ray, resumable), the permutation null where the estimator affords one, then the tables that
summarise all repeats (predictions, null, training log), written last and atomically.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..artifacts import read_output, read_table, write_csv
from ..audio.frontend import FrontEnd
from ..cohort import Gender
from ..config import Params
from ..device import device_for
from ..embeddings import load_embeddings
from ..estimator.data import load_features, load_waveforms
from ..errors import OutputError
from ..estimator.null import empty_null
from ..estimator.protocol import predictions_table, pretraining_log, repeat_path, train_repeats, training_log
from ..estimator.registry import estimator_for
from ..estimator.store import load_repeat
from ..seeds import permutation_seed
from ..splits import Splits
from . import Paths


def main(params: Params, paths: Paths) -> None:
    estimator = estimator_for(params)
    device = device_for(params.device)
    features = load_features(paths.features)
    if estimator.needs_embeddings:
        vectors, meta = load_embeddings(paths.embeddings)
        if tuple(meta["specs"]) != estimator.inputs.encoders:
            raise OutputError(f"{paths.embeddings}: holds the vectors of {meta['specs']}, embedding.encoder asks for "
                              f"{list(estimator.inputs.encoders)}; run the embeddings stage (dvc repro)")
        features = estimator.speaker_inputs(features, vectors)
    segments = read_table(paths.segments) if params.sfv.phonatory else None
    ams = read_table(paths.ams).set_index("speaker_id")
    am_columns = [c for c in ams.columns if c.startswith("am_")]
    am_ids = np.array([int(c.removeprefix("am_")) for c in am_columns])
    for gender in map(Gender, params.sfv.genders):
        splits = Splits(read_output(paths.splits / f"{gender}.csv", "splits"))
        targets = ams.loc[splits.speakers, am_columns]
        # The phonatory module's targets: only speakers that are in some repeat's D_t are read.
        trained = sorted(set(splits.table.speaker_id[splits.table.split == "t"]))
        waveforms = (load_waveforms(Path(params.data.root), segments, trained, params.audio.sample_rate)
                     if params.sfv.phonatory else None)
        models_dir = paths.estimators / str(gender)
        train_repeats(estimator, device, gender, splits, features, targets, am_ids, models_dir,
                      FrontEnd.from_params(params.audio), seed=params.seed,
                      requested_group_size=params.sfv.group_size, backend=params.sfv.backend, waveforms=waveforms)
        stored = [load_repeat(repeat_path(models_dir, r)) for r in range(1, splits.n_repeats + 1)]
        null = (estimator.permutation_null(splits.table, features, targets, params.sfv.permutations,
                                           params.sfv.permutation_exceedances, permutation_seed(params.seed, gender), f"permutations {gender}")
                if estimator.supports_permutation else empty_null())
        write_csv(predictions_table(stored, targets), paths.predictions / f"{gender}.csv")
        write_csv(null, paths.predictions / f"{gender}_permutations.csv")
        write_csv(training_log(stored), paths.train_log / f"{gender}.csv")
        write_csv(pretraining_log(stored), paths.phonatory_log / f"{gender}.csv")
