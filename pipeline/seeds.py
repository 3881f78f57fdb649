"""Every random stream of a run, derived from `seed` in one place.

A stream is keyed by what it is for (gender, repeat, person), never by the order in which
things run, so adding repeats, genders or speakers leaves every other stream as it was.
Streams below a derived seed (a repeat's batches, its masks, its pre-training pairs) are
drawn inside the code that uses them, from that seed.

| stream | key |
|---|---|
| D_e of a gender | (seed, gender) |
| repeat r's D_t / D_v1 / D_v2 split | (seed, gender, r) |
| repeat r's weights and batches | (seed, gender, r), as one integer |
| the regression baseline | repeat 0's integer (no estimator repeat uses 0) |
| the permutation null's shufflings | (seed, gender, 0, 1) |
| the evaluate stage's bootstrap | (seed, gender), as one integer |
| synthetic person i | (seed, i) |
| the synthetic cohort's oracle population | (seed, 2^31) |
| a voice-only world of one sex (`sfv power`, `sfv calibrate`) | (world seed, sex); voice i: (world seed, i, 1) |
| their worlds' seeds | the linked world: seed; null world w: seed + 1000 + w |
| the oracle of those worlds | (seed, 99) |

(seed, 0) keys both synthetic person 0 and the male D_e: the two never meet in one computation
(the split draws a permutation of speakers that already exist).
"""
from __future__ import annotations

import numpy as np

from .cohort import Gender

ORACLE_KEY = 2**31
WORLD_ORACLE_KEY = 99


def _integer(*key: int) -> int:
    return int(np.random.SeedSequence(list(key)).generate_state(1)[0])


def held_out_rng(seed: int, gender: Gender) -> np.random.Generator:
    """Draws the fixed evaluation set D_e."""
    return np.random.default_rng([seed, gender.index])


def split_rng(seed: int, gender: Gender, repeat: int) -> np.random.Generator:
    """Draws repeat `repeat`'s split of the speakers outside D_e."""
    return np.random.default_rng([seed, gender.index, repeat])


def repeat_seed(seed: int, gender: Gender, repeat: int) -> int:
    """The seed of one repeat's weights and batches, independent of every other repeat."""
    return _integer(seed, gender.index, repeat)


def regression_seed(seed: int, gender: Gender) -> int:
    """The regression baseline's seed: repeat 0's, a stream no estimator repeat uses."""
    return repeat_seed(seed, gender, 0)


def permutation_seed(seed: int, gender: Gender) -> int:
    """The shuffling stream of the permutation null, apart from every repeat's and the regression's."""
    return _integer(seed, gender.index, 0, 1)


def evaluation_seed(seed: int, gender: Gender) -> int:
    """The evaluate stage's bootstrap of the matching accuracy."""
    return _integer(seed, gender.index)


def person_rng(seed: int, index: int) -> np.random.Generator:
    """Synthetic person `index`: face, scan, annotation, voice, then the scan's head and clutter."""
    return np.random.default_rng([seed, index])


def oracle_rng(seed: int) -> np.random.Generator:
    """The synthetic cohort's oracle population, apart from every person's stream."""
    return np.random.default_rng([seed, ORACLE_KEY])


def world_rng(seed: int, gender: Gender) -> np.random.Generator:
    """A voice-only world of one sex: its faces and latents."""
    return np.random.default_rng([seed, gender.index])


def world_voice_rng(seed: int, index: int) -> np.random.Generator:
    """Voice `index` of a voice-only world: its recording."""
    return np.random.default_rng([seed, index, 1])


NULL_WORLD_OFFSET = 1000


def null_world_seed(seed: int, world: int) -> int:
    """The seed of null world `world` of a study whose linked world has `seed`."""
    return seed + NULL_WORLD_OFFSET + world


def world_oracle_rng(seed: int) -> np.random.Generator:
    """The oracle of the voice-only worlds of `sfv power` and `sfv calibrate`."""
    return np.random.default_rng([seed, WORLD_ORACLE_KEY])
