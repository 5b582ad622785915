"""hlmm.audit."""
