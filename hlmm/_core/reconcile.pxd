# The reconcile diff: target ladder side (price units / size lots per level) vs the live orders
# of that side -> keep / modify / cancel / place, in C over small arrays.
#
# The order manager keeps one LiveSide per (coin, side) in sync with its tracked orders (one
# entry per live order: remaining lots, slot level, flags). diff_side() matches them against
# the target and writes a SideDiff; nothing is allocated per call once capacities are reached.
from libc.stdint cimport int64_t

cdef enum:
    RECON_MAX_LEVELS = 64   # = ladder.LADDER_MAX_LEVELS

# LiveSide entry flags
cdef enum:
    LIVE_FROZEN = 1     # an action is in flight or its outcome is unknown: untouchable, holds its slot
    LIVE_DOOMED = 2     # must be cancelled whatever the target (an orphan under on_start = "cancel")
    LIVE_REDUCE_ONLY = 4  # a reduce-only order (informational: the diff does not read it)

# per live order, in SideDiff.live_action
cdef enum:
    ACT_KEEP = 0
    ACT_MODIFY = 1
    ACT_CANCEL = 2
    ACT_FROZEN = 3

# per target level, in SideDiff.level_action
cdef enum:
    LVL_NONE = 0        # no order wanted at this level (size 0)
    LVL_PLACE = 1
    LVL_KEPT = 2
    LVL_MODIFIED = 3
    LVL_BLOCKED = 4     # a frozen order holds this slot: nothing is sent for it this cycle

ctypedef struct live_entry_t:
    int64_t handle      # the order manager's id of the order
    int64_t px_units
    int64_t sz_lots     # remaining size on the book (worst case while a modify is in flight)
    int level           # slot level, -1 = none
    int flags


cdef class LiveSide:
    cdef live_entry_t* e
    cdef int n
    cdef int cap
    cdef readonly int side      # 0 bid, 1 ask
    cdef int c_find(self, int64_t handle) noexcept nogil
    cdef int c_upsert(self, int64_t handle, int64_t px_units, int64_t sz_lots, int level, int flags) except -1
    cdef bint c_remove(self, int64_t handle) noexcept nogil
    cdef int64_t c_total(self, int mask, int value) noexcept nogil


cdef class SideDiff:
    cdef int cap
    cdef int n_live
    cdef int64_t* live_handle
    cdef int* live_action
    cdef int* live_level        # target level of a keep / modify, else the entry's own level
    cdef int* live_old_level
    cdef int64_t* live_px       # the live order's price / remaining size (for modify intents)
    cdef int64_t* live_sz
    cdef int* cancel_idx        # live indices to cancel, touch first
    cdef int* live_flags
    cdef int n_levels
    cdef int level_action[RECON_MAX_LEVELS]
    cdef int64_t level_px[RECON_MAX_LEVELS]
    cdef int64_t level_sz[RECON_MAX_LEVELS]
    cdef int level_live[RECON_MAX_LEVELS]   # live index kept at / modified to the level, -1 none
    cdef readonly int side
    cdef readonly int n_keep
    cdef readonly int n_modify
    cdef readonly int n_cancel
    cdef readonly int n_place
    cdef readonly int n_frozen
    cdef readonly int n_blocked
    cdef readonly int n_relabel
    cdef int c_reserve(self, int n) except -1


cdef int diff_side(const int64_t* tgt_px, const int64_t* tgt_sz, int n_tgt, LiveSide live,
                   double px_tol_bps, double sz_tol, int64_t mid_units, SideDiff out) noexcept nogil
