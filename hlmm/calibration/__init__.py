"""hlmm.calibration."""
