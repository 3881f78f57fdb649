"""The errors a user can cause, in one place: each stops a stage with its message and exit status 2.

Every message names the file (and the speaker, where there is one) and says what to do, so
the stage runner and the CLI only print it.
"""
from __future__ import annotations


class SfvError(ValueError):
    """Bad input or bad parameters; the message is for the user."""


class ParamsError(SfvError):
    """A params file that does not validate; the message names every bad key."""


class DatasetError(SfvError):
    """A dataset root that does not follow the layout; the message names speaker and file."""


class AudioError(SfvError):
    """A recording that cannot be used; the message names the speaker and the file."""


class AmTableError(SfvError):
    """An AM table that cannot be used; the message names the row and what is wrong."""


class OutputError(SfvError):
    """An output that cannot be written (a full disk, no permission); the message names the file."""


class PredictError(SfvError):
    """Input `sfv predict` cannot use; the message says which file and why."""


class EncoderError(SfvError):
    """A voice encoder whose package or weights cannot be found offline; the message names the
    model, where it looked and how to provide it."""
