"""hlmm's user-facing exceptions and the process exit codes they map to.

Raise an :class:`HlmmError` (or a subclass) for anything the *user* must act on: a bad
config value, an unreachable venue, a refused action.  The CLI prints its message as one
line on stderr, without a traceback, and exits with its ``exit_code``.  Bugs stay
ordinary exceptions.

Messages are passed through :func:`hlmm.redaction.redact`, so a private key that slips
into one is masked before anyone can print it.

Other modules subclass these (e.g. the keys module's ``KeyLoadError(HlmmError)``).
The codes are stable: scripts depend on them.  ``cli/exit_codes.py`` documents them
for ``hlmm --help``.
"""
from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

from hlmm.redaction import redact


class ExitCode(IntEnum):
    """Stable process exit codes of the ``hlmm`` command."""

    OK = 0
    FAILURE = 1  # generic failure (including bad input files)
    USAGE = 2  # bad command line (click's own code)
    CONFIG = 3  # the config file is missing, unreadable or invalid
    VENUE_UNREACHABLE = 4  # the exchange (or the sim) could not be reached
    CRITICAL_FINDINGS = 5  # `hlmm audit` found critical problems
    KILL_SWITCH = 6  # the kill switch fired during the session
    REFUSED = 7  # hlmm refused to act (e.g. mainnet not confirmed)
    INTERRUPTED = 130  # SIGINT / Ctrl-C (128 + 2, the shell convention)


class HlmmError(Exception):
    """An error with a message meant for the user and the exit code the CLI returns.

    ``message`` says what is wrong; ``hint`` (optional) says what to do about it.
    """

    exit_code: ClassVar[int] = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = redact(message)
        self.hint = redact(hint) if hint else None
        super().__init__(self.message)

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class InputError(HlmmError):
    """A file or value given to hlmm could not be used (corrupt CSV, truncated log...)."""


class ConfigError(HlmmError):
    """The configuration is missing, unreadable or invalid.

    ``issues`` lists one ``(dotted_key, text)`` pair per problem, so a caller can show
    every problem at once; ``dotted_key`` is ``""`` for file-level problems.
    """

    exit_code = ExitCode.CONFIG

    def __init__(
        self,
        message: str,
        *,
        issues: list[tuple[str, str]] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.issues = [(key, redact(text)) for key, text in (issues or [])]


class VenueUnreachableError(HlmmError):
    """The exchange or the simulator did not answer."""

    exit_code = ExitCode.VENUE_UNREACHABLE


class CriticalFindingsError(HlmmError):
    """An audit found critical problems (the report itself has been printed)."""

    exit_code = ExitCode.CRITICAL_FINDINGS


class KillSwitchError(HlmmError):
    """The kill switch fired: the session stopped quoting for a risk reason."""

    exit_code = ExitCode.KILL_SWITCH


class RefusedError(HlmmError):
    """hlmm refused to do something unsafe that was not explicitly confirmed."""

    exit_code = ExitCode.REFUSED
