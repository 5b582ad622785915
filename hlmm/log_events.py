"""The documented list of log events: the contract between hlmm's logs and their readers.

Every JSON log line names one event from :data:`EVENTS`.  ``hlmm audit`` and the
calibration tools read these names and fields, so they are stable: rename one and you
break a reader.  ``hlmm config events`` prints this list.

An entry is ``name: (component, stream, description, fields)``:

* ``component`` — who normally emits it (a dotted prefix such as ``engine.orders``;
  ``*`` when any component may).  Informational: the logger does not enforce it.
* ``stream`` — ``ops`` (operational: what the bot did with the account: sessions,
  connections, orders, fills, positions, risk) or ``diag`` (diagnostic: model and
  loop internals).  ``logging.ops_file`` / ``logging.diag_file`` split on it.
* ``description`` — one line for the reader.
* ``fields`` — the field names the event may carry, space-separated.  In strict mode
  (tests) the logger rejects an event that is not listed here and a field that is
  not listed for its event (:data:`COMMON_FIELDS` are allowed everywhere).

Adding an event is a one-line edit of the table below.  Keep names snake_case.
"""
from __future__ import annotations

import re
from typing import NamedTuple

STREAMS = ("ops", "diag")

# Fields any event may carry without declaring them.
COMMON_FIELDS = frozenset({"coin", "session_id"})

# Keys every log line has; no event may use them as field names.
RESERVED_FIELDS = frozenset({"ts", "level", "component", "event"})


class EventSpec(NamedTuple):
    """What one log event means and which fields it carries."""

    component: str
    stream: str
    description: str
    fields: frozenset[str]


