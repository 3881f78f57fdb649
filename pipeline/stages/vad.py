"""vad stage: speech segments of every recording of the dataset root.

Speakers are spread over a process pool (pipeline/parallel.py, `SFV_WORKERS`), each worker
with a detector of its own; Silero runs on one thread in each, so the pool uses the cores
without their threads waiting on each other. Rows come back in manifest order whatever the
pool's width, so the segments table is the same bytes.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from ..artifacts import write_csv
from ..audio.frontend import FrontEnd
from ..audio.io import load_audio
from ..audio.vad import SEGMENT_DECIMALS, Detector
from ..config import Params
from ..dataset import SKIPPED_COLUMNS, Speaker, read_manifest, skip_reason
from ..errors import AudioError
from ..parallel import map_with_state
from . import Paths

SKIP_HINT = "Check the recording, or set data.on_error: skip to drop this speaker."
Row = tuple[str, str, float, float]  # speaker_id, recording, start_s, end_s


def main(params: Params, paths: Paths) -> None:
    front_end = FrontEnd.from_params(params.audio)
    root = Path(params.data.root)
    speakers = read_manifest(root)

    rows, skipped = [], []
    jobs = [(root, speaker) for speaker in speakers]
    done = map_with_state(_speaker_segments, jobs, _detector_state, (front_end,))
    for speaker, (found, error) in tqdm(zip(speakers, done), total=len(speakers), desc="vad", unit="speaker"):
        if error is not None:
            if params.data.on_error == "fail":
                raise error
            skipped.append((speaker.speaker_id, "vad", skip_reason(error)))
            continue
        speech = sum(end - start for _, _, start, end in found)
        if speech < params.sfv.segment_s[0]:
            tqdm.write(f"warning: speaker {speaker.speaker_id} has {speech:.2f} s of speech, less than one "
                       f"training segment ({params.sfv.segment_s[0]} s): the CNN's crops repeat it, and its "
                       f"statistics rest on few frames.", file=sys.stderr)
        rows += found
    # Written only now, so a failed run leaves no partial output.
    write_csv(pd.DataFrame(rows, columns=["speaker_id", "recording", "start_s", "end_s"]), paths.segments,
              f"%.{SEGMENT_DECIMALS}f")
    write_csv(pd.DataFrame(skipped, columns=SKIPPED_COLUMNS), paths.skipped_voices, None)


def _detector_state(front_end: FrontEnd) -> tuple[FrontEnd, Detector]:
    """One worker's front end and detector (Silero loads its model once per worker)."""
    return front_end, front_end.detector()


def _speaker_segments(state: tuple[FrontEnd, Detector], job: tuple[Path, Speaker]) -> tuple[list[Row], AudioError | None]:
    """A speaker's segment rows, or the error that makes the speaker unusable."""
    front_end, detector = state
    root, speaker = job
    try:
        if not speaker.audio:
            raise AudioError(f"speaker {speaker.speaker_id}: no recording in the manifest's audio column.")
        found = []
        for rel in speaker.audio:
            wave = load_audio(root / rel, front_end.sample_rate, speaker_id=speaker.speaker_id, shown_as=rel)
            segments = front_end.speech(wave, detector, rel)
            if len(segments) == 0:
                raise AudioError(f"speaker {speaker.speaker_id}: {rel} {front_end.no_speech(wave)}. {SKIP_HINT}")
            found += [(speaker.speaker_id, rel, start, end) for start, end in segments]
        return found, None
    except AudioError as err:
        return [], err
