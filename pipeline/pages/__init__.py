"""Results pages: the README and docs/ quote their figures from committed outputs.

`sfv docs` rewrites every quoted value (markers.py) and table (tables.py) from its file;
`sfv docs --check` (and tests/test_pages.py) fails when a page differs from that rendering,
when a quote does not resolve, or when a page states a figure with no source (audit.py).
"""
