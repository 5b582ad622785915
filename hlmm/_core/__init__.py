"""Cython core: order book, rounding, estimators and the ladder optimizer.

Prices inside the core are integer "price units" of 10**-px_decimals, sizes are
integer lots of 10**-sz_decimals (see hlmm._core.rounding).
"""
