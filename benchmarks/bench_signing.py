"""Signing latency: one 10-order ``order`` action (with cloids), L1 EIP-712 signature.

Target: sign <= 40 us median (NautilusTrader's Rust adapter: 42 us).

Contenders, same run, same action, same key:
- ``hlmm``: `hlmm.exchange.signing.sign_l1_action` (precomputed domain separator and
  type hash, hand-built struct hash, pycryptodome Keccak, coincurve signing).
- ``eth_account``: the generic path, `encode_typed_data(full_message=...)` +
  `Account.sign_message` (what the SDK does inside).
- ``sdk``: the official SDK's `hyperliquid.utils.signing.sign_l1_action`.

Also: Keccak-256 of a 96-byte struct encoding (the size signing hashes twice per
signature) by safe-pysha3 (hlmm.exchange.ethcrypto) vs pycryptodome and eth_hash (the installed C
implementations); signer recovery (the simulator verifies every action) against the SDK's
`recover_agent_or_user_from_l1_action`, and the msgpack + Keccak stage alone
(connectionId) against the SDK's `action_hash`. Every contender is first checked to
produce the same bytes as hlmm.

Run: ``pytest benchmarks/bench_signing.py --benchmark-enable -q``.
"""
from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hyperliquid.utils import signing as sdk

from hlmm.exchange.keys import Wallet
from hlmm.exchange.signing import action_hash, recover_l1_signer, sign_l1_action

KEY = "0xe908f86dbb4d55ac876378565aafeabc187f6690f046459397b17d9b9a19688e"
NONCE = 1_731_000_000_123
IS_MAINNET = True


def ten_order_action() -> dict:
    """A BTC ladder: 5 post-only bids below and 5 asks above a 97,255 mid, each with a cloid."""
    orders = []
    for i in range(10):
        is_buy = i < 5
        level = i if is_buy else i - 5
        px = 97_250 - 7 * level if is_buy else 97_260 + 7 * level
        orders.append(
            {
                "a": 0,
                "b": is_buy,
                "p": str(px),
                "s": f"0.{1230 + 37 * i:05d}",
                "r": False,
                "t": {"limit": {"tif": "Alo"}},
                "c": f"0x{0x6d6d0000019a2b3c00000000 + i:032x}",
            }
        )
    return {"type": "order", "orders": orders, "grouping": "na"}


ACTION = ten_order_action()
WALLET = Wallet.from_hex(KEY)
ACCOUNT = Account.from_key(KEY)


def _eth_account_sign(action: dict) -> dict:
    cid = sdk.action_hash(action, None, NONCE, None)
    message = encode_typed_data(full_message=sdk.l1_payload(sdk.construct_phantom_agent(cid, IS_MAINNET)))
    signed = ACCOUNT.sign_message(message)
    return {"r": hex(signed.r), "s": hex(signed.s), "v": signed.v}


def _hlmm_sign() -> dict:
    return sign_l1_action(WALLET, ACTION, None, NONCE, None, IS_MAINNET)


EXPECTED = _hlmm_sign()


@pytest.mark.benchmark(group="sign-l1-10-orders")
def test_sign_hlmm(benchmark):
    assert benchmark(_hlmm_sign) == EXPECTED


@pytest.mark.benchmark(group="sign-l1-10-orders")
def test_sign_eth_account_generic(benchmark):
    assert benchmark(_eth_account_sign, ACTION) == EXPECTED


@pytest.mark.benchmark(group="sign-l1-10-orders")
def test_sign_official_sdk(benchmark):
    assert benchmark(sdk.sign_l1_action, ACCOUNT, ACTION, None, NONCE, None, IS_MAINNET) == EXPECTED


@pytest.mark.benchmark(group="recover-l1-10-orders")
def test_recover_hlmm(benchmark):
    address = benchmark(recover_l1_signer, ACTION, None, NONCE, None, IS_MAINNET, EXPECTED)
    assert address == WALLET.address


@pytest.mark.benchmark(group="recover-l1-10-orders")
def test_recover_official_sdk(benchmark):
    vrs = {"r": int(EXPECTED["r"], 16), "s": int(EXPECTED["s"], 16), "v": EXPECTED["v"]}
    address = benchmark(sdk.recover_agent_or_user_from_l1_action, ACTION, vrs, None, NONCE, None, IS_MAINNET)
    assert address == WALLET.address


@pytest.mark.benchmark(group="connection-id-10-orders")
def test_action_hash_hlmm(benchmark):
    assert benchmark(action_hash, ACTION, None, NONCE, None) == sdk.action_hash(ACTION, None, NONCE, None)


@pytest.mark.benchmark(group="connection-id-10-orders")
def test_action_hash_official_sdk(benchmark):
    assert benchmark(sdk.action_hash, ACTION, None, NONCE, None) == action_hash(ACTION, None, NONCE, None)


_STRUCT = bytes(range(96))


@pytest.mark.benchmark(group="keccak-96B")
def test_keccak_hlmm_safe_pysha3(benchmark):
    from hlmm.exchange.ethcrypto import keccak256

    assert benchmark(keccak256, _STRUCT) == sdk.keccak(_STRUCT)


@pytest.mark.benchmark(group="keccak-96B")
def test_keccak_pycryptodome(benchmark):
    from Crypto.Hash import keccak

    def run() -> bytes:
        return keccak.new(digest_bits=256, data=_STRUCT).digest()

    assert benchmark(run) == sdk.keccak(_STRUCT)


@pytest.mark.benchmark(group="keccak-96B")
def test_keccak_eth_hash(benchmark):
    from eth_hash.auto import keccak

    assert benchmark(keccak, _STRUCT) == sdk.keccak(_STRUCT)
