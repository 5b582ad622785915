# cython: language_level=3
"""The reconcile diff of one ladder side: target levels vs live orders, in integers.

Inputs: the target (per level, touch first: price units and size lots, 0 lots = no order
wanted) and a :class:`LiveSide` (the live orders of that side: remaining lots, slot level,
flags). Output: a :class:`SideDiff` saying, per live order, keep / modify / cancel / frozen,
and per level, place / kept / modified / blocked / none.

Rules, in order:

1. A *frozen* order (an action in flight, or an outcome unknown) is never touched and holds
   its slot: the target level it sits on is *blocked* (nothing is placed there this cycle),
   so no slot ever gets a second live order while the first one's fate is open.
2. A *doomed* order (e.g. an orphan found on the exchange under ``on_start = "cancel"``) is
   cancelled, whatever the target.
3. Keeps first: the other live orders and the free target levels are both walked touch
   first, and each live order keeps the first unmatched level within the price tolerance
   (``|live - target| * 1e4 <= px_tol_bps * target``), the size tolerance
   (``|live - target| <= sz_tol * target``) and strictly on its side of ``mid_units`` (when
   given). Matching is by price, not by slot, so after the mid moves by exactly one level
   spacing the whole ladder is kept but one order at each end.
4. What is left is paired touch first, live order with free level: each pair is a modify;
   extra live orders are cancelled, extra levels placed. (Whether a pair should rather be
   sent as cancel + place is a cost question for the caller: ``hlmm.engine.reconcile``.)

Every address request is one order, modify or cancel, so with k keeps among L live orders
and T levels the plan costs max(L, T) - k requests: maximising keeps minimises requests.
Ties are broken by price, then by the order's handle, so the output is deterministic.
"""
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from libc.math cimport fabs
from libc.stdint cimport int64_t

from hlmm._core.ladder cimport Ladder, ladder_side_t, LADDER_MAX_LEVELS

MAX_LEVELS = RECON_MAX_LEVELS
FROZEN = LIVE_FROZEN
DOOMED = LIVE_DOOMED
REDUCE_ONLY = LIVE_REDUCE_ONLY
LIVE_ACTIONS = ("keep", "modify", "cancel", "frozen")
LEVEL_ACTIONS = ("none", "place", "kept", "modified", "blocked")

assert <int>LADDER_MAX_LEVELS == <int>RECON_MAX_LEVELS


cdef class LiveSide:
    """The live orders of one (coin, side), as C entries the diff reads.

    The order manager keeps it in sync (``upsert`` on every change, ``remove`` when an order
    stops being live). ``side``: 0 bids, 1 asks. Handles are the manager's order ids.
    """

    def __cinit__(self, int side, int capacity=16):
        if side != 0 and side != 1:
            raise ValueError(f"side must be 0 (bid) or 1 (ask), got {side}")
        if capacity < 1:
            capacity = 1
        self.side = side
        self.n = 0
        self.cap = capacity
        self.e = <live_entry_t*> PyMem_Malloc(capacity * sizeof(live_entry_t))
        if self.e == NULL:
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self.e)

    cdef int c_find(self, int64_t handle) noexcept nogil:
        cdef int i
        for i in range(self.n):
            if self.e[i].handle == handle:
                return i
        return -1

    cdef int c_upsert(self, int64_t handle, int64_t px_units, int64_t sz_lots, int level, int flags) except -1:
        cdef int i = self.c_find(handle)
        cdef live_entry_t* grown
        if i < 0:
            if self.n == self.cap:
                grown = <live_entry_t*> PyMem_Realloc(self.e, 2 * self.cap * sizeof(live_entry_t))
                if grown == NULL:
                    raise MemoryError()
                self.e = grown
                self.cap *= 2
            i = self.n
            self.n += 1
            self.e[i].handle = handle
        self.e[i].px_units = px_units
        self.e[i].sz_lots = sz_lots
        self.e[i].level = level
        self.e[i].flags = flags
        return 0

    cdef bint c_remove(self, int64_t handle) noexcept nogil:
        cdef int i = self.c_find(handle)
        if i < 0:
            return False
        self.n -= 1
        if i != self.n:
            self.e[i] = self.e[self.n]
        return True

    cdef int64_t c_total(self, int mask, int value) noexcept nogil:
        cdef int64_t t = 0
        cdef int i
        for i in range(self.n):
            if (self.e[i].flags & mask) == value:
                t += self.e[i].sz_lots
        return t

    def total_lots(self, int mask=0, int value=0) -> int:
        """Sum of ``sz_lots`` over the entries whose ``flags & mask == value`` (all by default)."""
        return self.c_total(mask, value)

    def upsert(self, int64_t handle, int64_t px_units, int64_t sz_lots, int level=-1, int flags=0) -> None:
        """Insert or update the entry of order ``handle``."""
        self.c_upsert(handle, px_units, sz_lots, level, flags)

    def remove(self, int64_t handle) -> bool:
        """Drop the entry of order ``handle``; False if it had none."""
        return self.c_remove(handle)

    def clear(self) -> None:
        self.n = 0

    def __len__(self):
        return self.n

    def __contains__(self, handle):
        return self.c_find(handle) >= 0

    def entries(self) -> list:
        """``(handle, px_units, sz_lots, level, flags)`` per entry, sorted by handle."""
        cdef int i
        return sorted((self.e[i].handle, self.e[i].px_units, self.e[i].sz_lots, self.e[i].level,
                       self.e[i].flags) for i in range(self.n))

    def __repr__(self):
        return f"LiveSide({'bid' if self.side == 0 else 'ask'}, n={self.n})"


