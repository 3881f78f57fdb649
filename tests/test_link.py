"""The planted voice-face link and the oracle of how predictable each AM truly is."""
import numpy as np
import pytest

from pipeline.face.ams import default_am_table
from pipeline.synth.link import LATENT_NAMES, LATENTS, LINK_GROUPS, PLANTED_R2, draw_latents, oracle
from pipeline.synth.shape_model import FACTOR_NAMES

EYES_AND_BROWS = [1, 2, 3, 4, 5, 6, 7, 24, 25]
NULL_BOUND = 0.02  # |held-out r2| of an AM the voice cannot carry: 3,000 held-out faces per sex (max seen in 6 null worlds: 0.009)
GROUP_ON_R2 = 0.15  # r2 (coupling 1) of the AMs a link group plants, with the group on
NASAL_FEMALE_MARGIN = 0.1  # how much better women's nasal AMs are explained


@pytest.fixture(scope="module")
def full(shape_model):
    return oracle(shape_model, default_am_table(), 1.0, LINK_GROUPS, np.random.default_rng(0))


def _r2(table, am_id):
    return float(table.r2[table.am_id == am_id].iloc[0])


def test_null_world_has_no_predictable_am(shape_model):
    null = oracle(shape_model, default_am_table(), 0.0, LINK_GROUPS, np.random.default_rng(1))
    assert len(null) == 96
    assert null[["r2_male", "r2_female"]].abs().max().max() < NULL_BOUND
    assert null.planted.sum() == 0


def test_default_world_plants_the_linked_regions(full):
    for am_id in (13, 14, 20, 11, 31, 36):  # al-al, sbal-sbal, ch-ch, go-go, tr-me, prn-pg
        assert _r2(full, am_id) > GROUP_ON_R2, am_id
    eyes = full[full.am_id.isin(EYES_AND_BROWS)]
    assert eyes[["r2_male", "r2_female"]].abs().max().max() < NULL_BOUND
    assert 20 <= full.planted.sum() <= 80


def test_the_nasal_link_is_stronger_in_women(full):
    for am_id in (13, 14):
        row = full[full.am_id == am_id].iloc[0]
        assert row.r2_female > row.r2_male + NASAL_FEMALE_MARGIN


@pytest.mark.parametrize("group, am_ids", [
    ("nasal", [13, 14]), ("lips", [20, 22]), ("vocal_tract", [31, 36]), ("jaw", [11])])
def test_switching_a_group_off_removes_its_ams(shape_model, full, group, am_ids):
    others = tuple(g for g in LINK_GROUPS if g != group)
    off = oracle(shape_model, default_am_table(), 1.0, others, np.random.default_rng(2))
    for am_id in am_ids:
        assert _r2(full, am_id) > GROUP_ON_R2
        assert _r2(off, am_id) < PLANTED_R2, (group, am_id)


def test_latents_keep_their_distribution_and_carry_the_face(shape_model, cohort):
    factors = cohort["F"][0]
    for coupling in (0.0, 1.0):
        lat = draw_latents(shape_model, factors, "F", np.random.default_rng(3), coupling)
        vtl = lat[:, LATENT_NAMES.index("vtl_cm")]
        assert abs(vtl.mean() - 14.8) < 0.15 and abs(vtl.std() - 0.7) < 0.12
        r = np.corrcoef(vtl, factors[:, FACTOR_NAMES.index("face_height")])[0, 1]
        assert (r > 0.3) if coupling else (abs(r) < 0.15)
    f0 = draw_latents(shape_model, factors, "F", np.random.default_rng(3), 1.0)[:, LATENT_NAMES.index("f0_hz")]
    for name in FACTOR_NAMES:  # f0 depends on sex only
        assert abs(np.corrcoef(f0, factors[:, FACTOR_NAMES.index(name)])[0, 1]) < 0.2


def test_no_latent_reads_eye_brow_or_forehead_factors():
    excluded = {"intercanthal_width", "eye_width", "eye_height", "brow_height", "brow_ridge",
                "forehead_height", "forehead_slope"}
    for lat in LATENTS:
        assert not excluded & set(lat.weights), lat.name
