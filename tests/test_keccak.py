"""hlmm.exchange.ethcrypto.keccak256 (safe-pysha3) against pycryptodome's Keccak-256 and published digests."""
from __future__ import annotations

import pytest
from Crypto.Hash.keccak import Keccak_Hash
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm.exchange.ethcrypto import keccak256


def reference(data: bytes) -> bytes:
    return Keccak_Hash(data, 32, False).digest()


@pytest.mark.parametrize(
    "data, digest",
    [
        (b"", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"),
        (b"abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
        # keccak256("Agent(string source,bytes32 connectionId)"), the Hyperliquid Agent type hash
        (b"Agent(string source,bytes32 connectionId)", "26f05c2f7239b6983075e58321292d77b3aa173d19b27257ac96ab362570f508"),
    ],
)
def test_known_digests(data, digest):
    assert keccak256(data).hex() == digest


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 135, 136, 137, 271, 272, 273, 1000, 70_000])
def test_block_boundaries(n):
    data = bytes((i * 131 + 7) % 256 for i in range(n))
    assert keccak256(data) == reference(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1200))
def test_matches_pycryptodome(data):
    assert keccak256(data) == reference(data)


def test_accepts_bytes_like_and_rejects_others():
    assert keccak256(bytearray(b"abc")) == keccak256(memoryview(b"abc")) == keccak256(b"abc")
    with pytest.raises(TypeError):
        keccak256("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        keccak256(None)  # type: ignore[arg-type]