cdef class SideDiff:
    """The result of :func:`diff_side` (reused between cycles: call ``diff_*`` with it as ``out``)."""

    def __cinit__(self, int capacity=16):
        self.cap = 0
        self.n_live = 0
        self.n_levels = 0
        self.live_handle = NULL
        self.live_action = NULL
        self.live_level = NULL
        self.live_old_level = NULL
        self.live_px = NULL
        self.live_sz = NULL
        self.cancel_idx = NULL
        self.live_flags = NULL
        self.c_reserve(capacity if capacity > 0 else 1)

    def __dealloc__(self):
        PyMem_Free(self.live_handle)
        PyMem_Free(self.live_action)
        PyMem_Free(self.live_level)
        PyMem_Free(self.live_old_level)
        PyMem_Free(self.live_px)
        PyMem_Free(self.live_sz)
        PyMem_Free(self.cancel_idx)
        PyMem_Free(self.live_flags)

    cdef int c_reserve(self, int n) except -1:
        cdef void* p
        if n <= self.cap:
            return 0
        p = PyMem_Realloc(self.live_handle, n * sizeof(int64_t))
        if p == NULL:
            raise MemoryError()
        self.live_handle = <int64_t*> p
        p = PyMem_Realloc(self.live_px, n * sizeof(int64_t))
        if p == NULL:
            raise MemoryError()
        self.live_px = <int64_t*> p
        p = PyMem_Realloc(self.live_sz, n * sizeof(int64_t))
        if p == NULL:
            raise MemoryError()
        self.live_sz = <int64_t*> p
        p = PyMem_Realloc(self.live_action, n * sizeof(int))
        if p == NULL:
            raise MemoryError()
        self.live_action = <int*> p
        p = PyMem_Realloc(self.live_level, n * sizeof(int))
        if p == NULL:
            raise MemoryError()
        self.live_level = <int*> p
        p = PyMem_Realloc(self.live_old_level, n * sizeof(int))
        if p == NULL:
            raise MemoryError()
        self.live_old_level = <int*> p
        p = PyMem_Realloc(self.cancel_idx, n * sizeof(int))
        if p == NULL:
            raise MemoryError()
        self.cancel_idx = <int*> p
        p = PyMem_Realloc(self.live_flags, n * sizeof(int))
        if p == NULL:
            raise MemoryError()
        self.live_flags = <int*> p
        self.cap = n
        return 0

    @property
    def n_levels(self) -> int:
        return self.n_levels

    @property
    def empty(self) -> bool:
        """True when nothing would be sent: no modify, cancel or place."""
        return self.n_modify == 0 and self.n_cancel == 0 and self.n_place == 0

    def live(self) -> list:
        """``(handle, action, level)`` per live order, sorted by handle (action names in LIVE_ACTIONS)."""
        cdef int i
        return sorted((self.live_handle[i], LIVE_ACTIONS[self.live_action[i]], self.live_level[i])
                      for i in range(self.n_live))

    def levels(self) -> list:
        """The action name of each target level (LEVEL_ACTIONS)."""
        cdef int j
        return [LEVEL_ACTIONS[self.level_action[j]] for j in range(self.n_levels)]

    def changes(self):
        """What would be sent, touch first (deterministic):

        ``(relabels, modifies, cancels, places)`` with relabels ``[(handle, level)]`` (kept
        orders whose slot changes), modifies ``[(handle, level, px_units, sz_lots, old_px,
        old_sz)]``, cancels ``[handle]`` and places ``[(level, px_units, sz_lots)]``.
        """
        cdef int i, j, a
        relabels = []
        modifies = []
        places = []
        for j in range(self.n_levels):
            a = self.level_action[j]
            if a == LVL_PLACE:
                places.append((j, self.level_px[j], self.level_sz[j]))
            elif a == LVL_MODIFIED:
                i = self.level_live[j]
                modifies.append((self.live_handle[i], j, self.level_px[j], self.level_sz[j],
                                 self.live_px[i], self.live_sz[i]))
            elif a == LVL_KEPT:
                i = self.level_live[j]
                if self.live_old_level[i] != j:
                    relabels.append((self.live_handle[i], j))
        cancels = [self.live_handle[self.cancel_idx[i]] for i in range(self.n_cancel)]
        return relabels, modifies, cancels, places

    def intents(self, coin, modify, place, cancel, str tif="Alo"):
        """Like :meth:`changes`, but built straight into the caller's NamedTuple intent types (the
        fast path of ``hlmm.engine.reconcile``; every field is given, in declaration order):
        ``modify(handle, coin, side, level, px, sz, old_px, old_sz, reduce_only=False)``,
        ``place(coin, side, level, px, sz, reduce_only=False, tif)``, ``cancel(handle, coin, side,
        reason)`` with reason ``orphan`` for doomed orders, else ``reconcile``."""
        cdef int i, j, a
        cdef int side = self.side
        new = tuple.__new__       # NamedTuples: no Python-level __new__ frame per intent
        relabels = []
        modifies = []
        places = []
        for j in range(self.n_levels):
            a = self.level_action[j]
            if a == LVL_PLACE:
                places.append(new(place, (coin, side, j, self.level_px[j], self.level_sz[j], False, tif)))
            elif a == LVL_MODIFIED:
                i = self.level_live[j]
                modifies.append(new(modify, (self.live_handle[i], coin, side, j, self.level_px[j], self.level_sz[j],
                                             self.live_px[i], self.live_sz[i], False)))
            elif a == LVL_KEPT:
                i = self.level_live[j]
                if self.live_old_level[i] != j:
                    relabels.append((self.live_handle[i], j))
        cancels = []
        for j in range(self.n_cancel):
            i = self.cancel_idx[j]
            cancels.append(new(cancel, (self.live_handle[i], coin, side,
                                        "orphan" if self.live_flags[i] & LIVE_DOOMED else "reconcile")))
        return relabels, modifies, cancels, places

    def __repr__(self):
        return (f"SideDiff({'bid' if self.side == 0 else 'ask'}, keep={self.n_keep}, modify={self.n_modify}, "
                f"cancel={self.n_cancel}, place={self.n_place}, frozen={self.n_frozen}, "
                f"blocked={self.n_blocked})")


