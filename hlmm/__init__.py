"""hlmm: a market maker for Hyperliquid perpetuals.

The library imports without the CLI (click is only needed by ``cli/``).
"""
from hlmm._version import __version__

__all__ = ["__version__"]
