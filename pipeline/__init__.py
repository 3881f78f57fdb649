"""sfv: shape from voice."""

__version__ = "0.1.0"
