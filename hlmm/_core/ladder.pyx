# cython: language_level=3
"""The ladder optimizer: from a frozen market snapshot to a two-sided ladder of orders.

Units. Depths, spreads, edges: bps of the fair price (the microprice). sigma: per
sqrt(second) in log-return units (the volatility estimator's output; x1e4 gives bps).
kappa: per bps, as the intensity estimator fits lambda(d) = A exp(-kappa d) with d in bps.
A: fills per second at the touch. gamma: per bps per inventory quantum, where one quantum is
max_position / inventory_steps coins. Prices leave as integer price units, sizes as lots,
both through ``hlmm._core.rounding`` (bids round down, asks up, sizes down).

Depths (Gueant-Lehalle-Fernandez-Tapia, in the c1/c2 form of hftbacktest's GLFT tutorial)::

    gamma_eff = gamma * gamma_regime_mult[regime] * tod_gamma_mult
    xi  = gamma                          (the CARA coefficient of the half-spread)
    c1  = (1/xi) ln(1 + xi/kappa)                                  bps
    c2  = sqrt(gamma_eff / (2 A kappa) * (1 + xi/kappa)^(kappa/xi + 1))   sqrt(s)
    delta*   = c1 + sigma_bps c2 / 2     (half-spread of GLFT eq. 4.6/4.7 at q = 0)
    skew     = q sigma_bps c2,  q = position * inventory_steps / max_position
    bid d0   = max(floor_b, min(delta*, cap) (1 + widen tox_bid) + skew)
    ask d0   = max(floor_a, min(delta*, cap) (1 + widen tox_ask) - skew)
    level i  = d0 + i * spacing          (strictly increasing outward)

The regime / time-of-day multipliers scale gamma in the inventory term only (GLFT's gamma,
with xi held at the base gamma). Scaling xi as well would *narrow* the quotes: d c1/d xi < 0,
so a 2x "toxic-hour" gamma fed into c1 tightens the half-spread instead of widening it.
cap = market_spread_cap_multiple * market_spread_bps / 2 (off when 0). The floor is per side:
spread_floor_bps from the fair price and from the mid, so a bid is always below the mid and an
ask above it even when the microprice sits away from the mid.

Fill probability and edge at the rounded price's depth d (never the GLFT horizon)::

    tau   = clamp((delta_char / sigma_bps)^2, tau_min, tau_max)      seconds
    P     = 2 Phi(-d / (sigma_bps sqrt(tau))) = erfc(d / (sigma_bps sqrt(2 tau)))
    alpha = alpha_touch exp(-d / delta_char)
    SC    = d - maker_fee_bps;  AS = as_bps
    E     = (1 - alpha) SC - alpha AS;   Var = (SC + AS)^2 alpha (1 - alpha)
    f*    = 1e4 E / Var   (fraction of bankroll: returns in units of 1, not bps), 0 if E <= 0

Sizing per side::

    kelly    = clamp(kelly_fraction * kelly_regime_mult[regime], kelly_min, kelly_max)
    bankroll = available_margin * allowed_leverage / 2 + reducible_coins * worst_price
    (reducible = the inventory this side closes, net of in-flight orders on the side)
    target   = kelly * bankroll * min(1, sum_i P_i f*_i)
    notional_i proportional to P_i f*_i, water-filled under max_order_notional per level and
    the side's position room (max_position -/+ position - in-flight, in coins).

Half of the margin capacity funds each side, so both ladders together never need more than the
available margin; the inventory a side would close is funded by the position itself. Levels
whose allocation cannot survive rounding above min_notional are dropped weakest first and their
budget re-split over the rest (fund 13 levels well rather than 25 below the exchange minimum).
"""
from libc.math cimport erfc, exp, log1p, sqrt, isfinite
from libc.stdint cimport int64_t

from hlmm._core.rounding cimport (
    pow10, price_to_units, units_to_price, size_to_lots, lots_to_size, notional_units_ok,
)

import numpy as np

from hlmm.errors import InputError

# Full-Kelly cap (fraction of bankroll) for a riskless edge, when alpha underflows to 0.
cdef double _KELLY_F_MAX = 1.0e6

MAX_LEVELS = LADDER_MAX_LEVELS
KELLY_F_MAX = _KELLY_F_MAX
REGIMES = ("low", "normal", "high", "extreme")
REASONS = ("none", "margin", "position", "max_notional", "min_notional", "toxicity_gate",
           "negative_edge", "zero_fill_prob", "price_collision", "invalid_price", "invalid_input")
CODES = {name: i for i, name in enumerate(REASONS)}
SIDES = ("bid", "ask")
_STATUS = {0: "ok", CODE_INVALID_INPUT: "invalid_input", -1: "empty"}

