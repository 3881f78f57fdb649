"""vad stage: speech segments of every recording of the dataset root."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from ..artifacts import write_csv
from ..audio.io import AudioError, load_audio
from ..audio.vad import SEGMENT_DECIMALS, make_detector, stored_segments
from ..config import load_params
from ..dataset import SKIPPED_COLUMNS, read_manifest, skip_reason
from . import run

SKIP_HINT = "Check the recording, or set data.on_error: skip to drop this speaker."


def main(params_path: Path, segments_path: Path, skipped_path: Path) -> None:
    params = load_params(params_path)
    audio = params.audio
    root = Path(params.data.root)
    speakers = read_manifest(root)
    detect = make_detector(audio.vad, audio.sample_rate, vad_threshold=audio.vad_threshold,
                           energy_threshold_db=audio.energy_threshold_db, min_speech_s=audio.min_speech_s,
                           min_silence_s=audio.min_silence_s)

    rows, skipped = [], []
    for speaker in tqdm(speakers, desc="vad", unit="speaker"):
        try:
            if not speaker.audio:
                raise AudioError(f"speaker {speaker.speaker_id}: no recording in the manifest's audio column.")
            found = []
            for rel in speaker.audio:
                wave = load_audio(root / rel, audio.sample_rate, speaker_id=speaker.speaker_id, shown_as=rel)
                segments = stored_segments(detect(wave))
                if len(segments) == 0:
                    raise AudioError(f"speaker {speaker.speaker_id}: {rel} has no speech after VAD "
                                     f"(0.00 s of {len(wave) / audio.sample_rate:.1f} s). {SKIP_HINT}")
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
    write_csv(pd.DataFrame(rows, columns=["speaker_id", "recording", "start_s", "end_s"]), segments_path,
              f"%.{SEGMENT_DECIMALS}f")
    write_csv(pd.DataFrame(skipped, columns=SKIPPED_COLUMNS), skipped_path, None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--segments", type=Path, default=Path("data/vad/segments.csv"))
    parser.add_argument("--skipped", type=Path, default=Path("reports/skipped.csv"))
    args = parser.parse_args()
    run(main, args.params, args.segments, args.skipped)
