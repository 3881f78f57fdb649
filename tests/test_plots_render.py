import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import trimesh  # noqa: E402

from pipeline.plots.render import face_sheet, render_mesh  # noqa: E402


@pytest.fixture
def sphere():
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=50.0)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def test_back_faces_are_culled(sphere):
    fig, ax = plt.subplots()
    collection = render_mesh(ax, *sphere)
    assert 0.4 * len(sphere[1]) < len(collection.get_paths()) < 0.6 * len(sphere[1])
    plt.close(fig)


def test_profile_projects_depth_to_the_horizontal():
    mesh = trimesh.creation.box(extents=(20.0, 40.0, 80.0))
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    widths = {}
    for view in ("front", "profile"):
        fig, ax = plt.subplots()
        render_mesh(ax, v, f, view=view)
        xs = np.concatenate([p.vertices[:, 0] for p in ax.collections[0].get_paths()])
        widths[view] = np.ptp(xs)
        plt.close(fig)
    assert widths["front"] == pytest.approx(20.0)
    assert widths["profile"] == pytest.approx(80.0)


def test_vertex_values_give_a_colorbar_with_their_range(sphere):
    v, f = sphere
    values = v[:, 2] / 10.0
    fig, ax = plt.subplots()
    collection = render_mesh(ax, v, f, vertex_values=values, vmin=-2.0, vmax=4.0, cmap="magma")
    bar = fig.colorbar(collection, ax=ax, label="mm")
    assert bar.vmin == -2.0 and bar.vmax == 4.0
    plt.close(fig)


def test_hidden_landmarks_are_not_drawn(sphere):
    v, f = sphere
    front, back = v[np.argmax(v[:, 2])], v[np.argmin(v[:, 2])]
    fig, ax = plt.subplots()
    render_mesh(ax, v, f, view="front", landmarks=np.stack([front, back]))
    shown = ax.collections[-1].get_offsets()
    assert len(shown) == 1
    np.testing.assert_allclose(shown[0], front[:2])
    plt.close(fig)


def test_face_sheet_writes_a_picture(sphere, tmp_path):
    v, f = sphere
    fig = face_sheet([(v, f), (v * [1.2, 1, 1], f)], titles=["a", "b"], landmarks=[v[:3], v[:3]])
    path = tmp_path / "sheet.png"
    fig.savefig(path, dpi=60)
    image = mpimg.imread(path)
    assert image.shape[0] > 50 and image[..., :3].std() > 0.05
    assert len(fig.axes) == 4
