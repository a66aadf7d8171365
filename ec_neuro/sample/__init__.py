"""Stage 2, sample: a generation's members regenerated from what they are a function of (seed, generation, index)."""
