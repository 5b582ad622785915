"""The session summary ``hlmm trade`` prints at exit (a table, or one JSON document with ``--json``).

Built from the engine's last :class:`~hlmm.engine.status.EngineStatus` plus session totals
(orders sent, syncs, reconnects, how the session ended). It is also logged as
``session_summary`` events: one per coin and one for the whole session (no ``coin``), which
``hlmm audit`` reads.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from hlmm.engine.status import AssetStatus, EngineStatus, PnL, fmt_duration, fmt_size, fmt_usd
from hlmm.log import get_logger

log = get_logger("engine")


@dataclass
class OrderCounts:
    """Order actions of one coin over the session."""

    placed: int = 0
    modified: int = 0
    cancelled: int = 0
    rejected: int = 0
    filled: int = 0


@dataclass
class SessionSummary:
    """Everything the user gets told at exit."""

    venue: str
    account: str
    started_at: str                 # ISO 8601 UTC
    ended_at: str
    duration_s: float
    stop_reason: str                # duration | SIGINT | SIGTERM | kill_switch | error | embedder
    exit_code: int
    kill_switch: str | None
    assets: list[AssetStatus]
    orders: dict[str, OrderCounts]
    open_orders_at_exit: int
    cancel_all_confirmed: bool
    safety_syncs: int = 0
    position_mismatches: int = 0
    reconnects: int = 0
    resyncs: int = 0
    untracked_fills: int = 0
    duplicate_fills: int = 0
    loop_errors: int = 0
    account_value_start: float = math.nan
    account_value_end: float = math.nan
    rate_headroom: float = math.nan
    address_requests_used: int = 0
    model_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    params_file: str | None = None  # learned parameters written at exit

    # ------------------------------------------------------------------ totals
    @property
    def pnl(self) -> PnL:
        total = PnL()
        for a in self.assets:
            for k in ("realized", "unrealized", "fees", "funding", "spread_capture", "adverse_selection"):
                setattr(total, k, getattr(total, k) + getattr(a.pnl, k))
        return total

    @property
    def fills(self) -> int:
        return sum(a.fills for a in self.assets)

    @property
    def volume_usd(self) -> float:
        return sum(a.volume_usd for a in self.assets)

    @property
    def account_change(self) -> float:
        return self.account_value_end - self.account_value_start

    @classmethod
    def build(cls, status: EngineStatus, **kw: Any) -> "SessionSummary":
        """A summary from the final status snapshot (``kw``: the session fields)."""
        return cls(venue=status.venue, account=status.account, assets=status.assets,
                   kill_switch=status.kill_switch, reconnects=status.reconnects, loop_errors=status.loop_errors,
                   rate_headroom=status.rate_headroom, address_requests_used=status.address_requests_used,
                   model_scores=status.model_scores, **kw)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["assets"] = [a.to_dict() for a in self.assets]
        out["orders"] = {c: asdict(o) for c, o in self.orders.items()}
        out["pnl"] = self.pnl.to_dict()
        out["fills"] = self.fills
        out["volume_usd"] = self.volume_usd
        out["account_change_usd"] = self.account_change
        return out

    # ------------------------------------------------------------------ output
    def render(self) -> str:
        """The human table."""
        pnl = self.pnl
        lines = [
            f"hlmm trade session summary ({self.venue}, account {self.account})",
            f"  {self.started_at} -> {self.ended_at}  ({fmt_duration(self.duration_s)}), "
            f"stopped by {self.stop_reason}, exit code {self.exit_code}",
        ]
        if self.kill_switch:
            lines.append(f"  KILL SWITCH fired: {self.kill_switch}")
        head = ("COIN", "FILLS B/A", "VOLUME", "POSITION", "NOTIONAL", "PNL", "REALIZED", "UNREALIZED", "FEES",
                "FUNDING", "SPREAD_CAP", "ADV_SEL", "INVENTORY", "PLACED", "MODIFIED", "CANCELLED", "REJECTED")
        rows = [head]
        for a in self.assets:
            o = self.orders.get(a.coin, OrderCounts())
            rows.append((a.coin, f"{a.fills_bid}/{a.fills_ask}", f"{a.volume_usd:.2f}", fmt_size(a.position),
                         f"{a.notional_usd:.2f}", fmt_usd(a.pnl.total), fmt_usd(a.pnl.realized),
                         fmt_usd(a.pnl.unrealized), fmt_usd(-a.pnl.fees), fmt_usd(a.pnl.funding),
                         fmt_usd(a.pnl.spread_capture), fmt_usd(-a.pnl.adverse_selection),
                         fmt_usd(a.pnl.inventory), str(o.placed), str(o.modified), str(o.cancelled),
                         str(o.rejected)))
        if len(self.assets) > 1:
            tot = OrderCounts(*(sum(getattr(o, k) for o in self.orders.values())
                                for k in ("placed", "modified", "cancelled", "rejected", "filled")))
            rows.append(("total", str(self.fills), f"{self.volume_usd:.2f}", "",
                         f"{sum(a.notional_usd for a in self.assets):.2f}", fmt_usd(pnl.total),
                         fmt_usd(pnl.realized), fmt_usd(pnl.unrealized), fmt_usd(-pnl.fees), fmt_usd(pnl.funding),
                         fmt_usd(pnl.spread_capture), fmt_usd(-pnl.adverse_selection), fmt_usd(pnl.inventory),
                         str(tot.placed), str(tot.modified), str(tot.cancelled), str(tot.rejected)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                          for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        for a in self.assets:
            if a.markouts_bps:
                marks = " ".join(f"{h}={v:+.2f}" for h, v in a.markouts_bps.items() if math.isfinite(v))
                lines.append(f"  {a.coin} adverse selection after fills (bps): {marks or '-'}")
        if math.isfinite(self.account_value_start):
            lines.append(f"  account value {self.account_value_start:,.2f} -> {self.account_value_end:,.2f} USD "
                         f"({fmt_usd(self.account_change)} on the exchange)")
        lines.append(f"  open orders at exit: {self.open_orders_at_exit} "
                     f"({'all cancels confirmed' if self.cancel_all_confirmed else 'CANCELS NOT CONFIRMED'})")
        lines.append(f"  safety syncs {self.safety_syncs}, position mismatches {self.position_mismatches}, "
                     f"reconnects {self.reconnects} (resyncs {self.resyncs}), untracked fills "
                     f"{self.untracked_fills}, duplicate fills ignored {self.duplicate_fills}, "
                     f"loop errors {self.loop_errors}")
        if math.isfinite(self.rate_headroom):
            lines.append(f"  rate budget: {self.address_requests_used} address requests used, headroom "
                         f"{self.rate_headroom * 100:.1f}%")
        for model, sc in sorted(self.model_scores.items()):
            bits = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in sc.items())
            lines.append(f"  model {model}: {bits}")
        if self.params_file:
            lines.append(f"  learned parameters written to {self.params_file}")
        return "\n".join(lines)

    def log(self) -> None:
        """Emit the ``session_summary`` events (one per coin, then the session's)."""
        for a in self.assets:
            log.info("session_summary", coin=a.coin, duration_s=round(self.duration_s, 3), fills=a.fills,
                     volume_usd=a.volume_usd, realized_pnl_usd=a.pnl.realized, unrealized_pnl_usd=a.pnl.unrealized,
                     fees_usd=a.pnl.fees, spread_capture_usd=a.pnl.spread_capture,
                     adverse_selection_usd=a.pnl.adverse_selection, funding_usd=a.pnl.funding,
                     position=a.position, notional_usd=a.notional_usd,
                     kill_switch_fired=self.kill_switch is not None, exit_code=self.exit_code)
        pnl = self.pnl
        log.info("session_summary", duration_s=round(self.duration_s, 3), fills=self.fills,
                 volume_usd=self.volume_usd, realized_pnl_usd=pnl.realized, unrealized_pnl_usd=pnl.unrealized,
                 fees_usd=pnl.fees, spread_capture_usd=pnl.spread_capture,
                 adverse_selection_usd=pnl.adverse_selection, funding_usd=pnl.funding,
                 notional_usd=sum(a.notional_usd for a in self.assets),
                 kill_switch_fired=self.kill_switch is not None, exit_code=self.exit_code)

