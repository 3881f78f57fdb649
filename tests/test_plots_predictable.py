from importlib import resources

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from pipeline.face.ams import default_am_table  # noqa: E402
from pipeline.face.template import build_template  # noqa: E402
from pipeline.plots.predictable_ams import (  # noqa: E402
    COLORBAR_LABEL,
    NO_AM,
    AmPrimitive,
    am_segments,
    predictable_ams_figure,
)


@pytest.fixture(scope="module")
def am_frame():
    """The shipped table, read by the project's parser (as the select stage reads it)."""
    return default_am_table()


@pytest.fixture(scope="module")
def face():
    template = build_template(2000)
    return template.vertices, template.faces, template.landmark_idx


def _lines(ax):
    (collection,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    return collection


def test_primitives_of_each_kind_from_the_real_table(am_frame):
    distance, proportion, angle = am_segments(am_frame, [1, 51, 88])  # "11 15", "32 38 28 31", "32 30 38"
    assert distance == AmPrimitive(1, "distance", ((11, 15),), (False,), None)
    assert proportion == AmPrimitive(51, "proportion", ((32, 38), (28, 31)), (False, True), None)
    assert angle == AmPrimitive(88, "angle", ((30, 32), (30, 38)), (False, False), 30)


def test_primitives_follow_the_csv_text_for_every_am(am_frame):
    with resources.files("pipeline").joinpath("data/ams_96.csv").open("r") as f:
        text = pd.read_csv(f, dtype=str)
    for row, primitive in zip(text.itertuples(), am_segments(am_frame, am_frame.am_id)):
        numbers = [int(n) for n in row.landmarks.split()]
        drawn = [n for pair in primitive.segments for n in pair]
        assert sorted(set(drawn)) == sorted(set(numbers)), row.am_id


def test_unknown_am_id_is_refused(am_frame):
    with pytest.raises(ValueError, match="999"):
        am_segments(am_frame, [1, 999])


def test_distance_end_points_are_the_projected_landmarks(face, am_frame):
    vertices, _, landmark_idx = face
    fig = predictable_ams_figure({"F": face}, {"F": ([1], [0.4])}, am_frame)
    lm = vertices[landmark_idx]
    # front looks along -z (screen = x, y); profile from the subject's right (screen = z, y)
    np.testing.assert_allclose(_lines(fig.axes[0]).get_segments()[0], lm[[10, 14]][:, [0, 1]])
    np.testing.assert_allclose(_lines(fig.axes[1]).get_segments()[0], lm[[10, 14]][:, [2, 1]])
    plt.close(fig)


def test_proportion_denominator_is_dashed_and_angle_has_an_arc_at_its_apex(face, am_frame):
    vertices, _, landmark_idx = face
    fig = predictable_ams_figure({"M": face}, {"M": ([51, 88], [0.1, 0.3])}, am_frame)
    lines = _lines(fig.axes[0])
    segments, styles = lines.get_segments(), lines.get_linestyles()
    assert len(segments) == 5  # 2 proportion segments, then 2 arms + 1 arc (more predictable last)
    assert styles[0][1] is None and styles[1][1] is not None
    apex = vertices[landmark_idx[29], :2]
    for arm in segments[2:4]:
        np.testing.assert_allclose(arm[0], apex)
    radius = np.linalg.norm(segments[4] - apex, axis=1)
    assert len(segments[4]) > 2 and np.allclose(radius, radius[0]) and radius[0] > 0
    np.testing.assert_allclose(lines.get_array(), [0.1, 0.1, 0.3, 0.3, 0.3])
    plt.close(fig)


def test_one_gender_has_two_views_and_a_colour_bar(face, am_frame):
    fig = predictable_ams_figure({"F": face}, {"F": (np.array([1, 2]), pd.Series([0.2, 0.5]))}, am_frame)
    assert len(fig.axes) == 3
    assert fig.axes[-1].get_ylabel() == COLORBAR_LABEL
    assert "2 predictable" in fig.axes[0].get_title(loc="left")
    plt.close(fig)


def test_two_genders_share_one_colour_scale(face, am_frame):
    fig = predictable_ams_figure({"M": face, "F": face}, {"M": ([1], [0.2]), "F": ([2, 3], [0.1, 0.6])}, am_frame)
    assert len(fig.axes) == 5
    assert fig.axes[-1].get_ylabel() == COLORBAR_LABEL
    norms = {(_lines(ax).norm.vmin, _lines(ax).norm.vmax) for ax in fig.axes[:4]}
    assert norms == {(0.0, 0.6)}
    plt.close(fig)


def test_a_gender_without_predictable_ams_says_so(face, am_frame):
    fig = predictable_ams_figure({"F": face}, {"F": ([], [])}, am_frame)
    assert len(fig.axes) == 2  # no colour bar for an empty scale
    for ax in fig.axes:
        assert [t.get_text() for t in ax.texts] == [NO_AM]
        assert not [c for c in ax.collections if isinstance(c, LineCollection)]
    plt.close(fig)

    fig = predictable_ams_figure({"M": face, "F": face}, {"M": ([1], [0.3]), "F": ([], [])}, am_frame)
    assert len(fig.axes) == 5
    assert [t.get_text() for t in fig.axes[2].texts] == [NO_AM]
    assert NO_AM not in [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)


def test_mismatched_inputs_are_refused(face, am_frame):
    with pytest.raises(ValueError, match="values"):
        predictable_ams_figure({"F": face}, {"F": ([1, 2], [0.3])}, am_frame)
    with pytest.raises(ValueError, match="mean faces"):
        predictable_ams_figure({"F": face}, {"M": ([1], [0.3])}, am_frame)
