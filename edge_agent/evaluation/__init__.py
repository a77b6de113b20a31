"""``vitalstream eval``: held-out evaluations of the edge models on the PhysioNet data (needs the data extra)."""
