"""Test helpers: run the real ``hlmm sim`` in a subprocess on a free loopback port, and
trade against a sim through hlmm's own clients (``Trader``).

    with SimProcess(seed=7, assets="BTC,ETH") as sim:
        InfoClient(sim.url).meta()

Starts ``python -m cli.main sim --port 0 --json ...``, waits for its one JSON ready
line (url, port, demo address and key), and on exit sends SIGTERM and waits.  If the
sim dies or does not get ready in time, the error carries its stderr.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hlmm.exchange import wire
from hlmm.exchange.assets import AssetRegistry
from hlmm.exchange.http import ExchangeClient, InfoClient
from hlmm.exchange.keys import Credentials, Wallet

REPO = Path(__file__).resolve().parent.parent


class SimProcessError(RuntimeError):
    """The sim subprocess failed to start or stop cleanly."""


class SimProcess:
    """A ``hlmm sim`` subprocess.  ``url``, ``port``, ``demo_address``, ``demo_key`` after start."""

    def __init__(self, *args: str, seed: int = 0, assets: str = "BTC,ETH,SOL", ready_timeout_s: float = 30.0,
                 **flags: Any) -> None:
        self.argv = [sys.executable, "-m", "cli.main", "sim", "--host", "127.0.0.1", "--port", "0",
                     "--seed", str(seed), "--assets", assets, "--json"]
        for name, value in flags.items():
            flag = "--" + name.replace("_", "-")
            if value is True:
                self.argv.append(flag)
            elif value not in (None, False):
                self.argv += [flag, str(value)]
        self.argv += list(args)
        if "--market" not in self.argv and "market" not in flags:
            # Tests that do not ask for a market get an empty book they fully control.
            self.argv += ["--market", "none"]
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen | None = None
        self.ready: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return self.ready["url"]

    @property
    def port(self) -> int:
        return int(self.ready["port"])

    @property
    def demo_address(self) -> str:
        return self.ready["demo_address"]

    @property
    def demo_key(self) -> str:
        return self.ready["demo_key"]

    def start(self) -> "SimProcess":
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(self.argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self._read_ready_line()
        try:
            self.ready = json.loads(line)
        except json.JSONDecodeError:
            self._fail(f"the sim's ready line is not JSON: {line!r}")
        if self.ready.get("status") != "ready":
            self._fail(f"unexpected ready line {line!r}")
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
                    self._fail(f"the sim was not ready within {self.ready_timeout_s:g} s")
                if sel.select(left):
                    line = self.proc.stdout.readline()
                    if line:
                        return line.strip()
                    self._fail("the sim exited before its ready line")
        finally:
            sel.close()

    def _fail(self, why: str) -> None:
        err = ""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            try:
                _, err = self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                err = "(no stderr: the process did not exit)"
        raise SimProcessError(f"{why}; argv={self.argv}; stderr:\n{err}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> tuple[int, str]:
        """Send ``sig``, wait; return (exit code, stderr)."""
        if self.proc is None:
            return 0, ""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            _, err = self.proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise SimProcessError(f"the sim did not stop within {timeout_s:g} s after {sig!r}; stderr:\n{err}")
        return self.proc.returncode, err

    def __enter__(self) -> "SimProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Trader:
    """Builds order wires through the one rounding path (hlmm.exchange.wire)."""

    def __init__(self, url: str, wallet: Wallet, credentials: Credentials | None = None) -> None:
        self.info = InfoClient(url)
        self.registry = AssetRegistry.from_meta(self.info.meta())
        self.wallet = wallet
        self.ex = ExchangeClient(url, credentials or Credentials(wallet))

    def wire(self, coin, is_buy, px, sz, tif="Gtc", cloid=None, reduce_only=False):
        asset = self.registry[coin]
        units = wire.price_units(px, asset, wire.DOWN if is_buy else wire.UP)
        return wire.order_wire(asset.asset_id, is_buy, units, wire.size_lots(sz, asset), asset, reduce_only,
                               tif, cloid)

    def mid(self, coin):
        return float(self.info.all_mids()[coin])
