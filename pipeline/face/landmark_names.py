"""The landmark vocabulary: `sfv1`..`sfv65` (the source's scheme) and `ibug1`..`ibug68` (iBUG-68).

Real annotations come in either scheme, or a mix, so a landmark is known by its name and the
template says which names it can place. Numbers are 1-based in both schemes, as their tables
are; iBUG's left and right are the image's, so `ibug37`..`ibug42` are the subject's right eye.
"""
from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

import pandas as pd

from .template import Template

SCHEMES: dict[str, int] = {"sfv": 65, "ibug": 68}  # scheme -> number of landmarks
VOCABULARY: tuple[str, ...] = tuple(f"{scheme}{number}" for scheme, count in SCHEMES.items()
                                    for number in range(1, count + 1))
VOCABULARY_TEXT = "sfv1..sfv65, ibug1..ibug68"  # VOCABULARY for error messages

CONTOUR: frozenset[str] = frozenset(f"ibug{number}" for number in range(1, 18))
"""iBUG's jaw line 1-17: the face's outline as seen in the image, not points on the skin. It
slides over the cheek and jaw as the head turns, so registration should leave these points out
or give them a low weight."""

SAME_AS_SFV: dict[str, str] = {
    # Eyebrows: five points from the lateral to the medial end in both schemes.
    **{f"ibug{18 + k}": f"sfv{1 + k}" for k in range(5)},  # subject's right brow
    **{f"ibug{23 + k}": f"sfv{6 + k}" for k in range(5)},  # subject's left brow, medial first
    "ibug37": "sfv11", "ibug40": "sfv15",  # right exocanthion, endocanthion
    "ibug43": "sfv19", "ibug46": "sfv23",  # left endocanthion, exocanthion
    "ibug31": "sfv31", "ibug34": "sfv35",  # pronasale, subnasale
    "ibug49": "sfv39", "ibug55": "sfv45",  # right, left cheilion
    "ibug52": "sfv42", "ibug58": "sfv48",  # labrale superius, labrale inferius
}
"""iBUG points that are, by both schemes' definitions, the same anatomical point as an sfv one."""

DEFAULT_TEMPLATE_VERTICES = 6790  # pipeline/data/ibug68_vertices.csv places iBUG points on build_template(6790)


def landmark_name(scheme: str, number: int) -> str:
    """The vocabulary name of landmark `number` (1-based) of `scheme` ('sfv' | 'ibug')."""
    if scheme not in SCHEMES or not 1 <= number <= SCHEMES[scheme]:
        raise ValueError(f"no landmark {number} in scheme {scheme!r}; the vocabulary is {VOCABULARY_TEXT}")
    return f"{scheme}{number}"


def scheme_and_number(name: str) -> tuple[str, int]:
    """('sfv' | 'ibug', 1-based number) of a vocabulary name."""
    if name not in VOCABULARY:
        raise ValueError(f"{name!r} is not a landmark name; the vocabulary is {VOCABULARY_TEXT}")
    scheme = name.rstrip("0123456789")
    return scheme, int(name[len(scheme):])


def read_ibug_vertices() -> dict[str, int]:
    """ibug1..ibug68 -> 0-based vertex of the default template, from pipeline/data/ibug68_vertices.csv."""
    with resources.files("pipeline").joinpath("data/ibug68_vertices.csv").open("r") as f:
        table = pd.read_csv(f, dtype={"landmark": str})
    return dict(zip(table["landmark"], table["vertex"].astype(int)))


def template_vertices(names: Iterable[str], template: Template) -> dict[str, int]:
    """Vertex of each named point that `template` can place, in the order given; others left out.

    sfv points sit at `template.landmark_idx`; iBUG points at the vertices of
    pipeline/data/ibug68_vertices.csv, which belong to the default template (build_template(6790)),
    so a template of another size places none of them.
    """
    names = list(names)
    ibug = read_ibug_vertices() if len(template.vertices) == DEFAULT_TEMPLATE_VERTICES else {}
    placed = {}
    for name in names:
        scheme, number = scheme_and_number(name)
        if scheme == "sfv":
            placed[name] = int(template.landmark_idx[number - 1])
        elif name in ibug:
            placed[name] = ibug[name]
    return placed

