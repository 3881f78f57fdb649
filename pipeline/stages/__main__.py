"""`python -m pipeline.stages NAME [GENDER]`: see pipeline/stages/__init__.py."""
import sys

from . import main

sys.exit(main(sys.argv[1:]))