# (field, what it must be). ladder_compute's checks return the 1-based position here;
# config fields are reported as 100 + position.
PARAM_FIELDS = (
    ("mid", "a finite price > 0"),
    ("microprice", "a finite price > 0"),
    ("sigma", "> 0 (volatility per sqrt(second), log-return units)"),
    ("kappa", "> 0 (intensity decay per bps)"),
    ("A", "> 0 (fills per second at the touch)"),
    ("gamma", "> 0"),
    ("regime", "0..3 or one of low, normal, high, extreme"),
    ("tod_gamma_mult", "> 0"),
    ("tox_bid", "in [0, 1]"),
    ("tox_ask", "in [0, 1]"),
    ("position", "finite (signed coins)"),
    ("max_position", "> 0 coins"),
    ("inflight_bid", ">= 0 coins"),
    ("inflight_ask", ">= 0 coins"),
    ("available_margin", ">= 0 USD"),
    ("allowed_leverage", "> 0"),
    ("market_spread_bps", ">= 0 (0 = unknown)"),
    ("as_bps", ">= 0 bps"),
    ("sz_decimals", "in 0..18"),
    ("px_decimals", "in 0..18 with px_decimals + sz_decimals <= 18"),
    ("min_notional", ">= 0 USD"),
)
CONFIG_FIELDS = (
    ("levels_per_side", f"in 1..{LADDER_MAX_LEVELS}"),
    ("level_spacing_bps", "> 0"),
    ("spread_floor_bps", "> 0"),
    ("market_spread_cap_multiple", ">= 0 (0 = off)"),
    ("kelly_fraction", "> 0"),
    ("kelly_regime_mult", "four numbers > 0 (low, normal, high, extreme)"),
    ("kelly_min", "> 0"),
    ("kelly_max", ">= kelly_min and <= 1"),
    ("gamma_regime_mult", "four numbers > 0 (low, normal, high, extreme)"),
    ("alpha_touch", "in (0, 1)"),
    ("delta_char_bps", "> 0"),
    ("tau_min", "> 0 seconds"),
    ("tau_max", ">= tau_min seconds"),
    ("max_order_notional", ">= 0 USD (0 = off)"),
    ("toxicity_widen", ">= 0"),
    ("toxicity_pull", "in [0, 1]"),
    ("inventory_steps", "> 0"),
    ("maker_fee_bps", "finite bps (negative = rebate)"),
)


class LadderInputError(InputError, ValueError):
    """A MarketParams / LadderConfig value is unusable; names the field and what it must be."""


# ---------------------------------------------------------------------------------------
# C kernel

cdef inline bint _pos(double x) noexcept nogil:
    return isfinite(x) and x > 0.0


cdef inline bint _nonneg(double x) noexcept nogil:
    return isfinite(x) and x >= 0.0


cdef inline bint _unit(double x) noexcept nogil:
    return x >= 0.0 and x <= 1.0


cdef int market_params_check(const market_params_t* p) noexcept nogil:
    """0 if usable, else the 1-based index of the first bad field in PARAM_FIELDS."""
    if not _pos(p.mid): return 1
    if not _pos(p.microprice): return 2
    if not _pos(p.sigma): return 3
    if not _pos(p.kappa): return 4
    if not _pos(p.A): return 5
    if not _pos(p.gamma): return 6
    if p.regime < 0 or p.regime > 3: return 7
    if not _pos(p.tod_gamma_mult): return 8
    if not _unit(p.tox_bid): return 9
    if not _unit(p.tox_ask): return 10
    if not isfinite(p.position): return 11
    if not _pos(p.max_position): return 12
    if not _nonneg(p.inflight_bid): return 13
    if not _nonneg(p.inflight_ask): return 14
    if not _nonneg(p.available_margin): return 15
    if not _pos(p.allowed_leverage): return 16
    if not _nonneg(p.market_spread_bps): return 17
    if not _nonneg(p.as_bps): return 18
    if p.sz_decimals < 0 or p.sz_decimals > 18: return 19
    if p.px_decimals < 0 or p.px_decimals + p.sz_decimals > 18: return 20
    if not _nonneg(p.min_notional): return 21
    return 0


cdef int ladder_config_check(const ladder_config_t* c) noexcept nogil:
    """0 if usable, else the 1-based index of the first bad field in CONFIG_FIELDS."""
    cdef int r
    if c.levels_per_side < 1 or c.levels_per_side > LADDER_MAX_LEVELS: return 1
    if not _pos(c.level_spacing_bps): return 2
    if not _pos(c.spread_floor_bps): return 3
    if not _nonneg(c.market_spread_cap_multiple): return 4
    if not _pos(c.kelly_fraction): return 5
    for r in range(4):
        if not _pos(c.kelly_regime_mult[r]): return 6
    if not _pos(c.kelly_min): return 7
    if not (c.kelly_max >= c.kelly_min and c.kelly_max <= 1.0): return 8
    for r in range(4):
        if not _pos(c.gamma_regime_mult[r]): return 9
    if not (c.alpha_touch > 0.0 and c.alpha_touch < 1.0): return 10
    if not _pos(c.delta_char_bps): return 11
    if not _pos(c.tau_min): return 12
    if not (isfinite(c.tau_max) and c.tau_max >= c.tau_min): return 13
    if not _nonneg(c.max_order_notional): return 14
    if not _nonneg(c.toxicity_widen): return 15
    if not _unit(c.toxicity_pull): return 16
    if not _pos(c.inventory_steps): return 17
    if not isfinite(c.maker_fee_bps): return 18
    return 0


cdef inline int _outward(int s) noexcept nogil:
    """The side's sign: -1 for bids (below fair, prices rounded down), +1 for asks (above fair,
    rounded up). Depth d bps sits at fair * (1 + sign * d / 1e4); both roundings are passive."""
    return -1 if s == SIDE_BID else 1


cdef inline double _clamp(double x, double lo, double hi) noexcept nogil:
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


