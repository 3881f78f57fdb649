"""Stored feature frames cut by forced-alignment phones, pooled per phone or phone class.

The features files keep only the speech frames, without their times; the times are rebuilt
here from the VAD segments exactly as `speech_frames` selected them, so that an alignment row
[start_s, end_s) can pick its frames out of a speaker's features file.
"""
from __future__ import annotations

import sys
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..errors import DatasetError

Unit = Literal["phone", "class"]
ALIGNMENT_COLUMNS = ("recording", "start_s", "end_s", "phone")
SILENCE = frozenset({"", "sil", "sp", "spn"})  # compared lower-case: MFA, Kaldi and the synthetic roots
OVERLAP_TOLERANCE_S = 0.001  # rounding of written times (the synthetic roots overlap by 10 us); more is an error
NASALISED = "~"  # trailing mark of a nasalised vowel, e.g. AE~

_VOWELS = {
    "front_vowel": ("IY", "IH", "EH", "AE"),
    "central_vowel": ("AH", "ER"),
    "back_vowel": ("AA", "AO", "UH", "UW"),
    "diphthong": ("AW", "AY", "EY", "OW", "OY"),
}
PHONE_CLASSES: dict[str, tuple[str, ...]] = {
    **_VOWELS,
    "nasal_vowel": tuple(v + NASALISED for vowels in _VOWELS.values() for v in vowels),
    "nasal": ("M", "N", "NG"),
    "plosive_voiced": ("B", "D", "G"),
    "plosive_voiceless": ("P", "T", "K"),
    "affricate": ("CH", "JH"),
    "fricative_voiced": ("V", "DH", "Z", "ZH"),
    "fricative_voiceless": ("F", "TH", "S", "SH", "HH"),
    "approximant": ("L", "R", "W", "Y"),
}
_FAMILY = {"nasal": "nasal", "nasal_vowel": "nasal", "plosive_voiced": "plosive", "plosive_voiceless": "plosive",
           "affricate": "obstruent", "fricative_voiced": "obstruent", "fricative_voiceless": "obstruent",
           "approximant": "approximant"}
_CLASS_OF = {phone: name for name, phones in PHONE_CLASSES.items() for phone in phones}
SHOWN_UNKNOWN = 8  # unknown symbols a message lists


def unknown_phones(phones: pd.Series) -> dict[str, int]:
    """Symbols (as written) outside the documented inventory, with their rows: CMU's 39 ARPAbet
    phones (stress digits allowed), their nasalised vowels and silence. Empty cells are left to
    the alignment check."""
    written = phones.dropna().astype(str)
    unknown = written[[phone_unit(p) not in _CLASS_OF and phone_unit(p) is not None for p in written]]
    return {str(k): int(v) for k, v in unknown.value_counts(sort=False).sort_index().items()}


def describe_unknown(unknown: dict[str, int]) -> str:
    """What is wrong with `unknown` (unknown_phones' output), IPA named as such."""
    listed = ", ".join(f"{p!r} ({n} rows)" for p, n in list(unknown.items())[:SHOWN_UNKNOWN])
    more = f" and {len(unknown) - SHOWN_UNKNOWN} more" if len(unknown) > SHOWN_UNKNOWN else ""
    text = f"{sum(unknown.values())} rows have phones outside sfv's ARPAbet inventory: {listed}{more}"
    ipa = [p for p in unknown if not p.isascii()]
    if ipa:
        return (f"{text}. {ipa[:SHOWN_UNKNOWN]} are IPA, which sfv does not read: align with an ARPAbet "
                f"dictionary (e.g. MFA's english_us_arpa) or map the symbols to ARPAbet (docs/phonemes.md).")
    return (f"{text}. sfv reads the 39 ARPAbet phones (stress digits allowed), 'sil'/'sp'/'spn' for silence and "
            f"a trailing '~' for a nasalised vowel (docs/phonemes.md).")


