# The ladder optimizer's Python-facing types (ladder.pyx). The kernel's structs, codes and
# ladder_compute live in ladder_kernel.pxd and are re-exported here, so one cimport serves:
#     from hlmm._core.ladder cimport Ladder, ladder_side_t, ladder_compute, market_params_t
from hlmm._core.ladder_kernel cimport (
    LADDER_MAX_LEVELS, SIDE_BID, SIDE_ASK, CODE_NONE, CODE_MARGIN, CODE_POSITION,
    CODE_MAX_NOTIONAL, CODE_MIN_NOTIONAL, CODE_TOXICITY_GATE, CODE_NEGATIVE_EDGE,
    CODE_ZERO_FILL_PROB, CODE_PRICE_COLLISION, CODE_INVALID_PRICE, CODE_INVALID_INPUT,
    CODE_COUNT, REGIME_LOW, REGIME_NORMAL, REGIME_HIGH, REGIME_EXTREME, FILL_FIRST_PASSAGE,
    FILL_FIRST_PASSAGE_TAKERS, FILL_MODEL_COUNT, market_params_t,
    ladder_config_t, ladder_side_t, ladder_t, market_params_check, ladder_config_check,
    ladder_compute,
)


cdef class _FrozenFields:
    pass


cdef class MarketParams(_FrozenFields):
    cdef market_params_t c


cdef class LadderConfig(_FrozenFields):
    cdef ladder_config_t c


cdef class Ladder:
    cdef ladder_t c


cdef class LadderSide:
    cdef readonly Ladder ladder
    cdef readonly int side
    cdef ladder_side_t* _s(self)
