"""phonemes stage (one per gender in sfv.genders): the source's phoneme analysis (§4.5, Fig. 7).

From <root>/alignments/<speaker_id>.csv, each speaker's frames of one phone (or phone class)
are the only input of the stats_ridge protocol on the train stage's splits; per unit and AM,
the error ratio and CI_u. Writes reports/phonemes/<gender>.csv (long: one row per unit and
AM), <gender>.json (metrics), <gender>_skipped.csv (speakers without an alignment, or whose
alignment does not match their features), and the figures phonemes_<gender>.png (units ranked
by mean 1 - CI_u) and phoneme_am_<gender>.png (unit x AM group). A root without alignments gives
empty tables and a metrics file that says why; it never fails the pipeline.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..artifacts import read_output, read_table, write_csv, write_json
from ..audio.phones import cut_phones, stored_frame_times, unit_family
from ..dataset import SKIPPED_COLUMNS, DatasetError, skip_reason
from ..estimator.data import load_features
from ..face.ams import read_am_table
from ..plots.phonemes import group_heatmap, ranking_figure
from ..plots.render import save_figure
from ..selection.phonemes import group_matrix, phoneme_metrics, phoneme_table, planted_check, unit_ranking
from ..settings import GENDER_CODES, configured_params
from . import run

def main(params_path: Path, gender: str, features_dir: Path, segments_path: Path, ams_path: Path,
         splits_dir: Path, out_dir: Path, plots_dir: Path) -> None:
    params = configured_params(params_path, gender)
    settings = params.phonemes
    root = Path(params.data.root)
    table = read_am_table(Path(params.face.ams))
    splits = read_output(splits_dir / f"{gender}.csv", "train")
    speakers = list(dict.fromkeys(splits["speaker_id"]))
    ams = read_table(ams_path).set_index("speaker_id")
    targets = ams.loc[ams["gender"] == GENDER_CODES[gender], [f"am_{k}" for k in table.am_id]]
    segments = read_table(segments_path)
    index = read_table(features_dir / "index.csv")
    features = load_features(features_dir)
    hop_s = params.audio.hop_ms / 1000.0

    pools, skipped = {}, []
    for sid in tqdm(speakers, desc=f"phonemes {gender}: cut", unit="speaker"):
        shown_as = f"alignments/{sid}.csv"
        path = root / shown_as
        try:
            if not path.is_file():
                raise DatasetError(f"speaker {sid}: no alignment file {shown_as} in {root}.")
            recordings, times = stored_frame_times(segments[segments["speaker_id"] == sid],
                                                   index[index["speaker_id"] == sid], hop_s)
            pools[sid] = cut_phones(np.concatenate(features[sid]), recordings, times, _read_alignment(path, sid),
                                    settings.by, settings.min_frames, speaker_id=sid, shown_as=shown_as)
        except DatasetError as err:
            # A missing alignment only leaves the speaker out here; a broken one follows data.on_error.
            if params.data.on_error == "fail" and path.is_file():
                raise
            skipped.append((sid, "phonemes", skip_reason(err)))

    units = sorted({u for pooled in pools.values() for u in pooled})
    with tqdm(total=len(units), desc=f"phonemes {gender}: units", unit="unit") as bar:
        long = phoneme_table(pools, splits, targets, table, settings.min_instances,
                             settings.min_speakers * len(speakers), params.sfv.alpha, bar.update)
    metrics = phoneme_metrics(long, len(units), len(pools), len(speakers), settings.min_speakers)
    oracle_path = root / "truth" / "oracle.csv"
    if not long.empty and oracle_path.is_file():
        oracle = pd.read_csv(oracle_path).set_index("am_id")
        families = pd.Series({u: unit_family(u) for u in long["phoneme"].unique()})
        metrics["truth"] = planted_check(long, oracle[f"planted_{gender}"], families)

    write_csv(long, out_dir / f"{gender}.csv")
    write_csv(pd.DataFrame(skipped, columns=SKIPPED_COLUMNS), out_dir / f"{gender}_skipped.csv", None)
    write_json({gender: {"phonemes": metrics}}, out_dir / f"{gender}.json")
    ranking = None if long.empty else unit_ranking(long)
    save_figure(ranking_figure(ranking, f"{gender}: phonemes ranked by mean 1 - CI_u over all AMs",
                               metrics.get("note")), plots_dir / f"phonemes_{gender}.png")
    save_figure(group_heatmap(None if long.empty else group_matrix(long), f"{gender}: mean 1 - CI_u by phoneme and AM group",
                              metrics.get("note")), plots_dir / f"phoneme_am_{gender}.png")


def _read_alignment(path: Path, speaker_id: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DatasetError(f"speaker {speaker_id}: {path} cannot be read as CSV ({err}).") from None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--gender", required=True)
    parser.add_argument("--features", type=Path, default=Path("data/features"))
    parser.add_argument("--segments", type=Path, default=Path("data/vad/segments.csv"))
    parser.add_argument("--ams", type=Path, default=Path("data/ams/ams.csv"))
    parser.add_argument("--splits", type=Path, default=Path("data/splits"))
    parser.add_argument("--out", type=Path, default=Path("reports/phonemes"))
    parser.add_argument("--plots", type=Path, default=Path("reports/plots"))
    args = parser.parse_args()
    run(main, args.params, args.gender, args.features, args.segments, args.ams, args.splits, args.out, args.plots)
