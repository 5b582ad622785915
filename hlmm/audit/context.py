"""State shared by the audit's consumers: options, the session's config, inputs, event totals.

A *consumer* declares the documented events it reads (``events``) and has one ``on_<event>``
method per event; the runner calls them in log order with an :class:`~hlmm.audit.records.Event`.
After the pass, :meth:`Consumer.finish` runs with the totals of every event (``ctx.total``),
which the scanner counted without decoding a line.
"""
from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from hlmm.audit.findings import Finding, Tally
from hlmm.audit.options import AuditOptions, SessionConfig

if TYPE_CHECKING:
    from hlmm.audit.records import Event
    from hlmm.audit.session import SessionAccount
    from hlmm.audit.sources import Source


class AuditContext:
    """What every consumer can see."""

    def __init__(self, options: AuditOptions, sources: list[Source],
                 want: Callable[[Consumer, str, bool], None] | None = None) -> None:
        self.options = options
        self.config = SessionConfig(options.config)
        self.sources = sources
        self.session: SessionAccount | None = None
        # filled after the pass
        self.counts: dict[str, int] = {}
        self.level_counts_by_event: dict[str, list[int]] = {}
        self.event_times: dict[str, tuple[int, int]] = {}
        self.start_ms: int | None = None
        self.end_ms: int | None = None
        self.gaps: list[tuple[int, int, int, int]] = []
        self.n_gaps = 0
        self.field_counts: dict[str, dict[str, int]] = {}
        self._want = want

    def want(self, consumer: Consumer, event: str, on: bool) -> None:
        """Start or stop delivering one of ``consumer``'s ``dynamic_events``."""
        if self._want is not None:
            self._want(consumer, event, on)

    def where(self, ev: Event) -> str:
        """``file:line`` of an event."""
        return f"{self.sources[ev.src].name}:{ev.line}"

    def where_at(self, src: int, line: int) -> str:
        return f"{self.sources[src].name}:{line}"

    def tally(self) -> Tally:
        return Tally(self.options.examples)

    def hit(self, tally: Tally, ev: Event) -> None:
        """Count ``ev`` in ``tally`` (its location is formatted only while examples are wanted)."""
        tally.add(ev.ts, f"{self.sources[ev.src].name}:{ev.line}"
                  if len(tally.examples) < tally.max_examples else None)

    def total(self, *events: str) -> int:
        """How many lines of these events were in the window (decoded or not)."""
        return sum(self.counts.get(e, 0) for e in events)

    @property
    def span_s(self) -> float:
        if self.start_ms is None or self.end_ms is None:
            return 0.0
        return (self.end_ms - self.start_ms) / 1000.0


class Consumer:
    """Reads some documented events (``on_<event>`` methods) in log order.

    ``events`` are always delivered.  ``dynamic_events`` have handlers too but are delivered only
    while the consumer asks for them with ``ctx.want(self, event, True)`` (the scanner does not
    even hand their lines over otherwise).  ``barriers`` are events after which the scan pauses,
    so that such a change applies from the very next line.  ``counted_fields`` are
    ``(event, field)`` pairs whose string values the scanner counts without decoding
    (``ctx.field_counts``).
    """

    events: ClassVar[tuple[str, ...]] = ()
    dynamic_events: ClassVar[tuple[str, ...]] = ()
    barriers: ClassVar[tuple[str, ...]] = ()
    counted_fields: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, ctx: AuditContext) -> None:
        self.ctx = ctx

    def finish(self) -> None:
        """Called once after the pass (event totals are in ``ctx``)."""


class Rule(Consumer, metaclass=abc.ABCMeta):
    """A consumer that judges: it returns findings (empty when all is well)."""

    id: ClassVar[str] = ""
    #: the config keys and code areas a reader should look at, shown with each finding
    look_at: ClassVar[list[str]] = []
    #: events without which the rule cannot judge a session that traded (reported if absent)
    requires: ClassVar[tuple[str, ...]] = ()
    #: ... and which it needs only when the session had fills
    requires_with_fills: ClassVar[tuple[str, ...]] = ()

    @abc.abstractmethod
    def findings(self) -> list[Finding]:
        """The findings of this rule over the whole pass."""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What this rule reads (for ``hlmm audit --rules``)."""
        doc = (cls.__doc__ or "").strip().splitlines()
        return {"id": cls.id, "events": list(cls.events + cls.dynamic_events),
                "counted_fields": [f"{e}.{f}" for e, f in cls.counted_fields],
                "requires": list(cls.requires + cls.requires_with_fills), "summary": doc[0] if doc else ""}
