"""Gradient-trained baselines (not ask/tell strategies): `slayer`, lava-dl's SLAYER surrogate-gradient RSNN."""
