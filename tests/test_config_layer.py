"""Defaults live in one place: pipeline/config.py. Every library object built from params.yaml
(a class with `from_params`) takes every value from there and has no default of its own that
could disagree; built from the default parameters, each equals what the config says."""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import pytest

import pipeline
from pipeline.config import default_params
from pipeline.estimator.registry import ESTIMATORS


def _classes_built_from_params() -> list[type]:
    found = {}
    for info in pkgutil.walk_packages(pipeline.__path__, "pipeline."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and "from_params" in vars(cls):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[k] for k in sorted(found)]


CLASSES = _classes_built_from_params()


def test_the_settings_objects_are_found():
    names = {c.__name__ for c in CLASSES}
    assert {"TrainSettings", "PhonatorySettings", "RegistrationSettings", "ScanSettings", "VoiceSettings",
            "SelectionSettings", "RegressionSettings", "FrontEnd", "LandmarkQC", "VoiceCNN",
            "StatsRidgeEstimator"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_no_default_of_its_own(cls):
    if dataclasses.is_dataclass(cls):
        defaulted = [f.name for f in dataclasses.fields(cls)
                     if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING]
    else:
        defaulted = [n for n, p in inspect.signature(cls.__init__).parameters.items()
                     if p.default is not inspect.Parameter.empty]
    assert not defaulted, f"{cls.__name__} has defaults of its own for {defaulted}; they belong in config.py"


def test_built_from_the_defaults_they_carry_the_configs_values():
    params = default_params()
    from pipeline.estimator.training import TrainSettings
    from pipeline.face.register import RegistrationSettings

    train = TrainSettings.from_params(params)
    assert (train.lr, train.dropout, train.time_mask_frames, train.band_mask) == (
        params.sfv.lr, params.sfv.dropout, params.sfv.time_mask_frames, params.sfv.band_mask)
    assert train.segment_frames == (300, 400) and train.phonatory is None
    schedule = RegistrationSettings.from_params(params.face).schedule
    assert [s.stiffness for s in schedule] == list(params.face.stiffness)
    assert {s.iterations for s in schedule} == {params.face.iterations}


def test_every_registered_estimator_is_built_from_params_and_checks_them():
    for name, cls in ESTIMATORS.items():
        assert cls.name == name
        estimator = cls.from_params(default_params())
        assert estimator.fingerprint(1)["estimator"] == name
