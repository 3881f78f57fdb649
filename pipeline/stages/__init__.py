"""DVC stage entry points: parse paths, load params, call the library, write outputs."""
from __future__ import annotations

import sys
from typing import Callable

from ..audio.io import AudioError
from ..config import ParamsError
from ..dataset import DatasetError
from ..face.ams import AmTableError


def run(main: Callable[..., None], *args) -> None:
    """Run a stage; bad parameters or bad input end it with the error and exit status 2."""
    try:
        main(*args)
    except (ParamsError, DatasetError, AudioError, AmTableError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
