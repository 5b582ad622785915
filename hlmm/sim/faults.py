"""Transport-level faults of the local sim: what the network and the API front end do wrong.

Exchange-level faults (reject the next N orders, freeze the book) live in the
exchange (``SimExchange.faults``); the control request passes them through.

Every random decision draws from one ``random.Random`` seeded at start, so a run
with the same seed and the same sequence of pushes makes the same decisions.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, fields
from typing import Any

# Keys a control request may set, with their type and a one-line meaning (the docs
# and the error messages both come from this table).
FAULT_KEYS: dict[str, tuple[type, str]] = {
    "drop_ws_every_s": (float, "close every WebSocket connection every N seconds (0 = off)"),
    "push_delay_ms": (float, "delay pushes by N ms, all of them unless push_delay_prob/_every pick some "
                             "(the stream stalls behind a delayed push, as TCP would)"),
    "push_delay_prob": (float, "probability that a push is delayed (with push_delay_ms)"),
    "push_delay_every": (int, "delay every Nth push (with push_delay_ms; 0 = off)"),
    "push_dup_prob": (float, "probability that a push is sent twice"),
    "push_dup_every": (int, "send every Nth push twice (0 = off)"),
    "push_drop_prob": (float, "probability that a push is dropped"),
    "push_drop_every": (int, "drop every Nth push (0 = off)"),
    "post_delay_ms": (float, "delay every WebSocket post reply by N ms (pushes keep flowing)"),
    "http_429_next": (int, "answer HTTP 429 to the next N /info or /exchange requests"),
}


class FaultConfigError(ValueError):
    """A fault setting was unknown or out of range; the message names it."""


@dataclass
class TransportFaults:
    """Current transport-fault settings plus the seeded RNG that drives them."""

    seed: int = 0
    drop_ws_every_s: float = 0.0
    push_delay_ms: float = 0.0
    push_delay_prob: float = 0.0
    push_delay_every: int = 0
    push_dup_prob: float = 0.0
    push_dup_every: int = 0
    push_drop_prob: float = 0.0
    push_drop_every: int = 0
    post_delay_ms: float = 0.0
    http_429_next: int = 0
    # counters, reported by to_dict() so a test or a user can see what happened
    pushes_seen: int = 0
    pushes_dropped: int = 0
    pushes_duplicated: int = 0
    pushes_delayed: int = 0
    forced_429s: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.update({k: getattr(self, k) for k in FAULT_KEYS})

    def update(self, settings: dict[str, Any]) -> None:
        """Apply settings from a control request or CLI flags; all-or-nothing."""
        if not isinstance(settings, dict):
            raise FaultConfigError("fault settings must be a JSON object")
        parsed: dict[str, float | int] = {}
        for key, value in settings.items():
            if key not in FAULT_KEYS:
                raise FaultConfigError(f"unknown fault {key!r}; known: {', '.join(FAULT_KEYS)}")
            kind, _ = FAULT_KEYS[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FaultConfigError(f"{key} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise FaultConfigError(f"{key} must be a finite number, got {value!r}")
            if kind is int and value != int(value):
                raise FaultConfigError(f"{key} must be a whole number, got {value!r}")
            number = kind(value)
            if number < 0:
                raise FaultConfigError(f"{key} must be >= 0, got {value!r}")
            if key.endswith("_prob") and number > 1:
                raise FaultConfigError(f"{key} is a probability in [0, 1], got {value!r}")
            parsed[key] = number
        for key, number in parsed.items():
            setattr(self, key, number)

    def clear(self) -> None:
        """Turn every transport fault off (counters are kept)."""
        self.update({key: 0 for key in FAULT_KEYS})

    def to_dict(self) -> dict[str, Any]:
        """Settings and counters as a JSON-able dict."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def take_forced_429(self) -> bool:
        """True (and count one down) while a forced-429 budget remains."""
        if self.http_429_next > 0:
            self.http_429_next -= 1
            self.forced_429s += 1
            return True
        return False

    def push_plan(self) -> tuple[int, float]:
        """Decide the fate of one push: (copies to send: 0, 1 or 2; delay in seconds)."""
        self.pushes_seen += 1
        n = self.pushes_seen
        if self._hit(self.push_drop_prob, self.push_drop_every, n):
            self.pushes_dropped += 1
            return 0, 0.0
        copies = 1
        if self._hit(self.push_dup_prob, self.push_dup_every, n):
            self.pushes_duplicated += 1
            copies = 2
        delay = 0.0
        pick_all = self.push_delay_prob == 0 and self.push_delay_every == 0
        if self.push_delay_ms > 0 and (pick_all or self._hit(self.push_delay_prob, self.push_delay_every, n)):
            self.pushes_delayed += 1
            delay = self.push_delay_ms / 1000.0
        return copies, delay

    def _hit(self, prob: float, every: int, n: int) -> bool:
        if every and n % every == 0:
            return True
        # draw only when a probability is set, so turning one fault on does not
        # shift the random stream of a run that never used probabilities
        return prob > 0 and self._rng.random() < prob
