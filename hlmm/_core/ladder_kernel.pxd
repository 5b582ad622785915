# The ladder optimizer's C kernel: GLFT depths + fill probability (first passage, optionally takers) +
# fractional-Kelly sizing under margin, position, per-order and minimum-notional constraints,
# on integer price units and size lots. The math and units are documented in
# ladder_kernel.pyx's module docstring.
#
# Cython callers (the quote cycle) fill a market_params_t from their estimators, keep one
# ladder_config_t and one Ladder (ladder.pxd), and call ladder_compute(&params, &config,
# &ladder.c): no Python objects, no allocation, nogil.
from libc.stdint cimport int64_t

cdef enum:
    LADDER_MAX_LEVELS = 64
    SIDE_BID = 0
    SIDE_ASK = 1

# Per-level code: for a quoted level, the constraint that bound its size; for a dropped level
# (sz_lots == 0), the reason it is not quoted.
cdef enum:
    CODE_NONE = 0             # quoted; its full fractional-Kelly demand is funded
    CODE_MARGIN = 1           # quoted, size bound by the margin budget / dropped: no margin at all
    CODE_POSITION = 2         # quoted, size bound by position room / dropped: no room left
    CODE_MAX_NOTIONAL = 3     # quoted at the per-order notional cap
    CODE_MIN_NOTIONAL = 4     # dropped: funded or rounded below the exchange minimum notional
    CODE_TOXICITY_GATE = 5    # dropped: side toxicity above the pull threshold
    CODE_NEGATIVE_EDGE = 6    # dropped: E[R|fill] <= 0 at this depth
    CODE_ZERO_FILL_PROB = 7   # dropped: fill probability underflows to 0 (Kelly weight 0)
    CODE_PRICE_COLLISION = 8  # dropped: rounds onto the price of the previous level (tick > spacing)
    CODE_INVALID_PRICE = 9    # dropped: no valid price (<= 0, or not strictly on its side of mid)
    CODE_INVALID_INPUT = 10   # the whole ladder: a parameter failed validation
    CODE_COUNT = 11

# ladder_config_t.fill_probability_model (ladder.FILL_PROBABILITY_MODELS names them in order)
cdef enum:
    FILL_FIRST_PASSAGE = 0          # the mid diffuses through the quote within tau
    FILL_FIRST_PASSAGE_TAKERS = 1   # ... or a taker (Poisson, A exp(-kappa d) per s) reaches it
    FILL_MODEL_COUNT = 2

cdef enum:
    REGIME_LOW = 0
    REGIME_NORMAL = 1
    REGIME_HIGH = 2
    REGIME_EXTREME = 3

ctypedef struct market_params_t:
    double mid                  # (best bid + best ask) / 2, USD
    double microprice           # fair price the ladder is centred on, USD
    double sigma                # volatility per sqrt(second), log-return units (x1e4 = bps)
    double kappa                # intensity decay, per bps: lambda(d) = A exp(-kappa d), d in bps
    double A                    # fill intensity at the touch, per second
    double gamma                # risk aversion, per bps per inventory quantum
    int regime                  # REGIME_LOW .. REGIME_EXTREME
    double tod_gamma_mult       # time-of-day multiplier on gamma (toxic hours > 1)
    double tox_bid              # pre-fill toxicity of the bid side, [0, 1]
    double tox_ask
    double position             # signed, coins (+ long)
    double max_position         # coins, > 0
    double inflight_bid         # coins of buy orders that will stay live / in flight, >= 0
    double inflight_ask
    double available_margin     # USD, the exchange's figure as is (already nets position margin)
    double allowed_leverage     # allowed (tier) leverage at the position's notional, not the current one
    double market_spread_bps    # current market spread, bps of mid (0 = unknown: cap off)
    double as_bps               # adverse move (bps) when an informed trader fills us
    int sz_decimals
    int px_decimals
    double min_notional         # USD ($10 on perps)

