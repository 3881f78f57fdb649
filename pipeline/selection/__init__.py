"""Predictable-AM selection: error ratios against chance, one-sided tests over repeats, FDR."""
