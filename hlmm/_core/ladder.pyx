# cython: language_level=3
"""The ladder optimizer's Python face; the math and its C kernel are ``hlmm._core.ladder_kernel``.

``MarketParams`` and ``LadderConfig`` are frozen, validated copies of the kernel's two input
structs (keyword fields, units as documented in ladder_kernel; a bad value raises
``LadderInputError`` naming the field and what it must be). ``compute_ladder`` runs the kernel
into a ``Ladder``, whose ``bids`` / ``asks`` (``LadderSide``) give per-level numpy arrays, the
reason each level is or is not quoted, and the side's totals. Cython callers skip this layer:
they fill the structs and call ``ladder_compute`` (see ladder.pxd).
"""
from libc.stdint cimport int64_t

from hlmm._core.rounding cimport lots_to_size, units_to_price

import numpy as np

from hlmm._core.ladder_kernel import KELLY_F_MAX
from hlmm.errors import InputError

MAX_LEVELS = LADDER_MAX_LEVELS
REGIMES = ("low", "normal", "high", "extreme")
REASONS = ("none", "margin", "position", "max_notional", "min_notional", "toxicity_gate",
           "negative_edge", "zero_fill_prob", "price_collision", "invalid_price", "invalid_input")
CODES = {name: i for i, name in enumerate(REASONS)}
SIDES = ("bid", "ask")
# LadderConfig.fill_probability_model, by kernel enum value (FILL_FIRST_PASSAGE, FILL_FIRST_PASSAGE_TAKERS)
FILL_PROBABILITY_MODELS = ("first_passage", "first_passage_takers")
_STATUS = {0: "ok", CODE_INVALID_INPUT: "invalid_input", -1: "empty"}

# (field, what it must be), in struct order: the kernel's checks return the 1-based position
# here; config fields are reported as 100 + position.
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
    ("fill_probability_model", f"one of {', '.join(FILL_PROBABILITY_MODELS)}"),
)


class LadderInputError(InputError, ValueError):
    """A MarketParams / LadderConfig value is unusable; names the field and what it must be."""


# ---------------------------------------------------------------------------------------
# Frozen MarketParams / LadderConfig, the Ladder with numpy views, compute_ladder.

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
    "fill_probability_model": "first_passage",
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


def _fill_model(v):
    """A fill-probability model by name (FILL_PROBABILITY_MODELS) or by its kernel number
    (out-of-range numbers are left to ladder_config_check)."""
    if isinstance(v, str) and v.strip().lower() in FILL_PROBABILITY_MODELS:
        return FILL_PROBABILITY_MODELS.index(v.strip().lower())
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) < 1000:
        return v
    raise LadderInputError(f"LadderConfig.fill_probability_model must be one of "
                           f"{', '.join(FILL_PROBABILITY_MODELS)}, got {v!r}")


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

    Keyword fields (units in ladder_kernel's module doc): mid, microprice (default mid), sigma,
    kappa, A, gamma, regime (0..3 or "low"/"normal"/"high"/"extreme", default normal), tod_gamma_mult (1),
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
    toxicity_widen, toxicity_pull, inventory_steps, maker_fee_bps, fill_probability_model
    ("first_passage", the default: diffusion only; "first_passage_takers": or a taker arrives at
    A exp(-kappa d) per second; see ladder_kernel).
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
        self.c.fill_probability_model = _fill_model(d["fill_probability_model"])
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
            "fill_probability_model": (FILL_PROBABILITY_MODELS[c.fill_probability_model]
                                       if 0 <= c.fill_probability_model < FILL_MODEL_COUNT
                                       else c.fill_probability_model),
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
