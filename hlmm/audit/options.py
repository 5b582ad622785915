"""What the user can tune in an audit, and the session's own thresholds.

Thresholds that the trading config defines (rate headroom, stale-book age, reject-storm window,
ladder levels, toxic hours, ...) are read from the session's ``config_loaded`` event when the
log has one, so the audit judges a session by the limits it actually ran with.  Without it they
come from the config given to ``hlmm --config`` or, failing that, hlmm's built-in defaults
(:class:`hlmm.config.Config`): one source of truth for every default.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hlmm.audit.findings import Severity
from hlmm.audit.timebounds import TimeBound
from hlmm.config import Config


@dataclass(frozen=True)
class AuditOptions:
    """Audit settings (every field has a default; the CLI maps its options onto them)."""

    since: TimeBound | None = None
    until: TimeBound | None = None
    examples: int = 5                    # example locations kept per finding
    microprice_warn_bps: float = 20.0    # |microprice - mid| above this in a quote cycle: warning
    microprice_critical_bps: float = 100.0  # ... above this: critical (the EMA reset bound)
    gap_s: float = 30.0                  # silence between event lines worth reporting
    burst_window_s: float = 60.0         # error bursts: errors per aligned window of this length
    burst_min: int = 10                  # ... at least this many errors make a burst
    reconnect_storm_count: int = 5       # reconnects within reconnect_storm_window_s
    reconnect_storm_window_s: float = 600.0
    toxic_min_fills: int = 10            # fills an hour needs before it can be called toxic
    untracked_critical_share: float = 0.10  # untracked fills above this share: critical
    mismatch_critical_count: int = 3     # position mismatches at sync from this many: critical
    templates: int = 20                  # message templates listed (generic logs)
    fail_on: Severity = Severity.CRITICAL
    config: Config | None = None         # thresholds when the log has no config_loaded event
    chunk_bytes: int = 8 << 20           # read size


class SessionConfig:
    """The trading config a session ran with: ``config_loaded`` if seen, else the fallback."""

    def __init__(self, fallback: Config | None = None) -> None:
        self._fallback = (fallback or Config()).to_dict()
        self._loaded: Mapping[str, Any] | None = None
        self._cache: dict[tuple[str, str | None], Any] = {}
        self.version = 0  # bumped when a config_loaded event replaces the thresholds
        self.source = "hlmm defaults" if fallback is None else "--config"

    def load(self, config: Any, file: Any = None) -> None:
        """Use the config dict of a ``config_loaded`` event (later events replace earlier ones)."""
        if isinstance(config, Mapping):
            self._loaded = config
            self._cache.clear()
            self.version += 1
            self.source = f"config_loaded ({file})" if file else "config_loaded"

    @property
    def from_log(self) -> bool:
        return self._loaded is not None

    def get(self, dotted: str, coin: str | None = None) -> Any:
        """Value of ``section.key`` (a per-coin override first when ``coin`` is given)."""
        key_ = (dotted, coin)
        try:
            return self._cache[key_]
        except KeyError:
            value = self._cache[key_] = self._lookup(dotted, coin)
            return value

    def _lookup(self, dotted: str, coin: str | None) -> Any:
        section, _, key = dotted.partition(".")
        for source in (self._loaded, self._fallback):
            if source is None:
                continue
            if coin:
                override = _path(source, ("assets", "overrides", coin, section, key))
                if override is not None:
                    return override
            value = _path(source, (section, *key.split(".")))
            if value is not None:
                return value
        return None

    def number(self, dotted: str, coin: str | None = None) -> float | None:
        value = self.get(dotted, coin)
        if isinstance(value, bool):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            return None


def _path(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data
