"""features stage: normalised log-mels of the speech frames of every speaker."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..artifacts import read_table
from ..audio.features import LogMel, log_mel_batch, speech_frames
from ..audio.io import load_audio
from ..config import load_params
from ..settings import device_for
from . import run

SPEAKERS_PER_BATCH = 16


def main(params_path: Path, segments_path: Path, out_dir: Path) -> None:
    params = load_params(params_path)
    audio = params.audio
    root = Path(params.data.root)
    device = device_for(params.device)
    extractor = LogMel(audio.sample_rate, audio.n_mels, audio.window_ms, audio.hop_ms).to(device)
    segments = read_table(segments_path)
    by_speaker = {sid: group for sid, group in segments.groupby("speaker_id", sort=False)}

    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    index = []
    speaker_ids = list(by_speaker)
    with tqdm(total=len(speaker_ids), desc="features", unit="speaker") as progress:
        for start in range(0, len(speaker_ids), SPEAKERS_PER_BATCH):
            chunk = speaker_ids[start:start + SPEAKERS_PER_BATCH]
            jobs = [(sid, rel) for sid in chunk for rel in by_speaker[sid].recording.unique()]
            waves = [load_audio(root / rel, audio.sample_rate, speaker_id=sid, shown_as=rel) for sid, rel in jobs]
            mels = log_mel_batch(waves, extractor, device)
            kept: dict[str, list[np.ndarray]] = {sid: [] for sid in chunk}
            for (sid, rel), mel in zip(jobs, mels):
                group = by_speaker[sid]
                spans = group.loc[group.recording == rel, ["start_s", "end_s"]].to_numpy()
                kept[sid].append(speech_frames(mel, audio.hop_ms / 1000.0, spans))
                index.append((sid, rel, len(kept[sid][-1])))
            for sid in chunk:
                np.save(partial / f"{sid}.npy", np.concatenate(kept[sid]).astype(np.float32))
            progress.update(len(chunk))
    pd.DataFrame(index, columns=["speaker_id", "recording", "frames"]).to_csv(partial / "index.csv", index=False)
    shutil.rmtree(out_dir, ignore_errors=True)
    partial.rename(out_dir)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--segments", type=Path, default=Path("data/vad/segments.csv"))
    parser.add_argument("--out", type=Path, default=Path("data/features"))
    args = parser.parse_args()
    run(main, args.params, args.segments, args.out)
