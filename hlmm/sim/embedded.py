"""The embedded sim: ``hlmm sim`` in its own process on a free loopback port, with a throwaway key.

``hlmm trade`` with no venue and no key uses it, so a new user sees hlmm quote, fill and
report with no network and no setup::

    with EmbeddedSim(assets=("BTC",), fund_usdc=10_000) as sim:
        sim.url, sim.wallet.address        # trade against sim.url signing with sim.wallet

* The key is generated *here* (``Wallet.generate()``) and only its address is passed to
  the sim (``--fund ADDRESS=USDC``): the throwaway key never crosses a pipe, and the
  child gets no private-key environment variables.
* The sim runs in its own session, so a Ctrl-C typed at the terminal reaches hlmm only:
  hlmm cancels its orders on the still-running sim, then stops the sim. On Linux the
  child also gets SIGTERM if hlmm dies without stopping it (``PR_SET_PDEATHSIG``).
* Its stderr goes to a temporary file whose tail is quoted if it fails to start.
"""
from __future__ import annotations

import ctypes
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterable, Mapping, Sequence

from hlmm.errors import VenueUnreachableError
from hlmm.exchange.http import HttpTransport
from hlmm.exchange.keys import Wallet

DEFAULT_FUND_USDC = 10_000.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:   # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):   # not Linux: the parent's stop() is the only stop
        pass


class EmbeddedSim:
    """A ``hlmm sim`` child process and the throwaway wallet it funded (see the module docstring).

    ``url``, ``port`` and ``wallet`` are set once ``start()`` returns. ``extra_args`` are
    passed to ``hlmm sim`` as is (e.g. ``["--book-interval-ms", "200"]`` or fault flags).
    """

    def __init__(
        self,
        assets: Iterable[str] = ("BTC",),
        *,
        seed: int | None = None,
        fund_usdc: float = DEFAULT_FUND_USDC,
        extra_args: Sequence[str] = (),
        ready_timeout_s: float = 30.0,
        strip_env: Iterable[str] = ("HLMM_PRIVATE_KEY", "HLMM_KEYSTORE_PASSWORD"),
    ) -> None:
        self.assets = tuple(assets)
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(4), "big")
        self.fund_usdc = float(fund_usdc)
        self.extra_args = tuple(extra_args)
        self.ready_timeout_s = ready_timeout_s
        self.strip_env = tuple(strip_env)
        self.wallet: Wallet = Wallet.generate()
        self.proc: subprocess.Popen | None = None
        self.ready: dict[str, Any] = {}
        self.returncode: int | None = None
        self._stderr_file: Any = None
        self._transport: HttpTransport | None = None

    # ------------------------------------------------------------------ facts
    @property
    def url(self) -> str:
        return str(self.ready["url"])

    @property
    def port(self) -> int:
        return int(self.ready["port"])

    @property
    def address(self) -> str:
        return self.wallet.address

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def argv(self) -> list[str]:
        """The command line of the child (no secret in it: only the wallet's address)."""
        return [sys.executable, "-m", "cli.main", "sim", "--host", "127.0.0.1", "--port", "0", "--json",
                "--seed", str(self.seed), "--assets", ",".join(self.assets),
                "--fund", f"{self.wallet.address.lower()}={self.fund_usdc:g}", "--demo-fund", "0",
                *self.extra_args]

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "EmbeddedSim":
        """Start the child and wait for its ready line; ``VenueUnreachableError`` if it fails."""
        env = {k: v for k, v in os.environ.items() if k not in self.strip_env}
        env["PYTHONUNBUFFERED"] = "1"
        self._stderr_file = tempfile.TemporaryFile(mode="w+", prefix="hlmm-sim-", suffix=".log")
        self.proc = subprocess.Popen(
            self.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr_file, env=env,
            text=True, start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        line = self._read_ready_line()
        try:
            ready = json.loads(line)
        except json.JSONDecodeError:
            self._fail(f"the embedded sim's ready line is not JSON: {line[:200]!r}")
        if not isinstance(ready, dict) or ready.get("status") != "ready" or "url" not in ready:
            self._fail(f"unexpected ready line from the embedded sim: {line[:200]!r}")
        ready.pop("demo_key", None)   # the sim's own demo account is unused (and unfunded)
        self.ready = ready
        return self

    def _read_ready_line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + self.ready_timeout_s
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._fail(f"the embedded sim was not ready within {self.ready_timeout_s:g} s")
                if sel.select(left):
                    line = self.proc.stdout.readline()
                    if line:
                        return line.strip()
                    self._fail("the embedded sim exited before it was ready")
        finally:
            sel.close()

    def stderr_tail(self, limit: int = 2000) -> str:
        """The last ``limit`` characters the child wrote to stderr."""
        f = self._stderr_file
        if f is None or f.closed:
            return ""
        f.flush()
        f.seek(0)
        return f.read()[-limit:]

    def _fail(self, why: str) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        tail = self.stderr_tail().strip()
        self._close_files()
        raise VenueUnreachableError(why + (f"; its stderr ends with:\n{tail}" if tail else ""))

    def control(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /sim/control`` (faults, see ``hlmm sim``'s README); returns the sim's state."""
        if self._transport is None:
            self._transport = HttpTransport(self.url, timeout=10.0)
        return self._transport.post_json("/sim/control", dict(settings), idempotent=False)

    def info(self, body: Mapping[str, Any]) -> Any:
        """``POST /info`` on the sim (tests and checks)."""
        if self._transport is None:
            self._transport = HttpTransport(self.url, timeout=10.0)
        return self._transport.post_json("/info", dict(body), idempotent=True)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM the child, wait (kill after ``timeout_s``); returns its exit code."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout_s)
            if proc.stdout is not None:
                proc.stdout.close()
            self.returncode = proc.returncode
        self._close_files()
        return self.returncode

    def _close_files(self) -> None:
        if self._stderr_file is not None and not self._stderr_file.closed:
            self._stderr_file.close()

    def __enter__(self) -> "EmbeddedSim":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.ready.get("url", "not started")
        return f"EmbeddedSim({where}, assets={','.join(self.assets)}, wallet={self.wallet.address})"