ctypedef struct ladder_config_t:
    int levels_per_side
    double level_spacing_bps
    double spread_floor_bps             # per-side floor on the touch depth (from fair and from mid)
    double market_spread_cap_multiple   # 0 = off; else half-spread <= multiple * market spread / 2
    double kelly_fraction
    double kelly_regime_mult[4]
    double kelly_min
    double kelly_max
    double gamma_regime_mult[4]
    double alpha_touch                  # informed share at the touch
    double delta_char_bps               # decay depth of alpha, and the diffusion scale of tau
    double tau_min                      # seconds
    double tau_max
    double max_order_notional           # USD per level, 0 = off
    double toxicity_widen               # half-spread *= 1 + widen * toxicity
    double toxicity_pull                # toxicity above this pulls the side
    double inventory_steps              # GLFT quanta in max_position: q = position * steps / max_position
    double maker_fee_bps                # subtracted from spread capture (negative = rebate)
    int fill_probability_model          # FILL_FIRST_PASSAGE (default) or FILL_FIRST_PASSAGE_TAKERS

ctypedef struct ladder_side_t:
    int n                       # levels computed (= levels_per_side)
    int n_quoted
    int pulled
    int binding                 # the constraint that bound the side's funded levels
    double touch_depth_bps      # model depth of level 0 after floor
    double bankroll_usd         # margin * leverage / 2 + reducible inventory at the side's worst price
    double kelly_target_usd     # fractional-Kelly notional target for the side
    double position_room        # coins this side may add
    double notional_usd         # quoted notional after rounding
    double size_total           # quoted coins after rounding
    double margin_used          # initial margin of the position-opening part, USD
    double target_depth_bps[LADDER_MAX_LEVELS]   # model depth (bps from fair) before rounding
    double depth_bps[LADDER_MAX_LEVELS]          # depth of the rounded price (bps from fair)
    double p_fill[LADDER_MAX_LEVELS]             # fill probability within tau (the configured model)
    double alpha[LADDER_MAX_LEVELS]              # informed share at that depth
    double edge_bps[LADDER_MAX_LEVELS]           # E[R | fill], bps
    double kelly_f[LADDER_MAX_LEVELS]            # full-Kelly fraction of bankroll, E/Var (0 if E <= 0)
    double weight[LADDER_MAX_LEVELS]             # p_fill * kelly_f: the allocation weight
    double target_notional[LADDER_MAX_LEVELS]    # USD allocated before rounding (also for min-notional drops)
    int64_t px_units[LADDER_MAX_LEVELS]          # rounded price units (0 = no valid price)
    int64_t sz_lots[LADDER_MAX_LEVELS]           # size lots (0 = not quoted)
    int code[LADDER_MAX_LEVELS]

ctypedef struct ladder_t:
    int status                  # 0 ok, CODE_INVALID_INPUT
    int invalid_field           # 0, or the failing field (see ladder.pyx PARAM_FIELDS / CONFIG_FIELDS)
    int px_decimals
    int sz_decimals
    double fair
    double mid
    double sigma_bps
    double tau                  # Kelly/fill-probability horizon, seconds
    double gamma_eff            # gamma * regime multiplier * time-of-day multiplier
    double c1_bps               # (1/xi) ln(1 + xi/kappa), xi = base gamma
    double c2                   # sqrt(gamma_eff/(2 A kappa) (1 + xi/kappa)^(kappa/xi + 1)), sqrt(s)
    double half_spread_bps      # GLFT delta* = c1 + sigma c2 / 2
    double quoted_half_spread_bps   # after the optional market-spread cap
    double q                    # inventory in GLFT quanta
    double skew_bps             # q sigma c2: bids deeper, asks shallower when long
    double kelly_fraction       # regime-scaled, clamped
    ladder_side_t side[2]

cdef int market_params_check(const market_params_t* p) noexcept nogil
cdef int ladder_config_check(const ladder_config_t* c) noexcept nogil
cdef int ladder_compute(const market_params_t* p, const ladder_config_t* c, ladder_t* out) noexcept nogil
