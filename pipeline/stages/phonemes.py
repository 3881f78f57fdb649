"""phonemes stage (one per gender in sfv.genders): the source's phoneme analysis (§4.5, Fig. 7).

From <root>/alignments/<speaker_id>.csv, each speaker's frames of one phone (or phone class)
are the only input of the stats_ridge protocol on the splits stage's splits; per unit and AM,
the error ratio and CI_u. Writes reports/phonemes/<gender>.csv (long: one row per unit and
AM), <gender>.json (metrics), <gender>_skipped.csv (speakers without an alignment, or whose
alignment does not match their features), and the figures phonemes_<gender>.png (units ranked
by mean 1 - CI_u) and phoneme_am_<gender>.png (unit x AM group). A root without alignments gives
empty tables and a metrics file that says why; it never fails the pipeline.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..artifacts import read_output, read_table, speaker_file, write_csv, write_json
from ..audio.phones import cut_phones, known_phones, stored_frame_times, unit_family
from ..cohort import Gender
from ..config import Params
from ..dataset import SKIPPED_COLUMNS, skip_reason
from ..errors import DatasetError
from ..estimator.data import load_features
from ..face.ams import read_am_table
from ..plots.phonemes import group_heatmap, ranking_figure
from ..plots.render import save_figure
from ..selection.phonemes import group_matrix, phoneme_metrics, phoneme_table, planted_check, unit_ranking
from ..splits import Splits
from . import Paths


def main(params: Params, paths: Paths, gender: Gender) -> None:
    settings = params.phonemes
    root = Path(params.data.root)
    table = read_am_table(Path(params.face.ams))
    splits = Splits(read_output(paths.splits / f"{gender}.csv", "splits"))
    speakers = splits.speakers
    ams = read_table(paths.ams).set_index("speaker_id")
    targets = ams.loc[ams["gender"] == gender.code, [f"am_{k}" for k in table.am_id]]
    segments = read_table(paths.segments)
    index = read_table(paths.features / "index.csv")
    features = load_features(paths.features)
    hop_s = params.audio.hop_ms / 1000.0

    pools, skipped, unknown = {}, [], {}
    for sid in tqdm(speakers, desc=f"phonemes {gender}: cut", unit="speaker"):
        path = speaker_file(root / "alignments", sid, ".csv")
        shown_as = f"alignments/{path.name}"
        try:
            if not path.is_file():
                raise DatasetError(f"speaker {sid}: no alignment file {shown_as} in {root}.")
            recordings, times = stored_frame_times(segments[segments["speaker_id"] == sid],
                                                   index[index["speaker_id"] == sid], hop_s)
            alignment, dropped = known_phones(_read_alignment(path, sid), params.data.on_error, speaker_id=sid,
                                              shown_as=shown_as)
            unknown.update({sid: dropped} if dropped else {})
            pools[sid] = cut_phones(np.concatenate(features[sid]), recordings, times, alignment,
                                    settings.by, settings.min_frames, speaker_id=sid, shown_as=shown_as)
        except DatasetError as err:
            # A missing alignment only leaves the speaker out here; a broken one follows data.on_error.
            if params.data.on_error == "fail" and path.is_file():
                raise
            skipped.append((sid, "phonemes", skip_reason(err)))

    units = sorted({u for pooled in pools.values() for u in pooled})
    with tqdm(total=len(units), desc=f"phonemes {gender}: units", unit="unit") as bar:
        long = phoneme_table(pools, splits.table, targets, table, settings.min_instances,
                             settings.min_speakers * len(speakers), params.sfv.alpha, bar.update)
    metrics = phoneme_metrics(long, len(units), len(pools), len(speakers), settings.min_speakers)
    if unknown:  # data.on_error: skip left these rows out; each speaker was warned about
        metrics["unknown_phones"] = unknown
    oracle_path = root / "truth" / "oracle.csv"
    if not long.empty and oracle_path.is_file():
        oracle = pd.read_csv(oracle_path).set_index("am_id")
        families = pd.Series({u: unit_family(u) for u in long["phoneme"].unique()})
        metrics["truth"] = planted_check(long, oracle[f"planted_{gender}"], families)

    write_csv(long, paths.phonemes / f"{gender}.csv")
    write_csv(pd.DataFrame(skipped, columns=SKIPPED_COLUMNS), paths.phonemes / f"{gender}_skipped.csv", None)
    write_json({str(gender): {"phonemes": metrics}}, paths.phonemes / f"{gender}.json")
    ranking = None if long.empty else unit_ranking(long)
    save_figure(ranking_figure(ranking, f"{gender}: phonemes ranked by mean 1 - CI_u over all AMs",
                               metrics.get("note")), paths.plots / f"phonemes_{gender}.png")
    save_figure(group_heatmap(None if long.empty else group_matrix(long), f"{gender}: mean 1 - CI_u by phoneme and AM group",
                              metrics.get("note")), paths.plots / f"phoneme_am_{gender}.png")


def _read_alignment(path: Path, speaker_id: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DatasetError(f"speaker {speaker_id}: {path} cannot be read as CSV ({err}).") from None

