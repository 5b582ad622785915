"""The ``hlmm`` command's exit codes: stable, documented, shown by ``hlmm --help``.

The numbers live in :class:`hlmm.errors.ExitCode` (the library raises errors that
carry them); this module says what each means to someone scripting ``hlmm``.
"""
from __future__ import annotations

from hlmm.errors import ExitCode

EXIT_CODES: tuple[tuple[ExitCode, str], ...] = (
    (ExitCode.OK, "success"),
    (ExitCode.FAILURE, "failure: bad input file (missing, not a log: binary, CSV), internal error"),
    (ExitCode.USAGE, "usage error: unknown option, bad argument"),
    (ExitCode.CONFIG, "config error: file missing, unreadable or invalid"),
    (ExitCode.VENUE_UNREACHABLE, "venue unreachable: the exchange or the sim did not answer"),
    (ExitCode.CRITICAL_FINDINGS, "critical findings: hlmm audit found critical problems (see --fail-on)"),
    (ExitCode.KILL_SWITCH, "kill switch fired during the session"),
    (ExitCode.REFUSED, "refused: unsafe action not confirmed (e.g. mainnet)"),
    (ExitCode.INTERRUPTED, "interrupted (Ctrl-C)"),
)


def help_text() -> str:
    """The exit-code table for a click epilog (``\\b`` keeps click from rewrapping it)."""
    lines = ["\b", "Exit codes:"]
    lines += [f"  {int(code):>3}  {meaning}" for code, meaning in EXIT_CODES]
    return "\n".join(lines)
