"""openSMILE's eGeMAPSv02 functionals (Eyben et al. 2016): the 88 features paralinguistics
reports by default, from the binary that ships in the `opensmile` wheel."""
from __future__ import annotations

import numpy as np

from .base import WindowedEncoder, require


class EgemapsEncoder(WindowedEncoder):
    """88 eGeMAPSv02 functionals per window, averaged over windows."""

    name = "egemaps"
    sample_rate = 16000  # openSMILE reads any rate; the pipeline's avoids a resampling

    def __init__(self, window_s: float) -> None:
        super().__init__(window_s)
        opensmile = require("opensmile", self.name)
        self._smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                      feature_level=opensmile.FeatureLevel.Functionals)

    def feature_names(self) -> list[str]:
        return list(self._smile.feature_names)

    def embed_windows(self, windows: list[np.ndarray]) -> np.ndarray:
        return np.stack([self._smile.process_signal(w, self.sample_rate).to_numpy()[0] for w in windows])