cdef inline bint _touch_before(int side, int64_t px_a, int64_t h_a, int64_t px_b, int64_t h_b) noexcept nogil:
    """True if order a comes before b walking from the touch outward (bids: higher price first)."""
    if px_a != px_b:
        return px_a > px_b if side == 0 else px_a < px_b
    return h_a < h_b


cdef inline bint _aggressive(int side, int64_t a, int64_t b) noexcept nogil:
    """True if price a is nearer the touch than price b."""
    return a > b if side == 0 else a < b


cdef int diff_side(const int64_t* tgt_px, const int64_t* tgt_sz, int n_tgt, LiveSide live,
                   double px_tol_bps, double sz_tol, int64_t mid_units, SideDiff out) noexcept nogil:
    """Fill ``out`` (reserved for live.n entries by the caller); returns the number of changes."""
    cdef int side = live.side
    cdef int n = live.n
    cdef int mov[512]            # movable live entries, touch first (bounded: see the callers)
    cdef int lv[RECON_MAX_LEVELS]  # free target levels, touch first
    cdef bint taken[RECON_MAX_LEVELS]
    cdef int n_mov = 0, n_lv = 0, i, j, k, m, lvl, start, tmp
    cdef int64_t lp, ls, tp, ts
    cdef live_entry_t* e
    out.side = side
    out.n_live = n
    out.n_levels = n_tgt
    out.n_keep = out.n_modify = out.n_cancel = out.n_place = out.n_frozen = out.n_blocked = out.n_relabel = 0
    for j in range(n_tgt):
        out.level_px[j] = tgt_px[j]
        out.level_sz[j] = tgt_sz[j]
        out.level_action[j] = LVL_PLACE if (tgt_sz[j] > 0 and tgt_px[j] > 0) else LVL_NONE
        out.level_live[j] = -1
        taken[j] = False
    # 1. frozen orders hold their slots; 2. doomed orders go
    for i in range(n):
        e = &live.e[i]
        out.live_handle[i] = e.handle
        out.live_px[i] = e.px_units
        out.live_sz[i] = e.sz_lots
        out.live_level[i] = e.level
        out.live_old_level[i] = e.level
        out.live_flags[i] = e.flags
        if e.flags & LIVE_FROZEN:
            out.live_action[i] = ACT_FROZEN
            out.n_frozen += 1
            if 0 <= e.level < n_tgt:
                if out.level_action[e.level] == LVL_PLACE:
                    out.n_blocked += 1
                out.level_action[e.level] = LVL_BLOCKED
        elif e.flags & LIVE_DOOMED:
            out.live_action[i] = ACT_CANCEL
            out.live_level[i] = -1
        else:
            out.live_action[i] = ACT_CANCEL   # until matched below
            out.live_level[i] = -1
            if n_mov < 512:        # (callers refuse sides with more than 512 orders)
                # insertion sort, touch first
                k = n_mov
                while k > 0 and _touch_before(side, e.px_units, e.handle, live.e[mov[k - 1]].px_units,
                                              live.e[mov[k - 1]].handle):
                    mov[k] = mov[k - 1]
                    k -= 1
                mov[k] = i
                n_mov += 1
    for j in range(n_tgt):
        if out.level_action[j] == LVL_PLACE:
            k = n_lv
            while k > 0 and _aggressive(side, tgt_px[j], tgt_px[lv[k - 1]]):
                lv[k] = lv[k - 1]
                k -= 1
            lv[k] = j
            n_lv += 1
    # 3. keeps: greedy over both lists walked touch first
    start = 0
    for m in range(n_mov):
        i = mov[m]
        lp = live.e[i].px_units
        ls = live.e[i].sz_lots
        if mid_units > 0 and ((side == 0 and lp >= mid_units) or (side == 1 and lp <= mid_units)):
            continue
        # levels far nearer the touch than this order can no longer match any later order
        while start < n_lv and _aggressive(side, tgt_px[lv[start]], lp) and \
                fabs(<double>(tgt_px[lv[start]] - lp)) * 1e4 > px_tol_bps * <double>tgt_px[lv[start]]:
            start += 1
        k = start
        while k < n_lv:
            lvl = lv[k]
            tp = tgt_px[lvl]
            if fabs(<double>(lp - tp)) * 1e4 > px_tol_bps * <double>tp:
                if _aggressive(side, lp, tp):
                    break            # every later level is further from the touch still
                k += 1
                continue
            ts = tgt_sz[lvl]
            if not taken[lvl] and fabs(<double>(ls - ts)) <= sz_tol * <double>ts:
                taken[lvl] = True
                out.level_action[lvl] = LVL_KEPT
                out.level_live[lvl] = i
                out.live_action[i] = ACT_KEEP
                out.live_level[i] = lvl
                out.n_keep += 1
                if live.e[i].level != lvl:
                    out.n_relabel += 1
                break
            k += 1
    # 4. the rest, paired touch first: modify; extra orders cancel, extra levels place
    j = 0
    for m in range(n_mov):
        i = mov[m]
        if out.live_action[i] == ACT_KEEP:
            continue
        while j < n_lv and taken[lv[j]]:
            j += 1
        if j < n_lv:
            lvl = lv[j]
            taken[lvl] = True
            out.level_action[lvl] = LVL_MODIFIED
            out.level_live[lvl] = i
            out.live_action[i] = ACT_MODIFY
            out.live_level[i] = lvl
            out.n_modify += 1
    for k in range(n_lv):
        if not taken[lv[k]]:
            out.n_place += 1
    # cancels, touch first: the movable ones in walk order, then the doomed ones by price
    for m in range(n_mov):
        i = mov[m]
        if out.live_action[i] == ACT_CANCEL:
            out.cancel_idx[out.n_cancel] = i
            out.n_cancel += 1
    start = out.n_cancel
    for i in range(n):
        if out.live_action[i] == ACT_CANCEL and (live.e[i].flags & LIVE_DOOMED) and not (live.e[i].flags & LIVE_FROZEN):
            k = out.n_cancel
            while k > start and _touch_before(side, live.e[i].px_units, live.e[i].handle,
                                              live.e[out.cancel_idx[k - 1]].px_units,
                                              live.e[out.cancel_idx[k - 1]].handle):
                out.cancel_idx[k] = out.cancel_idx[k - 1]
                k -= 1
            out.cancel_idx[k] = i
            out.n_cancel += 1
    return out.n_modify + out.n_cancel + out.n_place