def known_phones(alignment: pd.DataFrame, on_error: str, *, speaker_id: str,
                 shown_as: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """The alignment without rows of unknown phones, and those phones with their rows. With
    on_error 'fail' any unknown phone is an error: unknown symbols would otherwise vanish
    from every unit without a word (issue 31); with 'skip' a warning names speaker and phones."""
    if "phone" not in alignment.columns:
        return alignment, {}
    unknown = unknown_phones(alignment["phone"])
    if not unknown:
        return alignment, {}
    message = f"{shown_as}: speaker {speaker_id}: {describe_unknown(unknown)}"
    if on_error == "fail":
        raise DatasetError(f"{message} Or set data.on_error: skip to leave those rows out.")
    tqdm.write(f"warning: {message} Those rows are left out (data.on_error: skip).", file=sys.stderr)
    return alignment[~alignment["phone"].astype(str).isin(list(unknown))], unknown


class Pooled(NamedTuple):
    """One unit's frames over all its counted instances."""
    frames: np.ndarray  # [m, d], in alignment-row order
    instances: int  # alignment rows with at least min_frames stored frames
    seconds: float  # summed aligned duration of those rows (rounding overlaps removed)
    lengths: np.ndarray  # [instances] frames of each instance, in `frames` order

    def pieces(self) -> list[np.ndarray]:
        """The frames of each instance apart, so that frame-to-frame terms never cross a join."""
        return np.split(self.frames, np.cumsum(self.lengths)[:-1])


def phone_unit(phone: str, by: Unit = "phone") -> str | None:
    """The unit an alignment symbol pools into: the ARPAbet phone (stress digits dropped, so
    AH0 and AH1 are one phone) or its class; None for silence, and for symbols outside the
    class table in class mode."""
    bare = str(phone).strip()
    if bare.lower() in SILENCE:
        return None
    mark = NASALISED if bare.endswith(NASALISED) else ""
    symbol = bare.rstrip(NASALISED).rstrip("0123456789").upper() + mark
    if by == "phone":
        return symbol
    if by == "class":
        return _CLASS_OF.get(symbol)
    raise ValueError(f"by must be 'phone' or 'class', not {by!r}")


def _speech_frame_indices(n_frames: int, hop_s: float, spans: np.ndarray) -> np.ndarray:
    """The frames `frames_in_segments` marks, as indices, by searchsorted on the same centres."""
    centres = np.arange(n_frames) * hop_s
    lo = np.searchsorted(centres, spans[:, 0], "left")
    hi = np.maximum(np.searchsorted(centres, spans[:, 1], "left"), lo)
    cover = np.zeros(n_frames + 1, dtype=np.int64)
    np.add.at(cover, lo, 1)
    np.add.at(cover, hi, -1)
    return np.flatnonzero(np.cumsum(cover[:-1]) > 0)


def stored_frame_times(segments: pd.DataFrame, index: pd.DataFrame, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(recording [n] object, centre time s [n] float64) of each row of one speaker's features
    file, from that speaker's VAD segments (recording, start_s, end_s) and features-index rows
    (speaker_id, recording, frames), recordings in index order as the features stage wrote them.

    A segment ends at most at the end of its recording, but the stored milliseconds may round
    it up past the last frame: selected frames beyond the stored count are dropped when they
    lie within one hop of the recording's last segment end, and any other difference is an
    error (features and segments from different runs)."""
    speakers = index.speaker_id.unique()
    if len(speakers) != 1:
        raise ValueError(f"index rows of one speaker expected, got speakers {list(speakers)}")
    sid = speakers[0]
    extra = sorted(set(segments.recording) - set(index.recording))
    if extra:
        raise DatasetError(f"speaker {sid}: the VAD segments list recording(s) {extra} that the features index "
                           f"does not; the features are out of date with the segments (rerun the features stage).")
    recordings, times = [], []
    for rec, stored in zip(index.recording, index.frames.astype(int)):
        spans = segments.loc[segments.recording == rec, ["start_s", "end_s"]].to_numpy(dtype=float).reshape(-1, 2)
        last_end = spans[:, 1].max() if len(spans) else 0.0
        kept = _speech_frame_indices(max(int(np.ceil(last_end / hop_s)) + 1, 0), hop_s, spans) * hop_s
        past_end = kept[stored:]
        if len(kept) < stored or (past_end < last_end - hop_s).any():
            raise DatasetError(f"speaker {sid}, recording {rec}: the features index stores {stored} frames but the "
                               f"VAD segments select {len(kept)}; the features are out of date with the segments "
                               f"(rerun the features stage).")
        recordings.append(np.full(stored, rec, dtype=object))
        times.append(kept[:stored])
    return np.concatenate(recordings), np.concatenate(times)


def _checked_alignment(alignment: pd.DataFrame, known: pd.Index, speaker_id: str,
                       shown_as: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(recording code into `known`, start_s, end_s, phone) of a valid alignment, a start that
    rounding put before the previous phone's end moved to that end so no frame counts twice;
    errors name the file line (header = line 1)."""
    where = f"{shown_as}: speaker {speaker_id}"
    missing = [c for c in ALIGNMENT_COLUMNS if c not in alignment.columns]
    if missing:
        raise DatasetError(f"{where}: missing column(s) {missing}; expected {list(ALIGNMENT_COLUMNS)}.")
    lines = np.arange(len(alignment)) + 2
    start = pd.to_numeric(alignment.start_s, errors="coerce").to_numpy(dtype=float)
    end = pd.to_numeric(alignment.end_s, errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(start) & np.isfinite(end))
    if bad.any():
        raise DatasetError(f"{where}, line {lines[bad][0]}: start_s and end_s must be numbers (seconds).")
    bad = start < 0
    if bad.any():
        i = np.flatnonzero(bad)[0]
        raise DatasetError(f"{where}, line {lines[i]}: start_s {start[i]} is negative; times are seconds from the "
                           f"start of the recording.")
    bad = start >= end
    if bad.any():
        i = np.flatnonzero(bad)[0]
        raise DatasetError(f"{where}, line {lines[i]}: start_s {start[i]} is not before end_s {end[i]}.")
    phones = alignment.phone.to_numpy(dtype=object)
    bad = pd.isna(phones)
    if bad.any():
        raise DatasetError(f"{where}, line {lines[bad][0]}: empty phone (write 'sil' for silence).")
    codes = known.get_indexer(alignment.recording.astype(str))
    bad = codes < 0
    if bad.any():
        i = np.flatnonzero(bad)[0]
        raise DatasetError(f"{where}, line {lines[i]}: recording {alignment.recording.iloc[i]!r} is not one of "
                           f"the speaker's recordings {list(known)}.")
    order = np.lexsort((start, codes))
    before, after = order[:-1], order[1:]
    overlap = np.where(codes[after] == codes[before], end[before] - start[after], 0.0)
    if (overlap > OVERLAP_TOLERANCE_S).any():
        k = np.flatnonzero(overlap > OVERLAP_TOLERANCE_S)[0]
        raise DatasetError(f"{where}, lines {lines[before[k]]} and {lines[after[k]]}: the phones overlap by "
                           f"{overlap[k]:.3f} s; an alignment's phones follow one another.")
    start = start.copy()
    start[after[overlap > 0]] = end[before[overlap > 0]]  # the earlier phone keeps a shared frame
    return codes, start, end, phones


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenation of arange(lo[k], hi[k]) over k, without a loop."""
    n = hi - lo
    return np.repeat(lo - (np.cumsum(n) - n), n) + np.arange(n.sum())


def cut_phones(frames: np.ndarray, recordings: np.ndarray, times: np.ndarray, alignment: pd.DataFrame,
               by: Unit = "phone", min_frames: int = 1, *, speaker_id: str, shown_as: str) -> dict[str, Pooled]:
    """Per unit (phone_unit of each alignment row), the stored frames [n, d] whose recording is
    the row's and whose centre time is in [start_s, end_s), pooled over the unit's instances.
    An instance with fewer than `min_frames` stored frames (e.g. outside VAD speech) is neither
    pooled nor counted. `recordings` and `times` per frame are stored_frame_times' output."""
    if not len(frames) == len(recordings) == len(times):
        raise ValueError(f"frames ({len(frames)}), recordings ({len(recordings)}) and times ({len(times)}) differ")
    if min_frames < 1:
        raise ValueError(f"min_frames must be at least 1, not {min_frames}")
    frame_codes, known = pd.factorize(pd.Series(recordings, dtype=object))
    codes, start, end, phones = _checked_alignment(alignment, pd.Index(known), speaker_id, shown_as)
    units = np.array([phone_unit(p, by) for p in phones], dtype=object)

    order = np.lexsort((times, frame_codes))  # frames by recording, then time
    sorted_codes, sorted_times = frame_codes[order], np.asarray(times, dtype=float)[order]
    lo, hi = np.zeros(len(codes), dtype=np.int64), np.zeros(len(codes), dtype=np.int64)
    for code in range(len(known)):
        rows = codes == code
        first, stop = np.searchsorted(sorted_codes, [code, code + 1])
        block = sorted_times[first:stop]
        lo[rows] = first + np.searchsorted(block, start[rows], "left")
        hi[rows] = first + np.searchsorted(block, end[rows], "left")

    counted = pd.notna(units) & (hi - lo >= min_frames)
    pooled = {}
    for unit in dict.fromkeys(units[counted]):
        rows = counted & (units == unit)
        pooled[unit] = Pooled(frames[order[_ranges(lo[rows], hi[rows])]], int(rows.sum()),
                              float((end[rows] - start[rows]).sum()), hi[rows] - lo[rows])
    return pooled


def unit_family(unit: str) -> str:
    """vowel | nasal (nasals and nasalised vowels) | plosive | obstruent | approximant | other,
    for a phone or a class name."""
    name = unit if unit in PHONE_CLASSES else phone_unit(unit, "class")
    if name is None:
        return "other"
    return _FAMILY.get(name, "vowel" if name.endswith("vowel") or name == "diphthong" else "other")
