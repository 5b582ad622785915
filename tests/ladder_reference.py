"""Pure-Python reference for the ladder optimizer (``hlmm._core.ladder``).

An independent second implementation of the same math, in plain floats and ``math.erfc``,
with its own tick/lot rounding written from the rules in TEAM.md (it does not import
``hlmm._core.rounding``). The Cython ladder must agree with it to 1e-9 on depths,
probabilities and edges, and exactly on rounded price units, size lots and reason codes.
It is also the same-run baseline of ``benchmarks/bench_ladder.py``.

Inputs are plain dicts with the field names of ``MarketParams`` / ``LadderConfig``; every
key must be present (use ``MarketParams(...).to_dict()`` to fill defaults).

Units: depths and spreads in bps of the fair price (the microprice); sigma per sqrt(second)
in log-return units (x1e4 gives bps); kappa per bps; A per second; gamma per bps per
inventory quantum (max_position / inventory_steps); sizes in coins; money in USD.
"""
from __future__ import annotations

import math

# Level codes (same numbers as hlmm._core.ladder; the test checks the names match).
NONE, MARGIN, POSITION, MAX_NOTIONAL, MIN_NOTIONAL = 0, 1, 2, 3, 4
TOXICITY_GATE, NEGATIVE_EDGE, ZERO_FILL_PROB, PRICE_COLLISION, INVALID_PRICE = 5, 6, 7, 8, 9
INVALID_INPUT = 10

KELLY_F_MAX = 1.0e6  # full-Kelly fraction cap (riskless edge when the informed share underflows)
_SNAP_REL = 2.5e-15  # the contract documented in hlmm._core.rounding (about 11 ulps)


# --- rounding, from the TEAM.md rules -------------------------------------------------

def _tick(units: int, px_decimals: int) -> int:
    """Valid-price spacing at `units`: 5 significant figures, but integer prices always valid."""
    k = len(str(units)) - 5
    return 10 ** max(0, min(k, px_decimals))


def _snap(x: float) -> float:
    """Absorb float representation error: x within 2.5e-15 (relative) of an integer is that integer."""
    n = round(x)
    return float(n) if abs(x - n) <= _SNAP_REL * abs(x) else x


def price_to_units(px: float, px_decimals: int, direction: int) -> int:
    """Float price -> valid integer price units, rounded down (-1) or up (+1); 0 = none."""
    if not px > 0.0:
        return 0
    x = px * float(10 ** px_decimals)
    if not x < 9.0e18:
        return 0
    x = _snap(x)
    if direction < 0:
        u = math.floor(x)
        if u < 1:
            return 0
        return u - u % _tick(u, px_decimals)
    u = math.ceil(x)
    r = u % _tick(u, px_decimals)
    return u if r == 0 else u - r + _tick(u, px_decimals)


def units_to_price(units: int, px_decimals: int) -> float:
    return units / float(10 ** px_decimals)


def size_to_lots_down(sz: float, sz_decimals: int) -> int:
    if not sz > 0.0:
        return 0
    x = sz * float(10 ** sz_decimals)
    if not x < 9.0e18:
        return 0
    return int(math.floor(_snap(x)))


def notional_ok(units: int, lots: int, px_decimals: int, sz_decimals: int, min_notional: float) -> bool:
    """price * size >= min_notional, decided in integers."""
    if units <= 0 or lots <= 0:
        return False
    scaled = math.ceil(_snap(min_notional * float(10 ** (px_decimals + sz_decimals))))
    return units * lots >= scaled


# --- the model -----------------------------------------------------------------------

def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def glft(p: dict, c: dict) -> dict:
    """GLFT coefficients in bps: c1 (xi = base gamma), c2 (effective gamma), half-spread, skew."""
    sigma_bps = p["sigma"] * 1e4
    gamma_eff = p["gamma"] * c["gamma_regime_mult"][p["regime"]] * p["tod_gamma_mult"]
    xi = p["gamma"]
    x = xi / p["kappa"]
    c1 = math.log1p(x) / xi
    c2 = math.sqrt(gamma_eff / (2.0 * p["A"] * p["kappa"]) * math.exp((1.0 / x + 1.0) * math.log1p(x)))
    half = c1 + 0.5 * sigma_bps * c2
    quoted = half
    if c["market_spread_cap_multiple"] > 0.0 and p["market_spread_bps"] > 0.0:
        cap = c["market_spread_cap_multiple"] * p["market_spread_bps"] * 0.5
        if cap < quoted:
            quoted = cap
    q = p["position"] * c["inventory_steps"] / p["max_position"]
    return {
        "sigma_bps": sigma_bps, "gamma_eff": gamma_eff, "c1_bps": c1, "c2": c2,
        "half_spread_bps": half, "quoted_half_spread_bps": quoted, "q": q,
        "skew_bps": q * sigma_bps * c2,
    }