cdef int _check_target(const int64_t[::1] px, const int64_t[::1] sz) except -1:
    cdef Py_ssize_t j
    if px.shape[0] != sz.shape[0]:
        raise ValueError(f"target prices and sizes differ in length ({px.shape[0]} vs {sz.shape[0]})")
    if px.shape[0] > RECON_MAX_LEVELS:
        raise ValueError(f"at most {RECON_MAX_LEVELS} target levels per side, got {px.shape[0]}")
    for j in range(px.shape[0]):
        if px[j] < 0 or sz[j] < 0:
            raise ValueError(f"target level {j}: negative price units or lots ({px[j]}, {sz[j]})")
    return 0


cdef int _check_live(LiveSide live) except -1:
    if live.n > 512:
        raise ValueError(f"more than 512 live orders on one side ({live.n}); cancel some before reconciling")
    return 0


def diff_arrays(const int64_t[::1] px_units, const int64_t[::1] sz_lots, LiveSide live not None,
                double px_tol_bps, double sz_tol, int64_t mid_units=0, SideDiff out=None) -> SideDiff:
    """Diff one side given as arrays (level order, touch first) against ``live``."""
    if not (px_tol_bps >= 0.0 and sz_tol >= 0.0):
        raise ValueError(f"tolerances must be >= 0, got px_tol_bps={px_tol_bps}, sz_tol={sz_tol}")
    _check_target(px_units, sz_lots)
    _check_live(live)
    if out is None:
        out = SideDiff(live.n)
    out.c_reserve(live.n)
    cdef const int64_t* pp = &px_units[0] if px_units.shape[0] > 0 else NULL
    cdef const int64_t* sp = &sz_lots[0] if sz_lots.shape[0] > 0 else NULL
    diff_side(pp, sp, px_units.shape[0], live, px_tol_bps, sz_tol, mid_units, out)
    return out