cdef int _water_fill(const int* active, int na, const double* phi, const double* price,
                     double target, double room, double cap, double s_phi,
                     double* alloc, int* codes) noexcept nogil:
    """Split `target` USD over the active levels in proportion to phi, under a coin budget
    `room` and a per-level USD `cap`: levels over the cap are pinned to it and the rest is
    re-split. Returns the binding constraint of the unpinned levels."""
    cdef int free_[LADDER_MAX_LEVELS]
    cdef int pinned[LADDER_MAX_LEVELS]
    cdef int nf = na, npin = 0, k, m, i
    cdef double fixed_usd = 0.0, fixed_coins = 0.0, lam = 0.0, sp, spc, lam_t, lam_r
    cdef int kelly_bind = CODE_MARGIN if s_phi >= 1.0 else CODE_NONE
    cdef int bind = kelly_bind
    for k in range(na):
        free_[k] = active[k]
    while nf > 0:
        sp = 0.0
        spc = 0.0
        for k in range(nf):
            i = free_[k]
            sp += phi[i]
            spc += phi[i] / price[i]
        lam_t = (target - fixed_usd) / sp
        lam_r = (room - fixed_coins) / spc
        if lam_r < lam_t:
            lam = lam_r
            bind = CODE_POSITION
        else:
            lam = lam_t
            bind = kelly_bind
        if lam < 0.0:
            lam = 0.0
        m = 0
        for k in range(nf):
            i = free_[k]
            if cap > 0.0 and lam * phi[i] > cap:
                fixed_usd += cap
                fixed_coins += cap / price[i]
                pinned[npin] = i
                npin += 1
            else:
                free_[m] = i
                m += 1
        if m == nf:
            break
        nf = m
    for k in range(nf):
        i = free_[k]
        alloc[i] = lam * phi[i]
        codes[i] = bind
    for k in range(npin):
        i = pinned[k]
        alloc[i] = cap
        codes[i] = CODE_MAX_NOTIONAL
    return bind if nf > 0 else CODE_MAX_NOTIONAL


cdef inline void _price_levels(const market_params_t* p, const ladder_config_t* c, ladder_t* L,
                               double sd, int s, double* price) noexcept nogil:
    """Depths, rounded prices, fill probabilities, edges and Kelly weights of one side;
    codes are set for levels that cannot be quoted whatever the budget (-1 = candidate)."""
    cdef ladder_side_t* S = &L.side[s]
    cdef int sign = _outward(s)
    cdef double sg = sign, bps_out = sg * 1e-4          # one bps of fair, outward
    cdef double fair = p.microprice, mid = p.mid
    cdef double tox = p.tox_bid if s == SIDE_BID else p.tox_ask
    cdef bint pulled = tox > c.toxicity_pull
    cdef double widened = L.quoted_half_spread_bps * (1.0 + c.toxicity_widen * tox)
    cdef double floor_bps = c.spread_floor_bps, ratio = mid / fair
    cdef double raw, mid_floor, floor_eff, d0, td, target, depth, pr, pf, al, sc, edge, var, f
    cdef int64_t u, prev = 0
    cdef int i, code
    # (sign * x is an exact negation or identity, so both sides round exactly as written out)
    raw = widened - sg * L.skew_bps                    # long (skew > 0): bids deeper, asks closer
    mid_floor = floor_bps * ratio + 1e4 * (sg * (mid - fair)) / fair
    floor_eff = floor_bps if floor_bps > mid_floor else mid_floor
    d0 = raw if raw > floor_eff else floor_eff
    S.pulled = pulled
    S.touch_depth_bps = d0
    for i in range(S.n):
        td = d0 + i * c.level_spacing_bps
        S.target_depth_bps[i] = td
        code = -1
        target = fair * (1.0 + td * bps_out)
        u = price_to_units(target, p.px_decimals, sign) if target > 0.0 else 0
        depth = td
        price[i] = 0.0
        S.px_units[i] = 0
        S.sz_lots[i] = 0
        S.target_notional[i] = 0.0
        if u <= 0:
            code = CODE_INVALID_PRICE
        else:
            pr = units_to_price(u, p.px_decimals)
            if not sg * (pr - mid) > 0.0:                # not strictly on its side of mid
                code = CODE_INVALID_PRICE
            else:
                S.px_units[i] = u
                price[i] = pr
                depth = sg * (pr - fair) / fair * 1e4
                if prev != 0 and sign * (u - prev) <= 0:   # not strictly outside the previous level
                    code = CODE_PRICE_COLLISION
                else:
                    prev = u
        S.depth_bps[i] = depth
        pf = erfc(depth / sd)
        al = c.alpha_touch * exp(-depth / c.delta_char_bps)
        sc = depth - c.maker_fee_bps
        edge = (1.0 - al) * sc - al * p.as_bps
        var = (sc + p.as_bps) * (sc + p.as_bps) * al * (1.0 - al)
        f = 0.0
        if edge > 0.0:
            f = 1e4 * edge / var if var > 0.0 else _KELLY_F_MAX
            if f > _KELLY_F_MAX:
                f = _KELLY_F_MAX
        S.p_fill[i] = pf
        S.alpha[i] = al
        S.edge_bps[i] = edge
        S.kelly_f[i] = f
        S.weight[i] = pf * f
        if pulled:
            code = CODE_TOXICITY_GATE
        elif code < 0:
            if not edge > 0.0:
                code = CODE_NEGATIVE_EDGE
            elif not pf * f > 0.0:
                code = CODE_ZERO_FILL_PROB
        S.code[i] = code


