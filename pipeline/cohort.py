"""The cohort's vocabulary: a speaker's gender, as the manifest, the parameters and the seeds write it."""
from __future__ import annotations

from enum import Enum


class Gender(str, Enum):
    """`male` / `female` in params (sfv.genders) and file names, `M` / `F` in the manifest,
    0 / 1 in every seed derived per gender (pipeline/seeds.py)."""

    MALE = "male"
    FEMALE = "female"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def code(self) -> str:
        """The manifest's gender column."""
        return "M" if self is Gender.MALE else "F"

    @property
    def index(self) -> int:
        """The gender's place in every seed derived per gender."""
        return 0 if self is Gender.MALE else 1

    @classmethod
    def from_code(cls, code: str) -> Gender:
        """M -> male, F -> female."""
        for gender in cls:
            if gender.code == code:
                return gender
        raise ValueError(f"gender code {code!r}; expected one of {', '.join(g.code for g in cls)}")


GENDER_CODES = tuple(g.code for g in Gender)  # what the manifest's gender column may hold