def diff_ladder(Ladder ladder not None, LiveSide bids not None, LiveSide asks not None,
                double px_tol_bps, double sz_tol, int64_t mid_units=0,
                SideDiff out_bid=None, SideDiff out_ask=None) -> tuple:
    """Diff both sides of a computed ``Ladder`` (read in place, no copy) against the live orders.

    A ladder that is not ``ok`` (invalid input) has no levels: every movable order is cancelled.
    Returns ``(bid_diff, ask_diff)``.
    """
    cdef ladder_side_t* s
    if bids.side != 0 or asks.side != 1:
        raise ValueError("diff_ladder needs the bid LiveSide then the ask LiveSide")
    if not (px_tol_bps >= 0.0 and sz_tol >= 0.0):
        raise ValueError(f"tolerances must be >= 0, got px_tol_bps={px_tol_bps}, sz_tol={sz_tol}")
    _check_live(bids)
    _check_live(asks)
    if out_bid is None:
        out_bid = SideDiff(bids.n)
    if out_ask is None:
        out_ask = SideDiff(asks.n)
    out_bid.c_reserve(bids.n)
    out_ask.c_reserve(asks.n)
    s = &ladder.c.side[0]
    diff_side(s.px_units, s.sz_lots, s.n if ladder.c.status == 0 else 0, bids, px_tol_bps, sz_tol,
              mid_units, out_bid)
    s = &ladder.c.side[1]
    diff_side(s.px_units, s.sz_lots, s.n if ladder.c.status == 0 else 0, asks, px_tol_bps, sz_tol,
              mid_units, out_ask)
    return out_bid, out_ask