cdef inline void _size_levels(const market_params_t* p, const ladder_config_t* c, ladder_t* L,
                              int s, const double* price) noexcept nogil:
    """Fractional-Kelly budget of one side, split over its candidate levels, rounded to lots."""
    cdef ladder_side_t* S = &L.side[s]
    cdef double sg = _outward(s)
    cdef double inflight = p.inflight_bid if s == SIDE_BID else p.inflight_ask
    cdef int active[LADDER_MAX_LEVELS]
    cdef double alloc[LADDER_MAX_LEVELS]
    cdef int codes[LADDER_MAX_LEVELS]
    cdef int na = 0, i, k, worst, binding = CODE_NONE
    cdef int64_t lots
    cdef double kf = L.kelly_fraction
    cdef double reduce_coins, p_min = 0.0, bankroll, room, lot, s_phi, target_total = 0.0
    cdef double thr, notional = 0.0, coins = 0.0, reduce_left, opening = 0.0, size, red
    for i in range(S.n):
        if S.code[i] < 0:
            active[na] = i
            na += 1
            if na == 1 or price[i] < p_min:
                p_min = price[i]
    # Inventory this side closes (a short for bids, a long for asks; in-flight orders on the side
    # close it first) needs no margin. Room: up to max_position long (bids) or short (asks).
    reduce_coins = sg * p.position - inflight
    room = p.max_position + sg * p.position - inflight
    if reduce_coins < 0.0:
        reduce_coins = 0.0
    if room < 0.0:
        room = 0.0
    bankroll = p.available_margin * p.allowed_leverage * 0.5 + reduce_coins * p_min
    lot = 1.0 / <double>pow10(p.sz_decimals)
    if S.pulled:
        binding = CODE_TOXICITY_GATE
    elif na == 0:
        binding = CODE_NONE
    elif not kf * bankroll > 0.0:
        binding = CODE_MARGIN
        for k in range(na):
            S.code[active[k]] = CODE_MARGIN
        na = 0
    elif not room > 0.0:
        binding = CODE_POSITION
        for k in range(na):
            S.code[active[k]] = CODE_POSITION
        na = 0
    while na > 0:
        s_phi = 0.0
        for k in range(na):
            s_phi += S.weight[active[k]]
        target_total = kf * bankroll * (s_phi if s_phi < 1.0 else 1.0)
        binding = _water_fill(active, na, S.weight, price, target_total, room,
                              c.max_order_notional, s_phi, alloc, codes)
        worst = -1
        for k in range(na):
            i = active[k]
            thr = p.min_notional + price[i] * lot
            if alloc[i] < thr and (worst < 0 or alloc[i] <= alloc[active[worst]]):
                worst = k
        if worst < 0:
            break
        i = active[worst]
        S.target_notional[i] = alloc[i]
        S.code[i] = CODE_MIN_NOTIONAL
        for k in range(worst, na - 1):
            active[k] = active[k + 1]
        na -= 1
    reduce_left = reduce_coins
    S.n_quoted = 0
    for k in range(na):
        i = active[k]
        S.target_notional[i] = alloc[i]
        lots = size_to_lots(alloc[i] / price[i], p.sz_decimals, -1)
        if lots <= 0 or not notional_units_ok(S.px_units[i], lots, p.px_decimals, p.sz_decimals,
                                              p.min_notional):
            S.code[i] = CODE_MIN_NOTIONAL
            continue
        S.sz_lots[i] = lots
        S.code[i] = codes[i]
        S.n_quoted += 1
        size = lots_to_size(lots, p.sz_decimals)
        coins += size
        notional += size * price[i]
        red = size if size < reduce_left else reduce_left
        reduce_left -= red
        opening += (size - red) * price[i]
    S.bankroll_usd = bankroll
    S.kelly_target_usd = target_total
    S.position_room = room
    S.binding = binding
    S.notional_usd = notional
    S.size_total = coins
    S.margin_used = opening / p.allowed_leverage


cdef void _invalidate(ladder_t* L, int field) noexcept nogil:
    cdef int s
    L.status = CODE_INVALID_INPUT
    L.invalid_field = field
    for s in range(2):
        L.side[s].n = 0
        L.side[s].n_quoted = 0
        L.side[s].binding = CODE_INVALID_INPUT


cdef int ladder_compute(const market_params_t* p, const ladder_config_t* c, ladder_t* out) noexcept nogil:
    """Compute the ladder into `out`. Returns 0, or CODE_INVALID_INPUT (then nothing is quoted
    and out.invalid_field names the field: PARAM_FIELDS index, or 100 + CONFIG_FIELDS index)."""
    cdef double price[LADDER_MAX_LEVELS]
    cdef double x, r, sd, cap
    cdef int bad = market_params_check(p)
    if bad != 0:
        _invalidate(out, bad)
        return CODE_INVALID_INPUT
    bad = ladder_config_check(c)
    if bad != 0:
        _invalidate(out, 100 + bad)
        return CODE_INVALID_INPUT
    out.status = 0
    out.invalid_field = 0
    out.px_decimals = p.px_decimals
    out.sz_decimals = p.sz_decimals
    out.fair = p.microprice
    out.mid = p.mid
    out.sigma_bps = p.sigma * 1e4
    out.gamma_eff = p.gamma * c.gamma_regime_mult[p.regime] * p.tod_gamma_mult
    x = p.gamma / p.kappa
    out.c1_bps = log1p(x) / p.gamma
    out.c2 = sqrt(out.gamma_eff / (2.0 * p.A * p.kappa) * exp((1.0 / x + 1.0) * log1p(x)))
    out.half_spread_bps = out.c1_bps + 0.5 * out.sigma_bps * out.c2
    out.quoted_half_spread_bps = out.half_spread_bps
    if c.market_spread_cap_multiple > 0.0 and p.market_spread_bps > 0.0:
        cap = c.market_spread_cap_multiple * p.market_spread_bps * 0.5
        if cap < out.quoted_half_spread_bps:
            out.quoted_half_spread_bps = cap
    out.q = p.position * c.inventory_steps / p.max_position
    out.skew_bps = out.q * out.sigma_bps * out.c2
    out.kelly_fraction = _clamp(c.kelly_fraction * c.kelly_regime_mult[p.regime], c.kelly_min, c.kelly_max)
    r = c.delta_char_bps / out.sigma_bps
    out.tau = _clamp(r * r, c.tau_min, c.tau_max)
    sd = out.sigma_bps * sqrt(2.0 * out.tau)
    out.side[SIDE_BID].n = out.side[SIDE_ASK].n = c.levels_per_side
    # A constant side per call lets the compiler fold the side's sign into each copy.
    _price_levels(p, c, out, sd, SIDE_BID, price)
    _size_levels(p, c, out, SIDE_BID, price)
    _price_levels(p, c, out, sd, SIDE_ASK, price)
    _size_levels(p, c, out, SIDE_ASK, price)
    return 0