def _water_fill(active, phi, price, target, room, cap, s_phi):
    """Split `target` USD over active levels in proportion to phi, under a coin budget `room`
    and a per-level USD cap; levels over the cap are pinned to it and the rest re-split."""
    free = list(active)
    pinned = []
    fixed_usd = 0.0
    fixed_coins = 0.0
    lam = 0.0
    bind = MARGIN if s_phi >= 1.0 else NONE
    while free:
        sp = 0.0
        spc = 0.0
        for i in free:
            sp += phi[i]
            spc += phi[i] / price[i]
        lam_t = (target - fixed_usd) / sp
        lam_r = (room - fixed_coins) / spc
        if lam_r < lam_t:
            lam, bind = lam_r, POSITION
        else:
            lam, bind = lam_t, (MARGIN if s_phi >= 1.0 else NONE)
        if lam < 0.0:
            lam = 0.0
        over = [i for i in free if cap > 0.0 and lam * phi[i] > cap]
        if not over:
            break
        for i in over:
            fixed_usd += cap
            fixed_coins += cap / price[i]
            pinned.append(i)
        free = [i for i in free if i not in over]
    alloc = {}
    codes = {}
    for i in free:
        alloc[i] = lam * phi[i]
        codes[i] = bind
    for i in pinned:
        alloc[i] = cap
        codes[i] = MAX_NOTIONAL
    return alloc, codes, (bind if free else MAX_NOTIONAL)


def fill_probability(depth: float, sd: float, p: dict, c: dict, tau: float) -> float:
    """P(fill within tau) at `depth` bps: the mid's first passage, erfc(d / (sigma_bps sqrt(2 tau)));
    with "first_passage_takers" also an independent taker arrival of intensity A exp(-kappa d)
    per second: 1 - (1 - P_fp) exp(-A exp(-kappa d) tau), evaluated as P_fp + (1 - P_fp) q,
    q = -expm1(-A exp(-kappa d) tau), which is exact where q and P_fp are tiny."""
    pf = math.erfc(depth / sd)
    if c["fill_probability_model"] == "first_passage_takers":
        q = -math.expm1(-p["A"] * tau * math.exp(-p["kappa"] * depth))
        pf = pf + (1.0 - pf) * q
    elif c["fill_probability_model"] != "first_passage":
        raise ValueError(f"unknown fill_probability_model {c['fill_probability_model']!r}")
    return pf


