"""hlmm.sim."""
