"""The fill table every trade-file reader produces: one row per fill, as numpy columns.

Whatever the source (the web UI's CSV export, the API's ``userFills``, hlmm's own logs,
third-party re-exports), the analysis sees the same thing:

* ``time_ms``    UTC epoch milliseconds
* ``coin``       int codes into ``coins`` (API names: ``BTC``, ``xyz:NVDA``, ``HYPE/USDC``, ``@107``)
* ``side``       +1 buy, -1 sell, 0 unknown
* ``px, sz, ntl`` price, size and notional (``ntl`` = px * sz in USD)
* ``fee``        fee in USD (positive paid, negative rebate), converted from the base
                 token on spot buys
* ``pnl``        realized PnL **net of the fee** in USD.  The UI export's ``closedPnl`` is
                 already net; the API's is gross (the reader subtracts the fee).
* ``kind``, ``pos_side`` what the fill did to the position (see :data:`KIND_NAMES`), and
                 which position (+1 long, -1 short) it opened, closed or flipped from
* ``crossed``    1 taker, 0 maker, -1 not in the source (estimated later from fee rates)
* ``start_pos``  signed position before the fill (NaN when the source does not say)
* ``mid``        mid price when the fill happened (hlmm logs only; NaN otherwise)
* ``account``    int codes into ``accounts`` (multi-account re-exports; one "" otherwise)
* ``line``       where the row came from (file line, or 1-based index in a JSON list)
* ``flags``      :data:`FLAG_PRICE_IMPROVED`, :data:`FLAG_LIQUIDATION`, :data:`FLAG_SPOT`, :data:`FLAG_HIP3`
* ``decisive``   1 if the fill's PnL decides a win or a loss, 0 if not, -1 (default): the
                 closing fills (closes, flips, spot sells); the analysis sets it when it
                 attributes PnL to entries instead

Rows are sorted by time (stable, so same-millisecond fills keep their order in the file).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

KIND_OPEN, KIND_CLOSE, KIND_FLIP, KIND_SPOT_BUY, KIND_SPOT_SELL, KIND_OTHER = range(6)
KIND_NAMES = ("open", "close", "flip", "spot_buy", "spot_sell", "other")

FLAG_PRICE_IMPROVED = 1
FLAG_LIQUIDATION = 2
FLAG_SPOT = 4
FLAG_HIP3 = 8

# dirs that are not trades the strategy made: counted and left out of the analysis
NON_TRADE_DIRS = frozenset({
    "Settlement", "Spot Dust Conversion", "Net Child Vaults", "Backstop Borrow Liquidation",
    "Partial Borrow Liquidation", "Auto-Deleveraging",
})

_COLUMNS = ("time_ms", "coin", "side", "px", "sz", "ntl", "fee", "pnl", "kind", "pos_side", "crossed",
            "start_pos", "mid", "account", "line", "flags", "decisive")


@dataclass(frozen=True)
class DirInfo:
    """What one ``dir`` value means: kind, position side, trade side, flags."""

    kind: int
    pos_side: int  # +1 long / -1 short position concerned, 0 for spot and unknown
    side: int  # +1 buy / -1 sell / 0 unknown from the dir alone
    flags: int


_PRICE_IMPROVED = " (Price Improved)"


def parse_dir(text: str) -> DirInfo | None:
    """The meaning of a fill's ``dir`` (API vocabulary, also used by the UI export).

    ``None`` for a value outside the vocabulary (the caller reports it); a non-trade
    dir such as ``Settlement`` gives kind :data:`KIND_OTHER` with side 0.
    """
    flags = 0
    value = text.strip()
    if value.endswith(_PRICE_IMPROVED):
        flags |= FLAG_PRICE_IMPROVED
        value = value[: -len(_PRICE_IMPROVED)].strip()
    simple = {
        "Open Long": (KIND_OPEN, 1, 1),
        "Open Short": (KIND_OPEN, -1, -1),
        "Close Long": (KIND_CLOSE, 1, -1),
        "Close Short": (KIND_CLOSE, -1, 1),
        "Long > Short": (KIND_FLIP, 1, -1),
        "Short > Long": (KIND_FLIP, -1, 1),
        "Buy": (KIND_SPOT_BUY, 0, 1),
        "Sell": (KIND_SPOT_SELL, 0, -1),
    }
    if value in simple:
        kind, pos_side, side = simple[value]
        return DirInfo(kind, pos_side, side, flags)
    match = re.fullmatch(r"Liquidated (Cross|Isolated) (Long|Short)", value)
    if match:
        long = match.group(2) == "Long"
        return DirInfo(KIND_CLOSE, 1 if long else -1, -1 if long else 1, flags | FLAG_LIQUIDATION)
    if value in NON_TRADE_DIRS:
        return DirInfo(KIND_OTHER, 0, 0, flags | (FLAG_LIQUIDATION if "Liquidation" in value else 0))
    return None


_HIP3_DISPLAY = re.compile(r"^(?P<coin>[^()\s]+)\s*\((?P<dex>[A-Za-z0-9]+)\)$")


def canonical_coin(display: str) -> tuple[str, int]:
    """API coin name and flags for a coin as a source writes it.

    The UI shows HIP-3 builder-dex coins as ``NVDA (xyz)``; the API calls them
    ``xyz:NVDA``.  Spot pairs (``HYPE/USDC``, ``@107``) are flagged spot.
    """
    name = display.strip()
    match = _HIP3_DISPLAY.match(name)
    if match:
        return f"{match.group('dex')}:{match.group('coin')}", FLAG_HIP3
    if ":" in name:
        return name, FLAG_HIP3
    if "/" in name or name.startswith("@"):
        return name, FLAG_SPOT
    return name, 0


@dataclass
class FillTable:
    """Fills as numpy columns (see the module docstring for each column)."""

    time_ms: np.ndarray
    coin: np.ndarray
    side: np.ndarray
    px: np.ndarray
    sz: np.ndarray
    ntl: np.ndarray
    fee: np.ndarray
    pnl: np.ndarray
    kind: np.ndarray
    pos_side: np.ndarray
    crossed: np.ndarray
    start_pos: np.ndarray
    mid: np.ndarray
    account: np.ndarray
    line: np.ndarray
    flags: np.ndarray
    decisive: np.ndarray
    coins: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=lambda: [""])

    def __len__(self) -> int:
        return int(self.time_ms.shape[0])

    @classmethod
    def empty(cls) -> FillTable:
        return cls.from_columns({}, coins=[], accounts=[""])

    @classmethod
    def from_columns(cls, cols: dict[str, np.ndarray], *, coins: list[str], accounts: list[str]) -> FillTable:
        """A table from column arrays; missing optional columns get their "unknown" value."""
        n = len(cols["time_ms"]) if "time_ms" in cols else 0
        dtypes = {
            "time_ms": np.int64, "coin": np.int32, "side": np.int8, "px": np.float64, "sz": np.float64,
            "ntl": np.float64, "fee": np.float64, "pnl": np.float64, "kind": np.int8, "pos_side": np.int8,
            "crossed": np.int8, "start_pos": np.float64, "mid": np.float64, "account": np.int32,
            "line": np.int64, "flags": np.uint8, "decisive": np.int8,
        }
        defaults = {"crossed": -1, "start_pos": np.nan, "mid": np.nan, "account": 0, "flags": 0, "side": 0,
                    "pos_side": 0, "kind": KIND_OTHER, "decisive": -1}
        out = {}
        for name in _COLUMNS:
            if name in cols:
                out[name] = np.ascontiguousarray(cols[name], dtype=dtypes[name])
            else:
                out[name] = np.full(n, defaults.get(name, 0), dtype=dtypes[name])
        return cls(**out, coins=list(coins), accounts=list(accounts) or [""])

    def take(self, index: np.ndarray) -> FillTable:
        """The rows selected by ``index`` (a boolean mask or positions)."""
        return FillTable(**{name: getattr(self, name)[index] for name in _COLUMNS},
                         coins=self.coins, accounts=self.accounts)

    def sorted_by_time(self) -> FillTable:
        """Rows in time order; ties keep their order in the source (stable sort).

        A newest-first source (the API's userFills) is reversed first, so fills of the
        same millisecond end up in the order they happened.
        """
        diff = np.diff(self.time_ms)
        if np.count_nonzero(diff < 0) > np.count_nonzero(diff > 0):
            table = self.take(np.arange(len(self) - 1, -1, -1))
            order = np.argsort(table.time_ms, kind="stable")
            return table if np.all(order == np.arange(len(order))) else table.take(order)
        order = np.argsort(self.time_ms, kind="stable")
        if np.all(order == np.arange(len(order))):
            return self
        return self.take(order)

    @staticmethod
    def concat(tables: list[FillTable]) -> FillTable:
        """One table from several (coin and account codes re-mapped to a shared list)."""
        coins: list[str] = []
        accounts: list[str] = []
        coin_index: dict[str, int] = {}
        account_index: dict[str, int] = {}
        parts: dict[str, list[np.ndarray]] = {name: [] for name in _COLUMNS}
        for t in tables:
            cmap = np.array([coin_index.setdefault(c, len(coin_index)) for c in t.coins] or [0], dtype=np.int32)
            amap = np.array([account_index.setdefault(a, len(account_index)) for a in t.accounts] or [0],
                            dtype=np.int32)
            for name in _COLUMNS:
                col = getattr(t, name)
                if name == "coin" and len(t):
                    col = cmap[col]
                elif name == "account" and len(t):
                    col = amap[col]
                parts[name].append(col)
        coins = list(coin_index)
        accounts = list(account_index) or [""]
        merged = {name: np.concatenate(parts[name]) if parts[name] else np.empty(0) for name in _COLUMNS}
        return FillTable.from_columns(merged, coins=coins, accounts=accounts)

    # ------------------------------------------------------------------ derived columns

    @property
    def gross(self) -> np.ndarray:
        """Realized PnL before fees."""
        return self.pnl + self.fee

    @property
    def closing(self) -> np.ndarray:
        """True for fills that realize PnL: closes, flips and spot sells."""
        return (self.kind == KIND_CLOSE) | (self.kind == KIND_FLIP) | (self.kind == KIND_SPOT_SELL)

    @property
    def decides(self) -> np.ndarray:
        """Fills whose PnL counts as a win or a loss (see ``decisive``)."""
        return np.where(self.decisive < 0, self.closing, self.decisive > 0)

    def with_pnl(self, pnl: np.ndarray, decisive: np.ndarray) -> FillTable:
        """The same fills with PnL attributed differently (e.g. to the entries)."""
        cols = {name: getattr(self, name) for name in _COLUMNS}
        cols["pnl"] = np.asarray(pnl, dtype=np.float64)
        cols["decisive"] = np.asarray(decisive, dtype=np.int8)
        return FillTable(**cols, coins=self.coins, accounts=self.accounts)

    def coin_names(self, index: np.ndarray | None = None) -> list[str]:
        codes = self.coin if index is None else self.coin[index]
        return [self.coins[c] for c in codes]
