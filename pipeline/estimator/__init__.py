"""AM estimators from voice: speaker-disjoint splits, the 1-D CNN, batched training, fusion."""
