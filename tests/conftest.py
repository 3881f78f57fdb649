import numpy as np
import pytest

from pipeline.face.template import build_template
from pipeline.synth.shape_model import build_shape_model


@pytest.fixture(scope="session")
def template():
    return build_template(6790)


@pytest.fixture(scope="session")
def shape_model(template):
    return build_shape_model(template, residual_mm=0.8)


@pytest.fixture(scope="session")
def cohort(shape_model):
    """300 faces per sex with their factor values (no scans: fast)."""
    rng = np.random.default_rng(7)
    out = {}
    for sex in ("M", "F"):
        values, faces = zip(*(shape_model.sample_face(rng, sex) for _ in range(300)))
        out[sex] = (np.stack(values), np.stack(faces))
    return out
