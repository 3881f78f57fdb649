"""The report's 3D viewer: meshes packed as base64 arrays beside a small inline WebGL script.

Nothing is fetched: the script (viewer.js, package data) and the meshes are written into the
page. Colours are computed here with matplotlib's colormap, so the page's colour bar and the
error maps of the evaluate stage use the same scale.
"""
from __future__ import annotations

import base64
import html
import json
from importlib import resources

import matplotlib
import numpy as np

SKIN = np.array([219, 184, 158], dtype=np.uint8)
CMAP = "magma_r"


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def error_colours(errors: np.ndarray, vmax: float) -> np.ndarray:
    """RGB uint8 [T, 3] of per-vertex errors on the colormap, 0 .. vmax mm."""
    rgba = matplotlib.colormaps[CMAP](np.clip(errors / vmax, 0.0, 1.0))
    return (255 * rgba[:, :3]).round().astype(np.uint8)


def colour_bar_css(stops: int = 9) -> str:
    """The colormap as a CSS linear-gradient, left (0 mm) to right (vmax)."""
    rgba = matplotlib.colormaps[CMAP](np.linspace(0.0, 1.0, stops))
    colours = ", ".join(f"rgb({r * 255:.0f},{g * 255:.0f},{b * 255:.0f})" for r, g, b, _ in rgba)
    return f"linear-gradient(to right, {colours})"


def viewer_html(triangles: np.ndarray, faces: list[dict], vmax: float) -> str:
    """The viewer's markup, data and script. Each face: label, caption, reconstruction and truth
    [T, 3] (mm, same frame) and errors [T] (mm)."""
    centre = np.mean([f["truth"].mean(axis=0) for f in faces], axis=0)
    radius = max(np.linalg.norm(np.concatenate([f["truth"], f["reconstruction"]]) - centre, axis=1).max()
                 for f in faces)
    index_bytes = 2 if triangles.max() < 65536 else 4
    data = {
        "scale": 0.95 / float(radius),
        "index_bytes": index_bytes,
        "triangles": _b64(triangles.astype(np.uint16 if index_bytes == 2 else np.uint32)),
        "faces": [{
            "label": f["label"], "caption": f["caption"],
            "reconstruction": _b64((f["reconstruction"] - centre).astype(np.float32)),
            "truth": _b64((f["truth"] - centre).astype(np.float32)),
            "error_colours": _b64(error_colours(f["errors"], vmax)),
            "truth_colours": _b64(np.tile(SKIN, (len(f["truth"]), 1))),
        } for f in faces],
    }
    script = resources.files("pipeline.report").joinpath("viewer.js").read_text()
    payload = json.dumps(data).replace("</", "<\\/")
    return f"""
<div id="sfv-viewer" class="viewer">
  <label>speaker <select></select></label> <span class="viewer-caption"></span>
  <div class="viewer-panels">
    <figure><canvas width="420" height="480"></canvas><figcaption>reconstruction from the voice,
      coloured by per-vertex error</figcaption></figure>
    <figure><canvas width="420" height="480"></canvas><figcaption>true (registered) face</figcaption></figure>
  </div>
  <div class="colour-bar"><span>0 mm</span><div style="background: {html.escape(colour_bar_css())}"></div>
    <span>{vmax:.1f} mm</span></div>
  <p class="hint">Drag to rotate both faces, scroll to zoom.</p>
</div>
<script type="application/json" id="sfv-viewer-data">{payload}</script>
<script>{script}</script>
"""
