"""synth stage: the synthetic dataset root (voices, faces, raw scans, annotations, truth) and two sheets."""
from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..artifacts import partial_folder, speaker_file
from ..cohort import Gender
from ..config import Params
from ..face.ams import default_am_table
from ..face.template import build_template
from ..plots.render import face_sheet, save_figure
from ..plots.spectrogram import voice_sheet
from ..seeds import oracle_rng
from ..synth.cohort import ScanSettings, VoiceSettings, speaker_ids
from ..synth.link import oracle
from ..synth.shape_model import build_shape_model
from ..synth.speech import SAMPLE_RATE
from ..synth.writer import read_audio, write_manifest, write_people, write_truth
from . import Paths


def main(params: Params, paths: Paths) -> None:
    synth = params.synth
    template = build_template(synth.vertices)
    model = build_shape_model(template, synth.residual_mm).shifted(synth.mean_shift)
    settings = ScanSettings.from_params(synth)
    voice = VoiceSettings.from_params(synth)
    cohort = speaker_ids(synth.speakers.male, synth.speakers.female)

    # Build in a sibling folder and move it into place at the end: no half-written root.
    with partial_folder(paths.synthetic) as partial:
        people = list(tqdm(write_people(partial, model, cohort, params.seed, settings, voice),
                           total=len(cohort), desc="synth", unit="speaker"))
        write_manifest(partial, [p.manifest_row for p in people])
        speakers = pd.DataFrame(cohort, columns=["speaker_id", "gender"])
        shapes = np.stack([p.vertices for p in people])
        am_table = default_am_table()
        truth_oracle = oracle(model, am_table, synth.coupling, synth.planted, oracle_rng(params.seed))
        write_truth(partial, template, speakers, np.stack([p.factors for p in people]), shapes,
                    np.stack([p.pose for p in people]), [p.annotation for p in people],
                    np.stack([p.latents for p in people]), np.array([p.snr_db for p in people]),
                    truth_oracle, am_table)
    root = paths.synthetic

    shown = _sheet_rows(speakers, synth.sheet_faces)
    figure = face_sheet(
        [(shapes[i], template.faces) for i in shown],
        titles=[f"{speakers.speaker_id[i]} ({Gender.from_code(speakers.gender[i])})" for i in shown],
        landmarks=[shapes[i][template.landmark_idx] for i in shown],
    )
    save_figure(figure, paths.synth_faces_sheet, dpi=110)

    heard = _sheet_rows(speakers, synth.sheet_voices)
    first = {i: people[i].manifest_row["audio"].split(";")[0] for i in heard}  # the sheet shows first recordings
    alignments = {i: pd.read_csv(speaker_file(root / "alignments", speakers.speaker_id[i], ".csv")) for i in heard}
    alignments = {i: a[a.recording == first[i]] for i, a in alignments.items()}
    figure = voice_sheet(
        [(read_audio(root / first[i]), SAMPLE_RATE,
          list(alignments[i][["phone", "start_s", "end_s"]].itertuples(index=False))) for i in heard],
        titles=[f"{speakers.speaker_id[i]} ({Gender.from_code(speakers.gender[i])}), "
                f"SNR {people[i].snr_db:.0f} dB" for i in heard],
    )
    save_figure(figure, paths.synth_voices_sheet)


def _sheet_rows(speakers: pd.DataFrame, n: int) -> list[int]:
    """Up to n rows, alternating genders so both appear."""
    by_gender = [list(np.flatnonzero(speakers.gender.to_numpy() == g.code)) for g in Gender]
    picked: list[int] = []
    while len(picked) < n and any(by_gender):
        for rows in by_gender:
            if rows and len(picked) < n:
                picked.append(rows.pop(0))
    return picked
