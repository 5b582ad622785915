"""The hlmm command-line tools (click). No trading logic lives here, only wiring."""
