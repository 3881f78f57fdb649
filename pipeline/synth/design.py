"""The synthetic cohort's design values as tables that docs/synthetic-cohort.md quotes.

The generator's constants (the factors' norms, the planted link's weights, strengths and
distributions, the factor correlations) are dataclasses and dicts in shape_model.py and
link.py, not literals a page can quote, and some values the page states follow from them
(the template's own measures, each link's correlation at the default coupling, the spread of
n-sn that the correlated heights leave). `scripts/synth_design.py` writes these tables to
reports/experiments/synth_design/; tests/test_synth_design.py keeps the committed files equal
to what this module computes, so the page cannot drift from the code. Nothing here is imported
by a pipeline stage.
"""
from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
from pydantic import BaseModel

from ..config import Params
from ..face.template import Template
from .link import LATENTS, PLANTED_R2, oracle
from .shape_model import CORRELATIONS, FACTORS

# Landmark distances of the template the page names (1-based landmarks; names, not values).
TEMPLATE_MEASURES = {"al-al": (32, 38), "ch-ch": (39, 45), "en-en": (15, 19), "ex-ex": (11, 23),
                     "n-me": (28, 54), "zy-zy": (57, 63)}


def factor_table(template: Template) -> pd.DataFrame:
    """One row per shape factor: what it sets, its norms by sex, and its value on the template
    (the measured distance in mm; 0 for an amplitude factor, which the template lacks)."""
    marks = template.landmarks
    rows = []
    for factor in FACTORS:
        measured = factor.measure is not None
        rows.append({
            "factor": factor.name, "sets": factor.description,
            "landmarks": f"{factor.measure[0]}-{factor.measure[1]}" if measured else "",
            "measured": int(measured),
            "male_mean": factor.male[0], "male_sd": factor.male[1],
            "female_mean": factor.female[0], "female_sd": factor.female[1],
            "template": _distance(marks, factor.measure) if measured else 0.0,
        })
    return pd.DataFrame(rows)


def latent_table(coupling: float) -> pd.DataFrame:
    """One row per voice latent: its distribution by sex, its link group and weights, its
    strength at coupling 1 and its correlation with its face part at `coupling`."""
    rows = []
    for latent in LATENTS:
        linked = latent.group is not None
        rows.append({
            "latent": latent.name, "group": latent.group or "", "linked": int(linked),
            "depends_on": ", ".join(f"{name.replace('_', ' ')} {weight:g}".replace("-", "\u2212")
                                    for name, weight in latent.weights.items()),
            "male_mean": latent.male[0], "male_sd": latent.male[1],
            "female_mean": latent.female[0], "female_sd": latent.female[1],
            "strength_male": latent.strength[0], "strength_female": latent.strength[1],
            "correlation_male": min(1.0, coupling * latent.strength[0]) if linked else 0.0,
            "correlation_female": min(1.0, coupling * latent.strength[1]) if linked else 0.0,
        })
    return pd.DataFrame(rows)


def summary(template: Template, params: Params) -> dict:
    """The design's single values: factor correlations, the spread n-sn is left with, the
    template's named measures and size, the oracle's sample and threshold, the ranges of the
    link and mean-shift strengths."""
    sds = {f.name: {"male": f.male[1], "female": f.female[1]} for f in FACTORS}
    r = CORRELATIONS[("face_height", "lower_face_height")]
    n_sn = {sex: float(np.sqrt(sds["face_height"][sex] ** 2 + sds["lower_face_height"][sex] ** 2
                               - 2 * r * sds["face_height"][sex] * sds["lower_face_height"][sex]))
            for sex in ("male", "female")}
    correlations: dict[str, dict[str, float]] = {}
    for (a, b), value in CORRELATIONS.items():
        correlations.setdefault(a, {})[b] = value
        correlations.setdefault(b, {})[a] = value
    return {
        "factors": {"all": len(FACTORS), "measured": sum(f.measure is not None for f in FACTORS)},
        "correlations": correlations,
        "n_sn_sd_mm": n_sn,
        "template_measures_mm": {name: _distance(template.landmarks, pair) for name, pair in TEMPLATE_MEASURES.items()},
        "template_size_mm": dict(zip(("breadth", "height", "depth"), map(float, np.ptp(template.vertices, axis=0)))),
        "template_vertices": len(template.vertices),
        "oracle": {"people_per_sex": inspect.signature(oracle).parameters["n_per_sex"].default,
                   "planted_r2": PLANTED_R2},
        "limits": {"coupling": _limits(params.synth, "coupling"), "mean_shift": _limits(params.synth, "mean_shift")},
    }


def _distance(marks: np.ndarray, pair: tuple[int, int]) -> float:
    return float(np.linalg.norm(marks[pair[0] - 1] - marks[pair[1] - 1]))


def _limits(section: BaseModel, name: str) -> list[float]:
    """[low, high] a parameter may take, from its declaration in config.py."""
    metadata = type(section).model_fields[name].metadata
    low = next(m.ge for m in metadata if hasattr(m, "ge"))
    high = next(m.le for m in metadata if hasattr(m, "le"))
    return [low, high]
