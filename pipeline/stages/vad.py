"""vad stage: speech segments of every recording of the dataset root."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from ..artifacts import write_csv
from ..audio.frontend import FrontEnd
from ..audio.io import load_audio
from ..audio.vad import SEGMENT_DECIMALS
from ..config import Params
from ..dataset import SKIPPED_COLUMNS, read_manifest, skip_reason
from ..errors import AudioError
from . import Paths

SKIP_HINT = "Check the recording, or set data.on_error: skip to drop this speaker."


def main(params: Params, paths: Paths) -> None:
    front_end = FrontEnd.from_params(params.audio)
    root = Path(params.data.root)
    speakers = read_manifest(root)
    detector = front_end.detector()

    rows, skipped = [], []
    for speaker in tqdm(speakers, desc="vad", unit="speaker"):
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
            speech = sum(end - start for _, _, start, end in found)
            if speech < params.sfv.segment_s[0]:
                tqdm.write(f"warning: speaker {speaker.speaker_id} has {speech:.2f} s of speech, less than one "
                           f"training segment ({params.sfv.segment_s[0]} s): the CNN's crops repeat it, and its "
                           f"statistics rest on few frames.", file=sys.stderr)
            rows += found
        except AudioError as err:
            if params.data.on_error == "fail":
                raise
            skipped.append((speaker.speaker_id, "vad", skip_reason(err)))
    # Written only now, so a failed run leaves no partial output.
    write_csv(pd.DataFrame(rows, columns=["speaker_id", "recording", "start_s", "end_s"]), paths.segments,
              f"%.{SEGMENT_DECIMALS}f")
    write_csv(pd.DataFrame(skipped, columns=SKIPPED_COLUMNS), paths.skipped_voices, None)

