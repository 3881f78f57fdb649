"""DVC stage entry points: parse paths, load params, call the library, write outputs."""
from __future__ import annotations

import sys
from typing import Callable

from ..config import ParamsError


def run(main: Callable[..., None], *args) -> None:
    """Run a stage; a bad parameter ends it with a one-line error and exit status 2."""
    try:
        main(*args)
    except ParamsError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