# ---------------------------------------------------------------------------------------
# Python face: frozen MarketParams / LadderConfig, the Ladder with numpy views, compute_ladder.

_PERP_MAX_DECIMALS = 6
_PARAM_REQUIRED = ("mid", "sigma", "kappa", "A", "gamma", "max_position", "available_margin",
                   "allowed_leverage", "as_bps", "sz_decimals")
_PARAM_DEFAULTS = {
    "microprice": None, "regime": REGIME_NORMAL, "tod_gamma_mult": 1.0, "tox_bid": 0.0,
    "tox_ask": 0.0, "position": 0.0, "inflight_bid": 0.0, "inflight_ask": 0.0,
    "market_spread_bps": 0.0, "px_decimals": None, "min_notional": 10.0,
}
CONFIG_DEFAULTS = {
    "levels_per_side": 10,
    "level_spacing_bps": 2.0,
    "spread_floor_bps": 8.0,
    "market_spread_cap_multiple": 0.0,
    "kelly_fraction": 0.20,
    "kelly_regime_mult": (1.5, 1.0, 0.5, 0.25),
    "kelly_min": 0.05,
    "kelly_max": 0.75,
    "gamma_regime_mult": (0.75, 1.0, 1.5, 2.5),
    "alpha_touch": 0.25,
    "delta_char_bps": 15.0,
    "tau_min": 10.0,
    "tau_max": 600.0,
    "max_order_notional": 2000.0,
    "toxicity_widen": 1.0,
    "toxicity_pull": 0.6,
    "inventory_steps": 10.0,
    "maker_fee_bps": 1.5,
}


def _bad(str owner, fields, int idx, value):
    name, rule = fields[idx - 1]
    return LadderInputError(f"{owner}.{name} must be {rule}, got {value!r}")


