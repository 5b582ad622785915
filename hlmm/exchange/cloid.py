"""Client order ids: unique across the process and restarts, carrying a recoverable tag.

A Hyperliquid cloid is ``"0x"`` + 32 hex digits (128 bits). hlmm assigns one to every order
*before* sending it, so fills and order updates can be matched to the order (and to the
predictions recorded for it) even when the send's reply is lost.

Bit layout (most significant first)::

    | magic 8 | session 48 | seq 32 | tag 40 |
      0x68      random       0,1,2..  caller's integer (e.g. a prediction id)

- ``magic`` (0x68, "h") marks hlmm's cloids; other tools' cloids parse as "not ours".
- ``session`` is drawn at random (48 bits) when a factory starts, so two runs never share
  a prefix (two sessions collide with probability 2**-48).
- ``seq`` counts up from 0 within a session: cloids of one session are unique and ordered.
- ``tag`` is any integer in [0, 2**40) chosen by the caller; ``parse_cloid`` returns it.

The mapping is a pure function of (session, seq, tag) (``make_cloid``), so the engine
knows an order's cloid before it sends it. In text form the fields sit at fixed hex
positions: ``0x`` ``68`` ``ssssssssssss`` ``qqqqqqqq`` ``tttttttttt``.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

MAGIC = 0x68
MAGIC_BITS, SESSION_BITS, SEQ_BITS, TAG_BITS = 8, 48, 32, 40
SESSION_MAX = (1 << SESSION_BITS) - 1
SEQ_MAX = (1 << SEQ_BITS) - 1
TAG_MAX = (1 << TAG_BITS) - 1

_TAG_SHIFT = 0
_SEQ_SHIFT = TAG_BITS
_SESSION_SHIFT = TAG_BITS + SEQ_BITS
_MAGIC_SHIFT = TAG_BITS + SEQ_BITS + SESSION_BITS

_CLOID_RE = re.compile(r"0x[0-9a-fA-F]{32}")


@dataclass(frozen=True, slots=True)
class CloidParts:
    """The fields of one of hlmm's cloids."""

    session: int
    seq: int
    tag: int


def is_valid_cloid(cloid: object) -> bool:
    """True iff ``cloid`` is a well-formed cloid string: "0x" + 32 hex digits."""
    return isinstance(cloid, str) and _CLOID_RE.fullmatch(cloid) is not None


def make_cloid(session: int, seq: int, tag: int = 0) -> str:
    """The cloid for (session, seq, tag); ValueError if a field is out of range."""
    for name, value, top in (("session", session, SESSION_MAX), ("seq", seq, SEQ_MAX), ("tag", tag, TAG_MAX)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise ValueError(f"cloid {name} must be an int in [0, {top}], got {value!r}")
    n = (MAGIC << _MAGIC_SHIFT) | (session << _SESSION_SHIFT) | (seq << _SEQ_SHIFT) | (tag << _TAG_SHIFT)
    return f"0x{n:032x}"


def parse_cloid(cloid: object) -> CloidParts | None:
    """The (session, seq, tag) of one of hlmm's cloids; None for anything else (any case accepted)."""
    if not is_valid_cloid(cloid):
        return None
    n = int(cloid, 16)  # type: ignore[arg-type]
    if n >> _MAGIC_SHIFT != MAGIC:
        return None
    return CloidParts(
        session=(n >> _SESSION_SHIFT) & SESSION_MAX,
        seq=(n >> _SEQ_SHIFT) & SEQ_MAX,
        tag=n & TAG_MAX,
    )


def is_ours(cloid: object, session: int | None = None) -> bool:
    """True iff ``cloid`` was made by hlmm (by the given session, when one is given)."""
    parts = parse_cloid(cloid)
    return parts is not None and (session is None or parts.session == session)


class CloidFactory:
    """Issues cloids for one trading session: a random session prefix and a rising sequence.

    When a session's 2**32 sequence numbers run out the factory moves to a fresh random
    session, so ids stay unique; ``is_ours`` still recognizes every session it used.
    """

    def __init__(self, session: int | None = None, start_seq: int = 0) -> None:
        if session is None:
            session = secrets.randbits(SESSION_BITS)
        make_cloid(session, start_seq)  # range checks
        self._session = session
        self._sessions = {session}
        self._seq = start_seq

    @property
    def session(self) -> int:
        """The current session prefix (48 bits)."""
        return self._session

    @property
    def next_seq(self) -> int:
        """The sequence number the next cloid will carry."""
        return self._seq

    def next(self, tag: int = 0) -> str:
        """A new cloid carrying ``tag`` (an int in [0, 2**40))."""
        if self._seq > SEQ_MAX:
            self._session = self._fresh_session()
            self._sessions.add(self._session)
            self._seq = 0
        cloid = make_cloid(self._session, self._seq, tag)
        self._seq += 1
        return cloid

    def is_ours(self, cloid: object) -> bool:
        """True iff this factory issued ``cloid`` (any of its sessions)."""
        parts = parse_cloid(cloid)
        return parts is not None and parts.session in self._sessions

    def _fresh_session(self) -> int:
        while True:
            s = secrets.randbits(SESSION_BITS)
            if s not in self._sessions:
                return s

    def __repr__(self) -> str:
        return f"CloidFactory(session=0x{self._session:012x}, next_seq={self._seq})"