_TABLE: dict[str, tuple[str, str, str, str]] = {
    # --- session and configuration -------------------------------------------------
    "session_start": ("engine", "ops", "a trading session started", "version venue account vault coins config_file pid"),
    "session_summary": ("engine", "ops", "end-of-session totals and PnL attribution", "duration_s fills volume_usd realized_pnl_usd unrealized_pnl_usd fees_usd spread_capture_usd adverse_selection_usd funding_usd position notional_usd kill_switch_fired exit_code"),
    "config_loaded": ("config", "ops", "the effective configuration (after includes) was loaded", "file includes warnings config"),
    "shutdown": ("engine", "ops", "shutdown began", "reason signal"),
    "shutdown_cancel_all": ("engine.orders", "ops", "all open orders cancelled at shutdown or kill", "reason coins n_orders ok error"),
    "leverage_set": ("engine", "ops", "leverage for a coin set on the exchange (capped at the coin's allowed maximum)", "requested leverage max_leverage is_cross ok error"),
    "error": ("*", "ops", "an unexpected error was caught and survived", "where error detail traceback"),
    "library_log": ("*", "diag", "a warning or error from a third-party library's stdlib logger", "logger message"),
    # --- exchange transport --------------------------------------------------------
    "ws_connected": ("exchange.ws", "ops", "WebSocket connected", "url attempt elapsed_ms"),
    "ws_disconnected": ("exchange.ws", "ops", "WebSocket connection lost or closed", "url reason code connected_s"),
    "ws_reconnect": ("exchange.ws", "ops", "reconnect scheduled after a disconnect", "url attempt delay_s"),
    "ws_malformed_frame": ("exchange.ws", "ops", "a frame that is not valid JSON or has an unexpected shape was skipped", "channel reason length preview"),
    "ws_post_timeout": ("exchange.ws", "ops", "a WebSocket post got no reply in time (outcome unknown)", "post_id action elapsed_ms"),
    "ws_late_reply": ("exchange.ws", "ops", "a WebSocket post reply arrived after its timeout (kept on the post)", "post_id elapsed_ms"),
    "ws_server_error": ("exchange.ws", "ops", "the server sent an error frame (e.g. a refused subscription)", "url error"),
    "subscribe": ("exchange.ws", "diag", "a subscription was sent", "subscription"),
    "http_request": ("exchange.http", "diag", "an /info or /exchange request completed", "endpoint type status elapsed_ms weight"),
    "http_error": ("exchange.http", "ops", "an HTTP request failed", "endpoint type status error outcome_unknown"),
    # --- market data and estimators ------------------------------------------------
    "book_stale": ("engine.risk", "ops", "no book update for longer than risk.stale_book_s", "age_s threshold_s"),
    "estimator_warm": ("estimators", "ops", "estimators met the warm-up requirements; quoting may start", "elapsed_s trades book_updates"),
    "microprice_reset": ("estimators.microprice", "ops", "microprice EMA drifted too far from mid and was reset to mid", "microprice mid divergence_bps"),
    "regime_change": ("estimators.volatility", "ops", "volatility regime changed", "old new sigma"),
    "funding": ("engine", "ops", "a funding payment was applied to the position", "rate payment_usd position"),
    # --- quote cycle ----------------------------------------------------------------
    "quote_cycle": ("engine.quote", "diag", "one quote cycle: inputs and outcome", "cycle mid microprice sigma kappa regime gamma position bid_levels ask_levels bid_px ask_px bid_binding ask_binding latency_us"),
    "ladder_computed": ("strategy.ladder", "diag", "the ideal ladder for one coin", "bids asks half_spread_bid_bps half_spread_ask_bps skew_bps kelly_fraction binding"),
    "ladder_level_dropped": ("strategy.ladder", "diag", "a ladder level was dropped", "side ladder_level px sz notional_usd cause"),
    "quote_crossed": ("engine.quote", "ops", "a computed quote would cross mid; the side was not sent", "side px mid"),
    "reconcile_diff": ("engine.reconcile", "diag", "target vs live orders", "keep modify cancel place"),
    "gate_active": ("engine.gates", "ops", "a gate started blocking (a side of) quoting", "side gate reason detail"),
    "gate_cleared": ("engine.gates", "ops", "a gate stopped blocking", "side gate duration_s"),
    "toxicity_pull": ("engine.gates", "ops", "a side was pulled because its toxicity score crossed the pull threshold", "side score threshold"),
    "inventory_forcing": ("engine.rate", "ops", "low rate headroom with a position: only the reducing side is quoted", "position reduce_side headroom_fraction"),
    "reduce_only_mode": ("engine.risk", "ops", "reduce-only mode switched on or off", "active reason"),
    "kill_switch": ("engine.risk", "ops", "the kill switch fired", "reason detail action"),
    # --- orders ---------------------------------------------------------------------
    "order_place_sent": ("engine.orders", "ops", "a new order was sent (cloid tracked before sending)", "cloid side px sz tif reduce_only ladder_level post_id"),
    "order_resting": ("engine.orders", "ops", "the exchange acknowledged an order as resting", "cloid oid side px sz"),
    "order_filled": ("engine.orders", "ops", "an order filled completely (immediately or while resting)", "cloid oid side px sz avg_px"),
    "order_rejected": ("engine.orders", "ops", "the exchange rejected an order", "cloid side px sz reason"),
    "order_cancel_sent": ("engine.orders", "ops", "a cancel was sent", "cloid oid reason post_id"),
    "order_cancelled": ("engine.orders", "ops", "an order is no longer open (cancelled by us or by the exchange)", "cloid oid status"),
    "order_cancel_failed": ("engine.orders", "ops", "a cancel was refused (not because the order is gone); it is not re-sent for retry_in_ms (0.5 s doubling to 8 s)", "cloid oid reason retry_in_ms"),
    "order_modify_sent": ("engine.orders", "ops", "a modify was sent", "cloid oid side px sz old_px old_sz post_id"),
    "order_modify_missed": ("engine.orders", "ops", "a modify arrived after the order had filled or been cancelled (a race with the market, not a reject)", "cloid oid reason"),
    "order_unknown_timeout": ("engine.orders", "ops", "no answer for an order action; it stays unknown until the exchange says", "cloid action post_id elapsed_ms"),
    "order_status_resolved": ("engine.orders", "ops", "an order in unknown state was resolved by the exchange", "cloid oid status source"),
    "batch_sent": ("engine.executor", "diag", "one signed batch was posted", "kind n post_id weight nonce"),
    # --- fills and position ---------------------------------------------------------
    "fill": ("engine.fills", "ops", "a fill of one of our orders", "tid oid cloid side px sz fee fee_token crossed closed_pnl start_position position mid_at_fill ladder_level"),
    "untracked_fill": ("engine.fills", "ops", "a fill for an order we do not track; adopted and counted, never dropped", "tid oid cloid side px sz cause"),
    "fill_duplicate": ("engine.fills", "diag", "a fill already seen (same tid) was ignored", "tid oid"),
    "position_update": ("engine.position", "ops", "the position changed", "position entry_px notional_usd unrealized_pnl_usd source"),
    "markout": ("calibration.markouts", "ops", "the mid move after a fill at one horizon", "tid side horizon_s markout_bps spread_capture_bps adverse_selection_bps"),
    # --- safety sync ----------------------------------------------------------------
    "safety_sync": ("engine.sync", "ops", "periodic reconciliation against clearinghouseState/openOrders", "open_orders positions account_value margin_available mismatches duration_ms"),
    "position_mismatch": ("engine.sync", "ops", "local position differs from the exchange's; the exchange's wins", "local exchange"),
    "order_missing": ("engine.sync", "ops", "an order we thought open is not on the exchange; marked closed", "cloid oid"),
    "orphan_cancelled": ("engine.sync", "ops", "an open order we did not track was cancelled", "cloid oid side px sz"),
    "order_adopted": ("engine.sync", "ops", "an open order we did not track was adopted", "cloid oid side px sz"),
    # --- rate budget and dead-man switch --------------------------------------------
    "rate_limit_status": ("engine.rate", "ops", "rate budget snapshot (IP weight and address budget)", "ip_weight_used ip_weight_limit address_requests_used address_requests_cap headroom_fraction cum_volume_usd"),
    "rate_limit_throttle": ("engine.rate", "ops", "a requote was skipped or delayed to save rate budget", "headroom_fraction reason skipped"),
    "rate_limited": ("engine.rate", "ops", "the exchange refused a request for rate reasons", "scope detail"),
    "deadman_armed": ("engine.deadman", "diag", "scheduleCancel set (all orders cancel at cancel_at_ms unless refreshed)", "cancel_at_ms seconds_ahead"),
    "deadman_unavailable": ("engine.deadman", "ops", "the exchange refused scheduleCancel; running without a dead-man switch", "reason"),
    "deadman_triggered": ("engine.deadman", "ops", "a scheduled cancel was not refreshed in time and fired (counts towards 10 a day)", "cancel_at_ms triggers_today"),
    # --- calibration ----------------------------------------------------------------
    "calibration_report": ("calibration", "ops", "periodic model scores (fill model: observed/expected fills over every order's exposure, oe = 1 calibrated)", "model samples oe oe_low oe_high observed expected exposure_s deviance deviance_skill brier_samples brier log_loss information_ratio calibration_error validated pending censored curve oe_curve awaiting_markout markout_overdue"),
    "model_unvalidated": ("calibration", "ops", "a model's predictions are not (yet) validated by outcomes", "model reason samples information_ratio"),
    "params_written": ("calibration", "ops", "calibrated parameters were written as a config fragment", "file keys"),
    "learned_params_saved": ("calibration", "ops", "parameters learned in the session were saved at exit (for hlmm calibrate --merge)", "file keys samples"),
    "fill_profitability": ("calibration", "diag", "realized edge per (regime, position, depth) bucket; buckets to widen", "buckets widen"),
    # --- simulator ------------------------------------------------------------------
    "sim_start": ("sim", "ops", "the simulator started serving", "host port coins seed"),
    "sim_fault": ("sim", "ops", "a fault was injected", "fault detail"),
    "sim_ws_closed": ("sim", "ops", "the simulator closed a WebSocket client (silent too long, too slow)", "peer reason"),
    "sim_replay_skipped": ("sim.replay", "ops", "the market replay skipped an unreadable line or message (the first 5 of a file)", "file line reason"),
    "sim_replay_pass": ("sim.replay", "ops", "the market replay reached the end of its file (it loops or stops)", "file passes books trades looping"),
}