def _num(str owner, str name, v):
    if isinstance(v, (bool, str)) or v is None:
        raise LadderInputError(f"{owner}.{name} must be a number, got {v!r}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise LadderInputError(f"{owner}.{name} must be a number, got {v!r}") from None


def _int(str owner, str name, v):
    x = _num(owner, name, v)
    if not (x == x and abs(x) < 1e9 and x == int(x)):
        raise LadderInputError(f"{owner}.{name} must be an integer, got {v!r}")
    return int(x)


def _regime(v):
    if isinstance(v, str):
        key = v.strip().lower()
        if key in REGIMES:
            return REGIMES.index(key)
        raise LadderInputError(f"MarketParams.regime must be one of {', '.join(REGIMES)} or 0..3, got {v!r}")
    return _int("MarketParams", "regime", v)


def _four(str name, v):
    """A per-regime multiplier: four numbers, or a mapping {low, normal, high, extreme}."""
    if isinstance(v, dict):
        unknown = sorted(set(v) - set(REGIMES))
        if unknown or len(v) != 4:
            raise LadderInputError(f"LadderConfig.{name} needs exactly the keys {', '.join(REGIMES)}, got {sorted(v)!r}")
        v = [v[k] for k in REGIMES]
    try:
        items = list(v)
    except TypeError:
        raise LadderInputError(f"LadderConfig.{name} must be four numbers (low, normal, high, extreme), got {v!r}") from None
    if len(items) != 4:
        raise LadderInputError(f"LadderConfig.{name} must be four numbers (low, normal, high, extreme), got {v!r}")
    return tuple(_num("LadderConfig", name, x) for x in items)


def _split_fields(str owner, dict given, required, defaults, known):
    unknown = sorted(k for k in given if k not in known)
    if unknown:
        raise LadderInputError(f"{owner}: unknown field(s) {', '.join(map(str, unknown))}; known: {', '.join(known)}")
    missing = [k for k in required if k not in given]
    if missing:
        raise LadderInputError(f"{owner}: missing required field(s) {', '.join(missing)}")
    merged = dict(defaults)
    merged.update(given)
    return merged


def _rebuild(cls, d):
    return cls(**d)


cdef class _FrozenFields:
    """What MarketParams and LadderConfig share: a frozen snapshot of keyword fields whose
    to_dict() (defined by each) drives equality, hashing, pickling, repr, replace() and
    attribute access by field name."""

    @classmethod
    def from_dict(cls, mapping):
        """Build from a mapping of the keyword fields (unknown keys are an error; fields with a
        default may be left out)."""
        return cls(**dict(mapping))

    def replace(self, **changes):
        """A copy with some fields changed (the snapshot itself is frozen)."""
        d = (<object>self).to_dict()
        d.update(changes)
        return type(self)(**d)

    def __getattr__(self, name):
        d = (<object>self).to_dict()
        if name in d:
            return d[name]
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def __eq__(self, other):
        return isinstance(other, type(self)) and (<object>self).to_dict() == other.to_dict()

    def __hash__(self):
        return hash(tuple((<object>self).to_dict().items()))

    def __reduce__(self):
        return (_rebuild, (type(self), (<object>self).to_dict()))

    def __repr__(self):
        return (f"{type(self).__name__}("
                + ", ".join(f"{k}={v!r}" for k, v in (<object>self).to_dict().items()) + ")")


cdef class MarketParams(_FrozenFields):
    """Frozen snapshot of everything the ladder needs from the market and the account.

    Keyword fields (units in the module doc): mid, microprice (default mid), sigma, kappa, A,
    gamma, regime (0..3 or "low"/"normal"/"high"/"extreme", default normal), tod_gamma_mult (1),
    tox_bid, tox_ask (0), position (0), max_position, inflight_bid, inflight_ask (0),
    available_margin (the exchange's figure, as is), allowed_leverage (tier leverage at the
    notional, not the current leverage), market_spread_bps (0 = unknown), as_bps, sz_decimals,
    px_decimals (default 6 - sz_decimals, perps), min_notional (10).
    """

    def __init__(self, **fields):
        d = _split_fields("MarketParams", fields, _PARAM_REQUIRED, _PARAM_DEFAULTS,
                          tuple(f for f, _ in PARAM_FIELDS))
        o = "MarketParams"
        self.c.mid = _num(o, "mid", d["mid"])
        self.c.microprice = self.c.mid if d["microprice"] is None else _num(o, "microprice", d["microprice"])
        self.c.sigma = _num(o, "sigma", d["sigma"])
        self.c.kappa = _num(o, "kappa", d["kappa"])
        self.c.A = _num(o, "A", d["A"])
        self.c.gamma = _num(o, "gamma", d["gamma"])
        self.c.regime = _regime(d["regime"])
        self.c.tod_gamma_mult = _num(o, "tod_gamma_mult", d["tod_gamma_mult"])
        self.c.tox_bid = _num(o, "tox_bid", d["tox_bid"])
        self.c.tox_ask = _num(o, "tox_ask", d["tox_ask"])
        self.c.position = _num(o, "position", d["position"])
        self.c.max_position = _num(o, "max_position", d["max_position"])
        self.c.inflight_bid = _num(o, "inflight_bid", d["inflight_bid"])
        self.c.inflight_ask = _num(o, "inflight_ask", d["inflight_ask"])
        self.c.available_margin = _num(o, "available_margin", d["available_margin"])
        self.c.allowed_leverage = _num(o, "allowed_leverage", d["allowed_leverage"])
        self.c.market_spread_bps = _num(o, "market_spread_bps", d["market_spread_bps"])
        self.c.as_bps = _num(o, "as_bps", d["as_bps"])
        self.c.sz_decimals = _int(o, "sz_decimals", d["sz_decimals"])
        if d["px_decimals"] is None:
            self.c.px_decimals = _PERP_MAX_DECIMALS - self.c.sz_decimals
        else:
            self.c.px_decimals = _int(o, "px_decimals", d["px_decimals"])
        self.c.min_notional = _num(o, "min_notional", d["min_notional"])
        bad = market_params_check(&self.c)
        if bad:
            raise _bad(o, PARAM_FIELDS, bad, self.to_dict()[PARAM_FIELDS[bad - 1][0]])

    def to_dict(self) -> dict:
        """All fields, defaults resolved (regime as its number)."""
        c = self.c
        return {
            "mid": c.mid, "microprice": c.microprice, "sigma": c.sigma, "kappa": c.kappa, "A": c.A,
            "gamma": c.gamma, "regime": c.regime, "tod_gamma_mult": c.tod_gamma_mult,
            "tox_bid": c.tox_bid, "tox_ask": c.tox_ask, "position": c.position,
            "max_position": c.max_position, "inflight_bid": c.inflight_bid,
            "inflight_ask": c.inflight_ask, "available_margin": c.available_margin,
            "allowed_leverage": c.allowed_leverage, "market_spread_bps": c.market_spread_bps,
            "as_bps": c.as_bps, "sz_decimals": c.sz_decimals, "px_decimals": c.px_decimals,
            "min_notional": c.min_notional,
        }


cdef class LadderConfig(_FrozenFields):
    """Frozen ladder configuration; every field has a default (CONFIG_DEFAULTS).

    levels_per_side, level_spacing_bps, spread_floor_bps (per side, default 8),
    market_spread_cap_multiple (0 = off), kelly_fraction, kelly_regime_mult (low, normal, high,
    extreme = 1.5, 1, 0.5, 0.25), kelly_min/kelly_max (0.05/0.75), gamma_regime_mult,
    alpha_touch, delta_char_bps, tau_min/tau_max (s), max_order_notional (USD, 0 = off),
    toxicity_widen, toxicity_pull, inventory_steps, maker_fee_bps.
    """

    def __init__(self, **fields):
        d = _split_fields("LadderConfig", fields, (), CONFIG_DEFAULTS, tuple(f for f, _ in CONFIG_FIELDS))
        o = "LadderConfig"
        cdef int r
        self.c.levels_per_side = _int(o, "levels_per_side", d["levels_per_side"])
        self.c.level_spacing_bps = _num(o, "level_spacing_bps", d["level_spacing_bps"])
        self.c.spread_floor_bps = _num(o, "spread_floor_bps", d["spread_floor_bps"])
        self.c.market_spread_cap_multiple = _num(o, "market_spread_cap_multiple", d["market_spread_cap_multiple"])
        self.c.kelly_fraction = _num(o, "kelly_fraction", d["kelly_fraction"])
        km = _four("kelly_regime_mult", d["kelly_regime_mult"])
        gm = _four("gamma_regime_mult", d["gamma_regime_mult"])
        for r in range(4):
            self.c.kelly_regime_mult[r] = km[r]
            self.c.gamma_regime_mult[r] = gm[r]
        self.c.kelly_min = _num(o, "kelly_min", d["kelly_min"])
        self.c.kelly_max = _num(o, "kelly_max", d["kelly_max"])
        self.c.alpha_touch = _num(o, "alpha_touch", d["alpha_touch"])
        self.c.delta_char_bps = _num(o, "delta_char_bps", d["delta_char_bps"])
        self.c.tau_min = _num(o, "tau_min", d["tau_min"])
        self.c.tau_max = _num(o, "tau_max", d["tau_max"])
        self.c.max_order_notional = _num(o, "max_order_notional", d["max_order_notional"])
        self.c.toxicity_widen = _num(o, "toxicity_widen", d["toxicity_widen"])
        self.c.toxicity_pull = _num(o, "toxicity_pull", d["toxicity_pull"])
        self.c.inventory_steps = _num(o, "inventory_steps", d["inventory_steps"])
        self.c.maker_fee_bps = _num(o, "maker_fee_bps", d["maker_fee_bps"])
        bad = ladder_config_check(&self.c)
        if bad:
            raise _bad(o, CONFIG_FIELDS, bad, self.to_dict()[CONFIG_FIELDS[bad - 1][0]])

    def to_dict(self) -> dict:
        c = self.c
        return {
            "levels_per_side": c.levels_per_side, "level_spacing_bps": c.level_spacing_bps,
            "spread_floor_bps": c.spread_floor_bps,
            "market_spread_cap_multiple": c.market_spread_cap_multiple,
            "kelly_fraction": c.kelly_fraction,
            "kelly_regime_mult": tuple(c.kelly_regime_mult[r] for r in range(4)),
            "kelly_min": c.kelly_min, "kelly_max": c.kelly_max,
            "gamma_regime_mult": tuple(c.gamma_regime_mult[r] for r in range(4)),
            "alpha_touch": c.alpha_touch, "delta_char_bps": c.delta_char_bps,
            "tau_min": c.tau_min, "tau_max": c.tau_max,
            "max_order_notional": c.max_order_notional, "toxicity_widen": c.toxicity_widen,
            "toxicity_pull": c.toxicity_pull, "inventory_steps": c.inventory_steps,
            "maker_fee_bps": c.maker_fee_bps,
        }


cdef object _f64(const double* a, int n):
    out = np.empty(n, dtype=np.float64)
    cdef double[::1] v = out
    cdef int i
    for i in range(n):
        v[i] = a[i]
    return out


cdef object _i64(const int64_t* a, int n):
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] v = out
    cdef int i
    for i in range(n):
        v[i] = a[i]
    return out


