"""The design tables docs/synthetic-cohort.md quotes are the code's own values, and current."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.config import default_params
from pipeline.synth.design import factor_table, latent_table, summary
from pipeline.synth.link import LATENTS
from pipeline.synth.shape_model import FACTORS

COMMITTED = Path(__file__).resolve().parents[1] / "reports/experiments/synth_design"
STALE = "the committed design tables differ from the code: run scripts/synth_design.py, then sfv docs"


def test_tables_hold_the_code_values(template):
    factors = factor_table(template).set_index("factor")
    assert list(factors.index) == [f.name for f in FACTORS]
    assert factors.loc["face_height", ["male_mean", "male_sd", "female_sd"]].tolist() == [121.0, 6.5, 5.5]
    assert factors.loc["nose_length", "template"] == 0.0 and factors.loc["nose_length", "landmarks"] == ""
    # The template's measured distance, by hand: al-al between landmarks 32 and 38.
    marks = template.landmarks
    assert factors.loc["nose_width", "template"] == pytest.approx(np.linalg.norm(marks[31] - marks[37]))
    latents = latent_table(1.6).set_index("latent")
    assert len(latents) == len(LATENTS)
    assert latents.loc["nasal_pole_hz", "depends_on"] == "nose width \u22120.6, nostril size \u22120.5, nose length \u22120.4"
    # c = min(1, coupling * strength); unlinked latents have no correlation with the face.
    assert latents.loc["vtl_cm", "correlation_male"] == pytest.approx(0.96)
    assert latents.loc["nasal_coupling", "correlation_female"] == 1.0
    assert latents.loc["f0_hz", ["linked", "correlation_male"]].tolist() == [0, 0.0]


def test_summary_derives_its_values(template):
    values = summary(template, default_params())
    assert values["correlations"]["jaw_width"]["face_width"] == values["correlations"]["face_width"]["jaw_width"] == 0.6
    # n-sn = n-me - sn-me: its SD from the two SDs and their correlation 0.85, men 6.5 and 5.5 mm.
    assert values["n_sn_sd_mm"]["male"] == pytest.approx(np.sqrt(6.5 ** 2 + 5.5 ** 2 - 2 * 0.85 * 6.5 * 5.5))
    assert values["factors"] == {"all": len(FACTORS), "measured": sum(f.measure is not None for f in FACTORS)}
    assert values["limits"]["coupling"] == [0, 2]


def test_committed_tables_are_current(template):
    params = default_params()
    assert params.synth.vertices == len(template.vertices), "the fixture's template is not the default one"
    for name, table in (("factors.csv", factor_table(template)), ("latents.csv", latent_table(params.synth.coupling))):
        committed = pd.read_csv(COMMITTED / name, keep_default_na=False)
        pd.testing.assert_frame_equal(committed, table, check_dtype=False, obj=f"{name}: {STALE}")
    committed = json.loads((COMMITTED / "design.json").read_text())
    assert committed["params"] == params.synth.model_dump(mode="json"), STALE
    fresh = json.loads(json.dumps(summary(template, params)))
    assert _close({key: committed.get(key) for key in fresh}, fresh), STALE


def _close(a: object, b: object) -> bool:
    """Equal structures whose numbers agree to rounding."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return bool(np.isclose(a, b, rtol=1e-9, atol=1e-9))
    return a == b
