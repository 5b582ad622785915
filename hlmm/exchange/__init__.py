"""hlmm.exchange."""