cdef class LadderSide:
    """One side of a Ladder: per-level numpy arrays (copies) and the side's totals."""

    def __cinit__(self, Ladder ladder not None, int side):
        if side != SIDE_BID and side != SIDE_ASK:
            raise ValueError("side must be 0 (bid) or 1 (ask)")
        self.ladder = ladder
        self.side = side

    cdef ladder_side_t* _s(self):
        return &self.ladder.c.side[self.side]

    @property
    def name(self) -> str:
        return SIDES[self.side]

    @property
    def n(self) -> int:
        """Configured levels (quoted or not)."""
        return self._s().n

    @property
    def n_quoted(self) -> int:
        return self._s().n_quoted

    @property
    def pulled(self) -> bool:
        return bool(self._s().pulled)

    @property
    def binding(self) -> int:
        return self._s().binding

    @property
    def binding_reason(self) -> str:
        return REASONS[self._s().binding]

    @property
    def touch_depth_bps(self) -> float:
        return self._s().touch_depth_bps

    @property
    def bankroll_usd(self) -> float:
        return self._s().bankroll_usd

    @property
    def kelly_target_usd(self) -> float:
        return self._s().kelly_target_usd

    @property
    def position_room(self) -> float:
        return self._s().position_room

    @property
    def notional_usd(self) -> float:
        return self._s().notional_usd

    @property
    def size_total(self) -> float:
        return self._s().size_total

    @property
    def margin_used(self) -> float:
        return self._s().margin_used

    @property
    def target_depth_bps(self):
        return _f64(self._s().target_depth_bps, self._s().n)

    @property
    def depth_bps(self):
        return _f64(self._s().depth_bps, self._s().n)

    @property
    def p_fill(self):
        return _f64(self._s().p_fill, self._s().n)

    @property
    def alpha(self):
        return _f64(self._s().alpha, self._s().n)

    @property
    def edge_bps(self):
        return _f64(self._s().edge_bps, self._s().n)

    @property
    def kelly_f(self):
        return _f64(self._s().kelly_f, self._s().n)

    @property
    def weight(self):
        return _f64(self._s().weight, self._s().n)

    @property
    def target_notional(self):
        return _f64(self._s().target_notional, self._s().n)

    @property
    def px_units(self):
        return _i64(self._s().px_units, self._s().n)

    @property
    def sz_lots(self):
        return _i64(self._s().sz_lots, self._s().n)

    @property
    def code(self):
        cdef ladder_side_t* s = self._s()
        return np.array([s.code[i] for i in range(s.n)], dtype=np.int32)

    @property
    def reasons(self) -> list:
        cdef ladder_side_t* s = self._s()
        return [REASONS[s.code[i]] for i in range(s.n)]

    @property
    def quoted(self):
        """Boolean mask of the levels that carry an order."""
        return self.sz_lots > 0

    @property
    def prices(self):
        """Rounded prices as floats (0 where no valid price)."""
        return self.px_units / float(10 ** self.ladder.c.px_decimals)

    @property
    def sizes(self):
        return self.sz_lots / float(10 ** self.ladder.c.sz_decimals)

    def levels(self) -> list:
        """One dict per configured level, quoted or not, with its reason code."""
        cdef ladder_side_t* s = self._s()
        cdef int i
        pxd, szd = self.ladder.c.px_decimals, self.ladder.c.sz_decimals
        rows = []
        for i in range(s.n):
            px = units_to_price(s.px_units[i], pxd) if s.px_units[i] > 0 else None
            sz = lots_to_size(s.sz_lots[i], szd)
            rows.append({
                "side": SIDES[self.side], "level": i, "quoted": s.sz_lots[i] > 0,
                "reason": REASONS[s.code[i]], "code": s.code[i],
                "price": px, "size": sz, "notional": (px or 0.0) * sz,
                "px_units": s.px_units[i], "sz_lots": s.sz_lots[i],
                "target_depth_bps": s.target_depth_bps[i], "depth_bps": s.depth_bps[i],
                "p_fill": s.p_fill[i], "alpha": s.alpha[i], "edge_bps": s.edge_bps[i],
                "kelly_f": s.kelly_f[i], "weight": s.weight[i],
                "target_notional": s.target_notional[i],
            })
        return rows

    def summary(self) -> dict:
        return {
            "side": self.name, "levels": self.n, "quoted": self.n_quoted, "pulled": self.pulled,
            "binding": self.binding_reason, "touch_depth_bps": self.touch_depth_bps,
            "bankroll_usd": self.bankroll_usd, "kelly_target_usd": self.kelly_target_usd,
            "position_room": self.position_room, "notional_usd": self.notional_usd,
            "size_total": self.size_total, "margin_used": self.margin_used,
        }

    def __repr__(self):
        return (f"LadderSide({self.name}, quoted={self.n_quoted}/{self.n}, binding={self.binding_reason}, "
                f"notional_usd={self.notional_usd:.2f})")


