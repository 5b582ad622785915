"""Pure-Python reference of the reconcile diff (``hlmm._core.reconcile``).

A second, straightforward implementation of the same rules on plain lists, written from the
module doc of ``hlmm/_core/reconcile.pyx``: frozen orders hold their slot level (blocked),
doomed ones are cancelled, keeps are matched greedily touch first by price and size tolerance
(and strictly on their side of the mid), the rest is paired touch first into modifies, extra
orders cancelled and extra levels placed. The C diff must agree with it exactly; it is also the
same-run baseline of ``benchmarks/bench_quote_cycle.py``.

``live``: list of ``(handle, px_units, sz_lots, level, flags)`` (flags: 1 frozen, 2 doomed).
Returns ``{"live": {handle: (action, level)}, "levels": [action per level]}`` with the action
names of ``hlmm._core.reconcile.LIVE_ACTIONS`` / ``LEVEL_ACTIONS``.
"""
from __future__ import annotations

FROZEN, DOOMED = 1, 2


def _nearer(side: int, a: int, b: int) -> bool:
    """Price a is nearer the touch than price b."""
    return a > b if side == 0 else a < b


def diff_side(tgt_px: list[int], tgt_sz: list[int], live: list[tuple], side: int, px_tol_bps: float,
              sz_tol: float, mid_units: int = 0) -> dict:
    n = len(tgt_px)
    levels = ["place" if tgt_sz[j] > 0 and tgt_px[j] > 0 else "none" for j in range(n)]
    out: dict[int, tuple[str, int]] = {}
    movable = []
    for handle, px, sz, level, flags in live:
        if flags & FROZEN:
            out[handle] = ("frozen", level)
            if 0 <= level < n:
                levels[level] = "blocked"
        elif flags & DOOMED:
            out[handle] = ("cancel", -1)
        else:
            out[handle] = ("cancel", -1)
            movable.append((handle, px, sz))
    movable.sort(key=lambda e: ((-e[1] if side == 0 else e[1]), e[0]))
    free = [j for j in range(n) if levels[j] == "place"]
    free.sort(key=lambda j: (-tgt_px[j] if side == 0 else tgt_px[j]))
    taken = set()
    start = 0
    for handle, px, sz in movable:
        if mid_units > 0 and ((side == 0 and px >= mid_units) or (side == 1 and px <= mid_units)):
            continue
        while start < len(free) and _nearer(side, tgt_px[free[start]], px) and \
                abs(tgt_px[free[start]] - px) * 1e4 > px_tol_bps * tgt_px[free[start]]:
            start += 1
        for k in range(start, len(free)):
            j = free[k]
            if abs(px - tgt_px[j]) * 1e4 > px_tol_bps * tgt_px[j]:
                if _nearer(side, px, tgt_px[j]):
                    break
                continue
            if j not in taken and abs(sz - tgt_sz[j]) <= sz_tol * tgt_sz[j]:
                taken.add(j)
                levels[j] = "kept"
                out[handle] = ("keep", j)
                break
    k = 0
    for handle, px, sz in movable:
        if out[handle][0] == "keep":
            continue
        while k < len(free) and free[k] in taken:
            k += 1
        if k < len(free):
            j = free[k]
            taken.add(j)
            levels[j] = "modified"
            out[handle] = ("modify", j)
    return {"live": out, "levels": levels}


def plan_counts(result: dict) -> dict[str, int]:
    """Counts of keep / modify / cancel / place in one side's result."""
    acts = [a for a, _ in result["live"].values()]
    return {"keep": acts.count("keep"), "modify": acts.count("modify"), "cancel": acts.count("cancel"),
            "place": result["levels"].count("place")}
