"""Face geometry: anthropometric measurements (AMs) on landmarked faces."""
