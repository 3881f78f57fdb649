"""features stage: normalised log-mels of the speech frames of every speaker (the voice front end)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..artifacts import partial_folder, read_table, save_npy, speaker_file, write_csv
from ..audio.frontend import FrontEnd
from ..audio.io import load_audio
from ..config import Params
from ..device import device_for
from . import Paths

SPEAKERS_PER_BATCH = 16


def main(params: Params, paths: Paths) -> None:
    front_end = FrontEnd.from_params(params.audio)
    root = Path(params.data.root)
    device = device_for(params.device)
    extractor = front_end.extractor(device)
    segments = read_table(paths.segments)
    by_speaker = {sid: group for sid, group in segments.groupby("speaker_id", sort=False)}

    index = []
    speaker_ids = list(by_speaker)
    with partial_folder(paths.features) as partial, \
            tqdm(total=len(speaker_ids), desc="features", unit="speaker") as progress:
        for start in range(0, len(speaker_ids), SPEAKERS_PER_BATCH):
            chunk = speaker_ids[start:start + SPEAKERS_PER_BATCH]
            jobs = [(sid, rel) for sid in chunk for rel in by_speaker[sid].recording.unique()]
            waves = [load_audio(root / rel, front_end.sample_rate, speaker_id=sid, shown_as=rel) for sid, rel in jobs]
            spans = [by_speaker[sid].loc[by_speaker[sid].recording == rel, ["start_s", "end_s"]].to_numpy()
                     for sid, rel in jobs]
            kept: dict[str, list[np.ndarray]] = {sid: [] for sid in chunk}
            for (sid, rel), frames in zip(jobs, front_end.features(waves, spans, extractor, device)):
                kept[sid].append(frames)
                index.append((sid, rel, len(frames)))
            for sid in chunk:
                save_npy(np.concatenate(kept[sid]).astype(np.float32), speaker_file(partial, sid, ".npy"))
            progress.update(len(chunk))
        write_csv(pd.DataFrame(index, columns=["speaker_id", "recording", "frames"]), partial / "index.csv", None)