cdef class Ladder:
    """A computed ladder: GLFT quantities, the Kelly fraction, and per-side levels (bids, asks)."""

    def __cinit__(self):
        self.c.status = -1

    @property
    def status(self) -> str:
        """'ok', 'invalid_input' (nothing is quoted) or 'empty' (never computed)."""
        return _STATUS[self.c.status]

    @property
    def invalid_field(self):
        """Name of the field that failed validation, or None."""
        f = self.c.invalid_field
        if f <= 0:
            return None
        return CONFIG_FIELDS[f - 101][0] if f > 100 else PARAM_FIELDS[f - 1][0]

    @property
    def bids(self) -> LadderSide:
        return LadderSide(self, SIDE_BID)

    @property
    def asks(self) -> LadderSide:
        return LadderSide(self, SIDE_ASK)

    def side(self, s) -> LadderSide:
        """0/'bid' or 1/'ask'."""
        if isinstance(s, str):
            s = SIDES.index(s)
        return LadderSide(self, s)

    @property
    def fair(self) -> float: return self.c.fair
    @property
    def mid(self) -> float: return self.c.mid
    @property
    def sigma_bps(self) -> float: return self.c.sigma_bps
    @property
    def tau(self) -> float: return self.c.tau
    @property
    def gamma_eff(self) -> float: return self.c.gamma_eff
    @property
    def c1_bps(self) -> float: return self.c.c1_bps
    @property
    def c2(self) -> float: return self.c.c2
    @property
    def half_spread_bps(self) -> float: return self.c.half_spread_bps
    @property
    def quoted_half_spread_bps(self) -> float: return self.c.quoted_half_spread_bps
    @property
    def q(self) -> float: return self.c.q
    @property
    def skew_bps(self) -> float: return self.c.skew_bps
    @property
    def kelly_fraction(self) -> float: return self.c.kelly_fraction
    @property
    def px_decimals(self) -> int: return self.c.px_decimals
    @property
    def sz_decimals(self) -> int: return self.c.sz_decimals

    @property
    def margin_used(self) -> float:
        return self.c.side[0].margin_used + self.c.side[1].margin_used

    def levels(self) -> list:
        """Every configured level of both sides (bids first), quoted or not."""
        return self.bids.levels() + self.asks.levels()

    def dropped(self) -> list:
        """The configured levels that carry no order, each with its reason."""
        return [row for row in self.levels() if not row["quoted"]]

    def to_dict(self) -> dict:
        return {
            "status": self.status, "fair": self.fair, "mid": self.mid, "sigma_bps": self.sigma_bps,
            "tau": self.tau, "gamma_eff": self.gamma_eff, "c1_bps": self.c1_bps, "c2": self.c2,
            "half_spread_bps": self.half_spread_bps,
            "quoted_half_spread_bps": self.quoted_half_spread_bps, "q": self.q,
            "skew_bps": self.skew_bps, "kelly_fraction": self.kelly_fraction,
            "margin_used": self.margin_used,
            "bids": {**self.bids.summary(), "levels": self.bids.levels()},
            "asks": {**self.asks.summary(), "levels": self.asks.levels()},
        }

    def __repr__(self):
        if self.c.status != 0:
            return f"Ladder(status={self.status})"
        return (f"Ladder(half_spread_bps={self.half_spread_bps:.3f}, skew_bps={self.skew_bps:.3f}, "
                f"bids={self.c.side[0].n_quoted}/{self.c.side[0].n}, asks={self.c.side[1].n_quoted}/{self.c.side[1].n})")


def compute_ladder(params, config=None, Ladder out=None) -> Ladder:
    """The ladder for a snapshot. `params`: MarketParams or a mapping of its fields; `config`:
    LadderConfig, a mapping (missing fields default) or None (defaults). Pass `out` to reuse a
    Ladder. Raises LadderInputError (a ValueError) naming the bad field."""
    cdef MarketParams mp = params if isinstance(params, MarketParams) else MarketParams.from_dict(params)
    cdef LadderConfig cfg
    if config is None:
        cfg = _DEFAULT_CONFIG
    elif isinstance(config, LadderConfig):
        cfg = config
    else:
        cfg = LadderConfig.from_dict(config)
    if out is None:
        out = Ladder()
    ladder_compute(&mp.c, &cfg.c, &out.c)
    return out


cdef LadderConfig _DEFAULT_CONFIG = LadderConfig()
