# FIFO matching of closing fills to opening lots, per (account, coin) position key.
from libc.stdint cimport int8_t, int32_t, int64_t

cdef enum:
    FILL_OPEN = 0        # same codes as hlmm.calibration.fills.KIND_*
    FILL_CLOSE = 1
    FILL_FLIP = 2
    FILL_SPOT_BUY = 3
    FILL_SPOT_SELL = 4
    FILL_OTHER = 5


cdef struct LotPool:
    # open lots as singly linked FIFO lists, one list per position key
    int8_t* side
    double* qty
    double* px
    int64_t* time_ms
    double* fee_per_unit
    int64_t* fill_index
    int64_t* next_lot
    int64_t used