_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_COMPONENT_RE = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*)$")


def _build(table: dict[str, tuple[str, str, str, str]]) -> dict[str, EventSpec]:
    events: dict[str, EventSpec] = {}
    for name, (component, stream, description, fields) in table.items():
        if not _NAME_RE.match(name):
            raise ValueError(f"log event {name!r}: names are snake_case")
        if not _COMPONENT_RE.match(component):
            raise ValueError(f"log event {name!r}: bad component {component!r}")
        if stream not in STREAMS:
            raise ValueError(f"log event {name!r}: stream must be one of {STREAMS}, got {stream!r}")
        names = fields.split()
        for field_name in names:
            if not _NAME_RE.match(field_name):
                raise ValueError(f"log event {name!r}: field {field_name!r} is not snake_case")
            if field_name in RESERVED_FIELDS:
                raise ValueError(f"log event {name!r}: field {field_name!r} is reserved")
        if len(set(names)) != len(names):
            raise ValueError(f"log event {name!r}: a field is listed twice")
        events[name] = EventSpec(component, stream, description, frozenset(names))
    return events


EVENTS: dict[str, EventSpec] = _build(_TABLE)


def field_order(name: str) -> tuple[str, ...]:
    """The fields of event ``name`` in the order they are documented."""
    return tuple(_TABLE[name][3].split())
