# cython: language_level=3
"""The ladder optimizer's C kernel: from a market snapshot (market_params_t) and a configuration
(ladder_config_t) to a two-sided ladder of orders (ladder_t); nogil, no allocation, no Python
objects. The Python face (MarketParams, LadderConfig, Ladder, compute_ladder) is ``ladder``.

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
ask above it even when the microprice sits away from the mid. Both sides run one code path with
sign = -1 (bids) / +1 (asks): depth d sits at fair * (1 + sign d / 1e4), and the price rounds in
the sign's direction (down for bids, up for asks: passive).

Fill probability and edge at the rounded price's depth d (never the GLFT horizon)::

    tau   = clamp((delta_char / sigma_bps)^2, tau_min, tau_max)      seconds
    P_fp  = 2 Phi(-d / (sigma_bps sqrt(tau))) = erfc(d / (sigma_bps sqrt(2 tau)))
    P     = P_fp                                    (fill_probability_model FILL_FIRST_PASSAGE)
    P     = 1 - (1 - P_fp) exp(-A exp(-kappa d) tau)   (FILL_FIRST_PASSAGE_TAKERS)
    alpha = alpha_touch exp(-d / delta_char)
    SC    = d - maker_fee_bps;  AS = as_bps
    E     = (1 - alpha) SC - alpha AS;   Var = (SC + AS)^2 alpha (1 - alpha)
    f*    = 1e4 E / Var   (fraction of bankroll: returns in units of 1, not bps), 0 if E <= 0

FILL_FIRST_PASSAGE (the default) counts only the mid diffusing through the quote.
FILL_FIRST_PASSAGE_TAKERS adds takers reaching it as an independent Poisson arrival of
intensity lambda(d) = A exp(-kappa d) per second over the same tau: the level fills if either
happens. It is evaluated as P_fp + (1 - P_fp) q with q = -expm1(-A exp(-kappa d) tau): the same
number, but exact for tiny q and P_fp, never below P_fp and never above 1 in floating point.

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

Validation: market_params_check / ladder_config_check return 0 or the 1-based position of the
first unusable field in struct order (``ladder.PARAM_FIELDS`` / ``CONFIG_FIELDS`` name them);
ladder_compute then quotes nothing and sets status CODE_INVALID_INPUT.
"""
from libc.math cimport erfc, exp, expm1, log1p, sqrt, isfinite
from libc.stdint cimport int64_t

from hlmm._core.rounding cimport (
    pow10, price_to_units, units_to_price, size_to_lots, lots_to_size, notional_units_ok,
)

# Full-Kelly cap (fraction of bankroll) for a riskless edge, when alpha underflows to 0.
cdef double _KELLY_F_MAX = 1.0e6
KELLY_F_MAX = _KELLY_F_MAX


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
    if c.fill_probability_model < 0 or c.fill_probability_model >= FILL_MODEL_COUNT: return 19
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
    cdef bint takers = c.fill_probability_model == FILL_FIRST_PASSAGE_TAKERS
    cdef double a_tau = p.A * L.tau                    # expected taker arrivals at the touch within tau
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
        if takers:                                       # or a taker reaches the quote within tau
            pf = pf + (1.0 - pf) * -expm1(-a_tau * exp(-p.kappa * depth))
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
