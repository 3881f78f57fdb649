"""AM-guided reconstruction: the eigenface model and the batched fit of its coefficients to AMs."""
