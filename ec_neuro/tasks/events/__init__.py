"""Event-based classification: N-MNIST from a local tree, the offline digits-events stand-in (docs/events.md)."""
