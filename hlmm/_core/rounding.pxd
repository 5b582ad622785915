# Integer-exact price/size rounding: the one path every number to the exchange takes.
#
# Units (TEAM.md): price units = round(price * 10**px_decimals), size lots =
# round(size * 10**sz_decimals), px_decimals = MAX_DECIMALS (6 perp, 8 spot) - szDecimals.
# A return value of 0 from a rounding function means "no valid value": callers drop it.
from libc.stdint cimport int64_t

cdef int64_t pow10(int n) noexcept nogil
cdef int ndigits(int64_t n) noexcept nogil
cdef bint price_units_valid(int64_t px_units, int px_decimals) noexcept nogil
cdef int64_t price_tick_units(int64_t px_units, int px_decimals) noexcept nogil   # tick at that price level
cdef int64_t round_price_units(int64_t px_units, int px_decimals, int direction) noexcept nogil  # -> valid units
cdef int64_t step_price_units(int64_t px_units, int px_decimals, int direction) noexcept nogil  # next valid, strictly
cdef int64_t price_to_units(double px, int px_decimals, int direction) noexcept nogil  # float -> valid units
cdef double units_to_price(int64_t px_units, int px_decimals) noexcept nogil
cdef int64_t size_to_lots(double sz, int sz_decimals, int direction) noexcept nogil
cdef double lots_to_size(int64_t lots, int sz_decimals) noexcept nogil
cdef bint notional_units_ok(int64_t px_units, int64_t sz_lots, int px_decimals, int sz_decimals,
                            double min_notional) noexcept nogil
cdef int64_t min_lots_for_notional(int64_t px_units, int px_decimals, int sz_decimals,
                                   double min_notional) noexcept nogil
# 0 = acceptable, else one of the ORDER_* codes (rounding.pyx): the exchange's per-order checks
cdef int order_check_code(int64_t px_units, int64_t sz_lots, int px_decimals, int sz_decimals,
                          double min_notional, bint reduce_only) noexcept nogil
cdef int units_to_wire_buf(int64_t units, int decimals, char* out) noexcept nogil  # needs out[>= 32]
