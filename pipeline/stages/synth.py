"""synth stage: the synthetic dataset root (voices, faces, raw scans, annotations, truth) and two sheets."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..config import SynthParams, load_params
from . import run
from ..face.ams import default_am_table
from ..plots.render import face_sheet, save_figure
from ..plots.spectrogram import voice_sheet
from ..synth.cohort import ScanSettings, VoiceSettings, speaker_ids
from ..synth.link import oracle
from ..synth.speech import SAMPLE_RATE
from ..synth.shape_model import build_shape_model
from ..synth.template import build_template
from ..synth.writer import read_audio, write_manifest, write_people, write_truth


def scan_settings(synth: SynthParams) -> ScanSettings:
    scan, ann = synth.scan, synth.annotation
    return ScanSettings(
        vertices=scan.vertices, rotation_deg=scan.rotation_deg, translation_mm=scan.translation_mm,
        noise_mm=scan.noise_mm, holes=scan.holes, hole_radius_mm=scan.hole_radius_mm,
        annotation_noise_mm=ann.noise_mm, mislabel_rate=ann.mislabel_rate, mislabel_mm=ann.mislabel_mm,
    )


def voice_settings(synth: SynthParams) -> VoiceSettings:
    return VoiceSettings(seconds=synth.seconds, recordings=synth.recordings, coupling=synth.coupling, planted=synth.planted,
                         snr_db=synth.snr_db, reverb=synth.reverb, silence_s=synth.silence_s)


def main(params_path: Path, root: Path, sheet: Path, voices: Path) -> None:
    params = load_params(params_path)
    synth = params.synth
    template = build_template(synth.vertices)
    model = build_shape_model(template, synth.residual_mm)
    settings = scan_settings(synth)
    voice = voice_settings(synth)
    cohort = speaker_ids(synth.speakers.male, synth.speakers.female)

    # Build in a sibling folder and move it into place at the end: no half-written root.
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    people = list(tqdm(write_people(partial, model, cohort, params.seed, settings, voice),
                       total=len(cohort), desc="synth", unit="speaker"))
    write_manifest(partial, [p.manifest_row for p in people])
    speakers = pd.DataFrame(cohort, columns=["speaker_id", "gender"])
    shapes = np.stack([p.vertices for p in people])
    am_table = default_am_table()
    # The oracle's population is its own random stream, apart from every speaker's.
    truth_oracle = oracle(model, am_table, synth.coupling, synth.planted, np.random.default_rng([params.seed, 2**31]))
    write_truth(partial, template, speakers, np.stack([p.factors for p in people]), shapes,
                np.stack([p.pose for p in people]), [p.annotation for p in people],
                np.stack([p.latents for p in people]), np.array([p.snr_db for p in people]),
                truth_oracle, am_table)
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)

    shown = _sheet_rows(speakers, synth.sheet_faces)
    figure = face_sheet(
        [(shapes[i], template.faces) for i in shown],
        titles=[f"{speakers.speaker_id[i]} ({'male' if speakers.gender[i] == 'M' else 'female'})" for i in shown],
        landmarks=[shapes[i][template.landmark_idx] for i in shown],
    )
    save_figure(figure, sheet, dpi=110)

    heard = _sheet_rows(speakers, synth.sheet_voices)
    first = {i: people[i].manifest_row["audio"].split(";")[0] for i in heard}  # the sheet shows first recordings
    alignments = {i: pd.read_csv(root / "alignments" / f"{speakers.speaker_id[i]}.csv") for i in heard}
    alignments = {i: a[a.recording == first[i]] for i, a in alignments.items()}
    figure = voice_sheet(
        [(read_audio(root / first[i]), SAMPLE_RATE,
          list(alignments[i][["phone", "start_s", "end_s"]].itertuples(index=False))) for i in heard],
        titles=[f"{speakers.speaker_id[i]} ({'male' if speakers.gender[i] == 'M' else 'female'}), "
                f"SNR {people[i].snr_db:.0f} dB" for i in heard],
    )
    save_figure(figure, voices)


def _sheet_rows(speakers: pd.DataFrame, n: int) -> list[int]:
    """Up to n rows, alternating sexes so both appear."""
    by_sex = [list(np.flatnonzero(speakers.gender.to_numpy() == s)) for s in ("M", "F")]
    picked: list[int] = []
    while len(picked) < n and any(by_sex):
        for rows in by_sex:
            if rows and len(picked) < n:
                picked.append(rows.pop(0))
    return picked


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--root", type=Path, default=Path("data/synthetic"))
    parser.add_argument("--sheet", type=Path, default=Path("reports/synth/faces.png"))
    parser.add_argument("--voices", type=Path, default=Path("reports/synth/voices.png"))
    args = parser.parse_args()
    run(main, args.params, args.root, args.sheet, args.voices)
