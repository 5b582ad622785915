"""hlmm.engine."""
