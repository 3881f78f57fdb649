"""Synthetic cohort: template face, shape model, scans and annotations."""
