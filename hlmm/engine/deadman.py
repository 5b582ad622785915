"""The dead-man switch: a ``scheduleCancel`` kept ``seconds_ahead`` in the future while hlmm is healthy.

If hlmm dies, hangs or loses its connection, it stops pushing the time forward and the exchange
cancels every open order when it arrives (status ``scheduledCancel``). Rules (reference §3):
the time must be at least 5 s ahead; at most 10 triggers a day (counter reset at 00:00 UTC).

:meth:`DeadMan.due` says when to send :meth:`DeadMan.action` (refreshed every
``refresh_interval_s`` while healthy, never while an earlier request is unanswered). A trigger
is counted (``deadman_triggered``) when the armed time passes without a refresh; at ``max_triggers_per_day`` the switch
stops arming for the rest of the UTC day (the exchange would refuse) and says so
(``deadman_unavailable``). An exchange refusal (e.g. too little volume traded yet) disables it
until :meth:`reset` with the reason logged once. :meth:`kill_action` schedules the nearest
cancel allowed: a backstop behind the kill switch's own cancels.

Every time sent is at least 5 s + ``margin_s`` (default 1 s) after the ``now_ms`` it was built at:
the exchange checks "at least 5 s from now" when it reads the request, a little later (signing,
the network, a busy loop), and refuses an earlier time ("Scheduled cancel time too early"), which
would also disable the switch. The margin lives here so no caller has to remember it.
"""
from __future__ import annotations

import math
from typing import Any

from hlmm.exchange import wire
from hlmm.log import get_logger

log = get_logger("engine.deadman")

MIN_AHEAD_MS = 5_000          # the exchange's rule, checked when it reads the request
DEFAULT_MARGIN_MS = 1_000     # room for the request's trip (see the module docstring)
MAX_MARGIN_S = 60.0
DAY_MS = 86_400_000
MAX_TRIGGERS_PER_DAY = 10


class DeadMan:
    """scheduleCancel bookkeeping; ``seconds_ahead`` 0 turns it off."""

    def __init__(self, seconds_ahead: float = 60.0, refresh_interval_s: float = 30.0,
                 max_triggers_per_day: int = MAX_TRIGGERS_PER_DAY, answer_timeout_s: float = 10.0,
                 margin_s: float = DEFAULT_MARGIN_MS / 1000) -> None:
        if not (isinstance(margin_s, (int, float)) and math.isfinite(margin_s) and 0 <= margin_s <= MAX_MARGIN_S):
            raise ValueError(f"margin_s must be between 0 and {MAX_MARGIN_S:g} s, got {margin_s}")
        if seconds_ahead and seconds_ahead * 1000 < MIN_AHEAD_MS:
            raise ValueError(f"seconds_ahead must be 0 (off) or >= {MIN_AHEAD_MS / 1000:g} s, got {seconds_ahead}")
        if seconds_ahead and not 0 < refresh_interval_s < seconds_ahead:
            raise ValueError(f"refresh_interval_s must be in (0, seconds_ahead = {seconds_ahead}), "
                             f"got {refresh_interval_s}")
        self.ahead_ms = int(round(seconds_ahead * 1000))
        self.refresh_ms = int(round(refresh_interval_s * 1000))
        self.margin_ms = int(round(margin_s * 1000))
        self.min_time_ahead_ms = MIN_AHEAD_MS + self.margin_ms   # the nearest time ever sent
        self.max_triggers = max_triggers_per_day
        self.answer_timeout_ms = int(answer_timeout_s * 1000)
        self.armed_until_ms: int | None = None   # the cancel time the exchange accepted
        self.last_sent_ms: int | None = None
        self.pending_time_ms: int | None = None  # sent, not answered yet
        self.triggers_today = 0
        self.day = -1
        self.disabled_reason: str | None = None

    @property
    def enabled(self) -> bool:
        return self.ahead_ms > 0 and self.disabled_reason is None

    def _roll_day(self, now_ms: int) -> None:
        day = now_ms // DAY_MS
        if day != self.day:
            self.day = day
            self.triggers_today = 0
            if self.disabled_reason == "daily trigger limit reached":
                self.disabled_reason = None

    def _note_expiry(self, now_ms: int) -> None:
        """The armed time passed without a refresh: the exchange fired it (one trigger)."""
        if self.armed_until_ms is not None and now_ms >= self.armed_until_ms:
            self._roll_day(self.armed_until_ms)
            self.triggers_today += 1
            log.warning("deadman_triggered", cancel_at_ms=self.armed_until_ms, triggers_today=self.triggers_today)
            self.armed_until_ms = None
        self._roll_day(now_ms)
        if self.triggers_today >= self.max_triggers and self.disabled_reason is None:
            self.disabled_reason = "daily trigger limit reached"
            log.warning("deadman_unavailable", reason=f"{self.triggers_today} scheduled-cancel triggers today: "
                                                      "not armed again before 00:00 UTC")

    def due(self, now_ms: int, healthy: bool = True) -> bool:
        """True when the loop should send :meth:`action` now (only while ``healthy``)."""
        self._note_expiry(now_ms)
        if not self.enabled or not healthy:
            return False
        if self.pending_time_ms is not None:
            if self.last_sent_ms is not None and now_ms - self.last_sent_ms >= self.answer_timeout_ms:
                self.pending_time_ms = None      # the answer was lost: try again
            else:
                return False
        return self.armed_until_ms is None or self.last_sent_ms is None or \
            now_ms - self.last_sent_ms >= self.refresh_ms

    def action(self, now_ms: int) -> dict[str, Any]:
        """``{"type":"scheduleCancel","time": now + seconds_ahead}`` (never nearer than 5 s + the
        margin; recorded as pending)."""
        t = now_ms + max(self.ahead_ms, self.min_time_ahead_ms)
        self.pending_time_ms = t
        self.last_sent_ms = now_ms
        return wire.schedule_cancel_action(t)

    def kill_action(self, now_ms: int) -> dict[str, Any]:
        """The nearest scheduled cancel the exchange accepts (now + 5 s + the margin), behind a
        kill's cancels. Pass the real ``now``: the margin is already built in."""
        t = now_ms + self.min_time_ahead_ms
        self.pending_time_ms = t
        self.last_sent_ms = now_ms
        return wire.schedule_cancel_action(t)

    def disarm_action(self) -> dict[str, Any]:
        """Unset the scheduled cancel (clean shutdown after every order is cancelled)."""
        self.pending_time_ms = None
        self.armed_until_ms = None
        return wire.schedule_cancel_action(None)

    def on_result(self, ok: bool, now_ms: int, text: str = "") -> None:
        """The exchange's answer to the last :meth:`action` / :meth:`kill_action`."""
        t, self.pending_time_ms = self.pending_time_ms, None
        if ok:
            if t is not None:
                self.armed_until_ms = t
                log.debug("deadman_armed", cancel_at_ms=t, seconds_ahead=(t - now_ms) / 1000)
            return
        if "Too many scheduled cancel triggers" in text:
            self.triggers_today = max(self.triggers_today, self.max_triggers)
            self.disabled_reason = "daily trigger limit reached"
        else:
            self.disabled_reason = text or "refused"
        log.warning("deadman_unavailable", reason=self.disabled_reason)

    def on_timeout(self, now_ms: int) -> None:
        """The answer never came: the previous armed time (if any) still stands; retry soon."""
        self.pending_time_ms = None
        self.last_sent_ms = None if self.armed_until_ms is None else self.last_sent_ms

    def reset(self) -> None:
        """Allow arming again after a refusal (e.g. once enough volume has traded)."""
        self.disabled_reason = None