def _side(p: dict, c: dict, g: dict, kf: float, sd: float, tau: float, s: int) -> dict:
    """One ladder side: s = 0 bids (below fair), 1 asks (above fair)."""
    fair, mid = p["microprice"], p["mid"]
    pxd, szd = p["px_decimals"], p["sz_decimals"]
    n = c["levels_per_side"]
    tox = p["tox_bid"] if s == 0 else p["tox_ask"]
    pulled = tox > c["toxicity_pull"]
    widened = g["quoted_half_spread_bps"] * (1.0 + c["toxicity_widen"] * tox)
    floor_bps = c["spread_floor_bps"]
    ratio = mid / fair
    if s == 0:
        raw = widened + g["skew_bps"]
        mid_floor = floor_bps * ratio + 1e4 * (fair - mid) / fair
    else:
        raw = widened - g["skew_bps"]
        mid_floor = floor_bps * ratio + 1e4 * (mid - fair) / fair
    floor_eff = floor_bps if floor_bps > mid_floor else mid_floor
    d0 = raw if raw > floor_eff else floor_eff

    out = {k: [0.0] * n for k in ("target_depth_bps", "depth_bps", "p_fill", "alpha", "edge_bps",
                                  "kelly_f", "weight", "target_notional")}
    out["px_units"] = [0] * n
    out["sz_lots"] = [0] * n
    out["code"] = [-1] * n
    price = [0.0] * n
    prev = 0
    for i in range(n):
        td = d0 + i * c["level_spacing_bps"]
        out["target_depth_bps"][i] = td
        code = -1
        if s == 0:
            target = fair * (1.0 - td * 1e-4)
            u = price_to_units(target, pxd, -1) if target > 0.0 else 0
        else:
            target = fair * (1.0 + td * 1e-4)
            u = price_to_units(target, pxd, +1)
        depth = td
        if u <= 0:
            code = INVALID_PRICE
        else:
            pr = units_to_price(u, pxd)
            if (s == 0 and not pr < mid) or (s == 1 and not pr > mid):
                code = INVALID_PRICE
            else:
                out["px_units"][i] = u
                price[i] = pr
                depth = (fair - pr) / fair * 1e4 if s == 0 else (pr - fair) / fair * 1e4
                if prev != 0 and ((s == 0 and u >= prev) or (s == 1 and u <= prev)):
                    code = PRICE_COLLISION
                else:
                    prev = u
        out["depth_bps"][i] = depth
        pf = fill_probability(depth, sd, p, c, tau)
        al = c["alpha_touch"] * math.exp(-depth / c["delta_char_bps"])
        sc = depth - c["maker_fee_bps"]
        edge = (1.0 - al) * sc - al * p["as_bps"]
        var = (sc + p["as_bps"]) * (sc + p["as_bps"]) * al * (1.0 - al)
        f = 0.0
        if edge > 0.0:
            f = 1e4 * edge / var if var > 0.0 else KELLY_F_MAX
            if f > KELLY_F_MAX:
                f = KELLY_F_MAX
        out["p_fill"][i] = pf
        out["alpha"][i] = al
        out["edge_bps"][i] = edge
        out["kelly_f"][i] = f
        out["weight"][i] = pf * f
        if pulled:
            code = TOXICITY_GATE
        elif code < 0:
            if not edge > 0.0:
                code = NEGATIVE_EDGE
            elif not pf * f > 0.0:
                code = ZERO_FILL_PROB
        out["code"][i] = code

    active = [i for i in range(n) if out["code"][i] < 0]
    if s == 0:
        reduce_coins = max(0.0, -p["position"] - p["inflight_bid"])
    else:
        reduce_coins = max(0.0, p["position"] - p["inflight_ask"])
    p_min = min((price[i] for i in active), default=0.0)
    bankroll = p["available_margin"] * p["allowed_leverage"] * 0.5 + reduce_coins * p_min
    if s == 0:
        room = p["max_position"] - p["position"] - p["inflight_bid"]
    else:
        room = p["max_position"] + p["position"] - p["inflight_ask"]
    if room < 0.0:
        room = 0.0
    lot = 1.0 / float(10 ** szd)
    target_total = 0.0
    binding = NONE
    if pulled:
        binding = TOXICITY_GATE
    elif not active:
        binding = NONE
    elif not kf * bankroll > 0.0:
        binding = MARGIN
        for i in active:
            out["code"][i] = MARGIN
        active = []
    elif not room > 0.0:
        binding = POSITION
        for i in active:
            out["code"][i] = POSITION
        active = []
    alloc = {}
    codes = {}
    while active:
        s_phi = 0.0
        for i in active:
            s_phi += out["weight"][i]
        target_total = kf * bankroll * (s_phi if s_phi < 1.0 else 1.0)
        alloc, codes, binding = _water_fill(active, out["weight"], price, target_total, room,
                                            c["max_order_notional"], s_phi)
        worst = -1
        for i in active:
            if alloc[i] < p["min_notional"] + price[i] * lot and (worst < 0 or alloc[i] <= alloc[worst]):
                worst = i
        if worst < 0:
            break
        out["target_notional"][worst] = alloc[worst]
        out["code"][worst] = MIN_NOTIONAL
        active.remove(worst)
    notional = 0.0
    coins = 0.0
    reduce_left = reduce_coins
    opening = 0.0
    for i in active:
        out["target_notional"][i] = alloc[i]
        lots = size_to_lots_down(alloc[i] / price[i], szd)
        if lots <= 0 or not notional_ok(out["px_units"][i], lots, pxd, szd, p["min_notional"]):
            out["code"][i] = MIN_NOTIONAL
            continue
        out["sz_lots"][i] = lots
        out["code"][i] = codes[i]
        size = lots / float(10 ** szd)
        coins += size
        notional += size * price[i]
        red = size if size < reduce_left else reduce_left
        reduce_left -= red
        opening += (size - red) * price[i]
    return {
        **out,
        "pulled": pulled, "touch_depth_bps": d0, "bankroll_usd": bankroll, "kelly_target_usd": target_total,
        "position_room": room, "binding": binding, "notional_usd": notional, "size_total": coins,
        "margin_used": opening / p["allowed_leverage"],
        "n_quoted": sum(1 for x in out["sz_lots"] if x > 0),
    }


def compute_ladder_reference(p: dict, c: dict) -> dict:
    """The full ladder from a params dict and a config dict (see module doc)."""
    g = glft(p, c)
    kf = _clamp(c["kelly_fraction"] * c["kelly_regime_mult"][p["regime"]], c["kelly_min"], c["kelly_max"])
    r = c["delta_char_bps"] / g["sigma_bps"]
    tau = _clamp(r * r, c["tau_min"], c["tau_max"])
    sd = g["sigma_bps"] * math.sqrt(2.0 * tau)
    return {
        **g, "kelly_fraction": kf, "tau": tau,
        "bids": _side(p, c, g, kf, sd, tau, 0), "asks": _side(p, c, g, kf, sd, tau, 1),
    }
