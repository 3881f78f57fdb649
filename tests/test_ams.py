"""The AM table reads and validates, and the torch measure matches independent numpy values."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.face.ams import AmTable, default_am_table, measure, measure_landmarks, read_am_table

HEADER = "am_id,kind,label,landmarks,duplicate_of\n"


@pytest.fixture(scope="module")
def table() -> AmTable:
    return default_am_table()


def _random_points(*shape: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, 65, 3, generator=g, dtype=dtype) * 50.0


def _random_rotation(seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _table(tmp_path, body: str, name: str = "ams.csv") -> AmTable:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return read_am_table(path)


# --- the packaged table ---------------------------------------------------------------------


def test_packaged_table_counts(table):
    assert len(table) == 96
    assert table.am_id.tolist() == list(range(1, 97))
    assert table.kind.count("distance") == 50
    assert table.kind.count("proportion") == 28
    assert table.kind.count("angle") == 18
    assert table.landmarks.shape == (96, 4) and table.landmarks.dtype == np.int64
    assert table.landmarks.min() == -1 and table.landmarks.max() == 64
    assert table.ids_of_kind("angle").tolist() == list(range(79, 97))


def test_packaged_table_zero_based_and_padded(table):
    first = table.am_id.tolist().index(1)  # 11-15
    assert table.landmarks[first].tolist() == [10, 14, -1, -1]
    prop = table.am_id.tolist().index(51)  # 32-38/28-31
    assert table.landmarks[prop].tolist() == [31, 37, 27, 30]
    ang = table.am_id.tolist().index(79)  # 57-58-59
    assert table.landmarks[ang].tolist() == [56, 57, 58, -1]


def test_duplicates_recorded_and_equal(table):
    dup = {int(a): int(d) for a, d in zip(table.am_id, table.duplicate_of) if d}
    assert dup == {21: 16, 39: 23}
    values = measure_landmarks(_random_points(4), table)
    pos = {int(a): i for i, a in enumerate(table.am_id)}
    for a, d in dup.items():
        torch.testing.assert_close(values[:, pos[a]], values[:, pos[d]], rtol=0, atol=0)


# --- hand-computed values -------------------------------------------------------------------


def test_hand_computed_values(tmp_path):
    t = _table(
        tmp_path,
        "1,distance,1-2,1 2,\n"
        "2,proportion,1-2/3-4,1 2 3 4,\n"
        "3,angle,1-2-3,1 2 3,\n"  # right angle at 2
        "4,angle,1-2-4,1 2 4,\n"  # straight line through 2
        "5,angle,3-1-5,3 1 5,\n"  # general angle at 1
        "6,distance,5-3,5 3,\n",
    )
    pts = np.array(
        [[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [3.0, 4.0, 0.0], [6.0, 0.0, 0.0], [1.0, 2.0, 3.0]]
        + [[0.0, 0.0, 0.0]] * 60
    )
    p = pts[:5]

    def angle(a, b, c):
        u, v = p[a] - p[b], p[c] - p[b]
        return np.degrees(np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))

    expected = np.array(
        [
            np.linalg.norm(p[0] - p[1]),
            np.linalg.norm(p[0] - p[1]) / np.linalg.norm(p[2] - p[3]),
            angle(0, 1, 2),
            angle(0, 1, 3),
            angle(2, 0, 4),
            np.linalg.norm(p[4] - p[2]),
        ]
    )
    assert expected[:4] == pytest.approx([3.0, 3.0 / 5.0, 90.0, 180.0])
    for dtype in (torch.float32, torch.float64):
        got = measure_landmarks(torch.tensor(pts, dtype=dtype), t)
        assert got.dtype == dtype and got.shape == (6,)
        np.testing.assert_allclose(got.double().numpy(), expected, rtol=1e-5, atol=1e-4)


def test_packaged_table_against_numpy(table):
    p = _random_points(seed=3).numpy()
    got = measure_landmarks(torch.from_numpy(p), table).numpy()
    for k, (kind, lm) in enumerate(zip(table.kind, table.landmarks)):
        if kind == "distance":
            want = np.linalg.norm(p[lm[0]] - p[lm[1]])
        elif kind == "proportion":
            want = np.linalg.norm(p[lm[0]] - p[lm[1]]) / np.linalg.norm(p[lm[2]] - p[lm[3]])
        else:
            u, v = p[lm[0]] - p[lm[1]], p[lm[2]] - p[lm[1]]
            cos = u @ v / np.linalg.norm(u) / np.linalg.norm(v)
            want = np.degrees(np.arccos(np.clip(cos, -1, 1)))
        assert got[k] == pytest.approx(want, rel=1e-9, abs=1e-9), table.label[k]


# --- shapes ---------------------------------------------------------------------------------


def test_batch_shapes(table):
    pts = _random_points(5, dtype=torch.float32)
    batched = measure_landmarks(pts, table)
    assert batched.shape == (5, 96) and batched.dtype == torch.float32
    single = measure_landmarks(pts[2], table)
    assert single.shape == (96,)
    torch.testing.assert_close(single, batched[2])
    assert measure_landmarks(_random_points(2, 3), table).shape == (2, 3, 96)


def test_measure_on_vertices(table):
    g = torch.Generator().manual_seed(7)
    vertices = torch.randn(3, 200, 3, generator=g, dtype=torch.float64) * 40
    idx = torch.randperm(200, generator=g)[:65]
    got = measure(vertices, idx, table)
    assert got.shape == (3, 96)
    torch.testing.assert_close(got, measure_landmarks(vertices[:, idx], table), rtol=0, atol=0)


def test_too_few_landmarks_rejected(table):
    with pytest.raises(ValueError, match="landmark 65"):
        measure_landmarks(torch.zeros(60, 3), table)


# --- invariances ----------------------------------------------------------------------------


def test_rigid_invariance(table):
    pts = _random_points(4)
    moved = pts @ _random_rotation().T + torch.tensor([10.0, -20.0, 30.0], dtype=torch.float64)
    torch.testing.assert_close(measure_landmarks(moved, table), measure_landmarks(pts, table))


def test_scaling(table):
    pts = _random_points(4)
    before, after = measure_landmarks(pts, table), measure_landmarks(2.5 * pts, table)
    dist = torch.as_tensor(table.rows_of_kind("distance"))
    rest = torch.as_tensor(
        np.concatenate([table.rows_of_kind("proportion"), table.rows_of_kind("angle")])
    )
    torch.testing.assert_close(after[:, dist], 2.5 * before[:, dist])
    torch.testing.assert_close(after[:, rest], before[:, rest])


# --- gradients ------------------------------------------------------------------------------


def test_gradcheck(table):
    pts = _random_points(2, seed=5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: measure_landmarks(x, table), (pts,))


def test_gradients_finite_float32(table):
    pts = _random_points(3, dtype=torch.float32, seed=6).requires_grad_(True)
    measure_landmarks(pts, table).sum().backward()
    assert torch.isfinite(pts.grad).all()


# --- read_am_table errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "am_id", "match"),
    [
        ("1,distance,1-2,1 2,\n7,ellipse,1-2,1 2,\n", 7, "unknown kind"),
        ("1,distance,1-2,1 2,\n8,angle,1-2,1 2,\n", 8, "angle takes 3 landmarks"),
        ("1,distance,1-2,1 2,\n9,proportion,1-2/3,1 2 3,\n", 9, "proportion takes 4"),
        ("1,distance,1-2,1 2,\n4,distance,1-66,1 66,\n", 4, "outside 1..65"),
        ("1,distance,1-2,1 2,\n5,distance,0-2,0 2,\n", 5, "outside 1..65"),
        ("3,distance,1-2,1 2,\n3,distance,1-3,1 3,\n", 3, "more than once"),
        ("1,distance,1-2,1 2,\n6,distance,1-2,1 2,2\n", 6, "not an earlier am_id"),
    ],
)
def test_read_errors_name_file_row_and_id(tmp_path, body, am_id, match):
    with pytest.raises(ValueError, match=match) as err:
        _table(tmp_path, body, name="bad_ams.csv")
    msg = str(err.value)
    assert str(tmp_path / "bad_ams.csv") in msg
    assert "row 2" in msg
    assert f"am_id {am_id}" in msg


def test_read_missing_column(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("am_id,kind,landmarks\n1,distance,1 2\n")
    with pytest.raises(ValueError, match="missing column") as err:
        read_am_table(path)
    assert str(path) in str(err.value)


def test_read_custom_landmark_count(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text(HEADER + "1,distance,1-5,1 5,\n")
    with pytest.raises(ValueError, match="outside 1..4"):
        read_am_table(path, n_landmarks=4)
    assert len(read_am_table(path, n_landmarks=5)) == 1
