"""eigenface stage: per gender, the PCA model of the registered faces of every speaker outside D_e."""
from __future__ import annotations

import numpy as np

from ..artifacts import read_output, write_json
from ..cohort import Gender
from ..config import Params
from ..errors import DatasetError
from ..face.registered import RegisteredFaces
from ..reconstruction.eigenface import fit_eigenface
from ..splits import Splits
from . import Paths


def main(params: Params, paths: Paths) -> None:
    faces = RegisteredFaces.load(paths.registered, paths.face_speakers)
    models, summary = {}, {}
    for gender in map(Gender, params.sfv.genders):
        held_out = Splits(read_output(paths.splits / f"{gender}.csv", "splits")).held_out
        ids = faces.ids(gender, excluding=held_out)
        if len(ids) < 3:
            raise DatasetError(f"{paths.face_speakers}: {len(ids)} {gender} faces outside D_e; "
                               f"an eigenface model needs at least 3")
        model = fit_eigenface(faces.of(ids), params.reconstruct.variance_share, params.reconstruct.max_components)
        models[gender] = model
        n_vertices = model.mean.shape[0]
        summary[str(gender)] = {"faces": len(ids), "components": model.n_components,
                                # RMS per vertex (mm) of the cohort along the first and the last kept component
                                "first_component_rms_mm": float(model.stddev[0] / np.sqrt(n_vertices)),
                                "last_component_rms_mm": float(model.stddev[-1] / np.sqrt(n_vertices))}
    for gender, model in models.items():
        model.save(paths.eigenface / f"{gender}.npz")
    write_json(summary, paths.eigenface_summary)
