"""Hyperliquid endpoints: mainnet, testnet and any other base URL (the local sim).

A base URL is scheme + host (+ port), without a path: ``https://api.hyperliquid.xyz``.
REST paths are ``/info`` and ``/exchange``; the WebSocket lives at ``/ws`` on the same
host with the ``ws``/``wss`` scheme.  L1 actions are signed with the mainnet source
``"a"`` only for the mainnet URL; every other URL (testnet, the local sim) signs as
testnet (``"b"``), exactly like the official SDK.
"""
from __future__ import annotations

from urllib.parse import urlsplit

MAINNET_API_URL = "https://api.hyperliquid.xyz"
TESTNET_API_URL = "https://api.hyperliquid-testnet.xyz"
LOCAL_API_URL = "http://localhost:3001"

NAMED_URLS = {"mainnet": MAINNET_API_URL, "testnet": TESTNET_API_URL, "local": LOCAL_API_URL}


def base_url(url: str) -> str:
    """Normalize a base URL or a network name (``mainnet``, ``testnet``, ``local``).

    Accepts ``http(s)://host[:port]`` with an optional trailing slash.  Raises
    ``ValueError`` with a specific message for anything else (a path, a query,
    a ws:// URL, no host).
    """
    text = url.strip()
    if text.lower() in NAMED_URLS:
        return NAMED_URLS[text.lower()]
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"base URL must start with http:// or https://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"base URL has no host: {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"base URL must not have a path, query or fragment: {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"base URL has a bad port: {url!r}") from exc
    return f"{parts.scheme}://{parts.netloc}"


def ws_url(url: str) -> str:
    """The WebSocket URL for a base URL (``https://h`` → ``wss://h/ws``).

    A ``ws://``/``wss://`` URL is returned unchanged (after stripping a trailing slash).
    """
    text = url.strip()
    scheme = urlsplit(text).scheme
    if scheme in ("ws", "wss"):
        return text.rstrip("/")
    base = base_url(text)
    return "ws" + base[len("http"):] + "/ws"


def is_mainnet(url: str) -> bool:
    """True only for the mainnet REST URL: the one case that signs with source ``"a"``."""
    try:
        return base_url(url) == MAINNET_API_URL
    except ValueError:
        return False
