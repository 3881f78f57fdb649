"""Figures: meshes rendered on matplotlib."""
