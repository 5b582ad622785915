"""hlmm.exchange.signing against the official SDK vectors, eth-account and the SDK itself."""
from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import msgpack
import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm.exchange import user_actions
from hlmm.exchange.ethcrypto import SECP256K1_N
from hlmm.exchange.keys import Wallet
from hlmm.exchange.signing import (
    AGENT_TYPEHASH,
    L1_DOMAIN_SEPARATOR,
    USER_SIGNED_TYPES,
    SignatureError,
    SigningError,
    action_hash,
    l1_digest,
    recover_l1_signer,
    recover_user_signed_signer,
    sign_l1_action,
    sign_user_signed_action,
    user_signed_digest,
    user_signed_types,
)

VECTORS = json.loads((Path(__file__).parent / "fixtures" / "hyperliquid-signing-vectors.json").read_text())
ALL = VECTORS["vectors"]
L1 = [v for v in ALL if v["kind"] == "l1"]
USER = [v for v in ALL if v["kind"] == "user-signed"]
NETS = ("mainnet", "testnet")

PY_KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
PY_ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"
RUST_KEY = "0xe908f86dbb4d55ac876378565aafeabc187f6690f046459397b17d9b9a19688e"
RUST_ADDRESS = "0xcD49bbAc6E85fdEB167EB7cA41A945d2b8758F6F"


def _rsv(sig):
    """(r, s, v) ints from an SDK dict or a Rust 65-byte hex string."""
    if isinstance(sig, str):
        raw = bytes.fromhex(sig[2:])
        return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    return int(sig["r"], 16), int(sig["s"], 16), sig["v"]


def _vid(v):
    return v["name"]


def test_fixture_holds_every_vector_kind():
    assert len(ALL) == 28
    assert len(L1) == 20 and len(USER) == 6
    assert {v["source"] for v in L1} == {"python-sdk-test", "rust-sdk-test", "computed"}


# --- constants -----------------------------------------------------------------------


def test_eip712_constants_match_reference():
    consts = VECTORS["eip712_constants"]
    assert "0x" + L1_DOMAIN_SEPARATOR.hex() == consts["l1_domain_separator"]
    assert "0x" + AGENT_TYPEHASH.hex() == consts["agent_typehash"]
    # The user-signed separator is what the digest of a user action starts from.
    from hlmm.exchange.signing import _user_domain_separator

    assert "0x" + _user_domain_separator(0x66EEE).hex() == consts["user_signed_domain_separator_0x66eee"]


def test_reference_digests():
    dummy = next(v for v in L1 if v["name"] == "dummy")
    cid = action_hash(dummy["action"], None, 0, None)
    assert l1_digest(cid, True).hex() == "e0aabfac88a47d3e7028b6ba6a94b30c8afcfffac26cbce788cf362b1312eafa"
    usd = next(v for v in USER if v["name"] == "usdSend_testnet")
    primary, types = USER_SIGNED_TYPES["usdSend"]
    digest = user_signed_digest(usd["message_after_signing"], types, primary)
    assert digest.hex() == "cacf7585cc49ca60c6c5fb3001e226c0ca03c46252c893eea574c78907b7cebe"


# --- L1 vectors ----------------------------------------------------------------------


@pytest.mark.parametrize("vec", L1, ids=_vid)
def test_l1_msgpack_and_connection_id(vec):
    assert msgpack.packb(vec["action"]).hex() == vec["msgpack_hex"]
    cid = action_hash(vec["action"], vec["vaultAddress"], vec["nonce"], vec["expiresAfter"])
    assert "0x" + cid.hex() == vec["connectionId"]


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("vec", L1, ids=_vid)
def test_l1_signature_matches_vector(vec, net):
    wallet = Wallet.from_hex(vec["private_key"])
    args = (vec["action"], vec["vaultAddress"], vec["nonce"], vec["expiresAfter"], net == "mainnet")
    sig = sign_l1_action(wallet, *args)
    assert _rsv(sig) == _rsv(vec[net])
    assert sig == sign_l1_action(vec["private_key"], *args)  # hex-string key convenience
    if isinstance(vec[net], dict):  # SDK formatting: to_hex(int), no zero padding
        assert sig == vec[net]


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("vec", L1, ids=_vid)
def test_l1_recovery_matches_vector(vec, net):
    args = (vec["action"], vec["vaultAddress"], vec["nonce"], vec["expiresAfter"], net == "mainnet")
    assert recover_l1_signer(*args, vec[net]) == vec["address"]
    r, s, v = _rsv(vec[net])
    padded = {"r": f"0x{r:064x}", "s": f"0x{s:064x}", "v": v}
    assert recover_l1_signer(*args, padded) == vec["address"]
    assert recover_l1_signer(*args, "0x" + f"{r:064x}{s:064x}{v:02x}") == vec["address"]


def test_l1_recovery_on_other_network_gives_another_address():
    vec = L1[0]
    args = (vec["action"], vec["vaultAddress"], vec["nonce"], vec["expiresAfter"])
    assert recover_l1_signer(*args, False, vec["mainnet"]) != vec["address"]


def test_phantom_agent_connection_id():
    vec = next(v for v in ALL if v["kind"] == "connectionId")
    cid = action_hash(vec["action"], vec["vaultAddress"], vec["nonce"], vec["expiresAfter"])
    assert "0x" + cid.hex() == vec["connectionId"] == vec["phantom_agent_mainnet"]["connectionId"]
    assert msgpack.packb(vec["action"]).hex() == vec["msgpack_hex"]


@pytest.mark.parametrize("net", NETS)
def test_rust_sign_given_connection_id(net):
    vec = next(v for v in ALL if v["kind"] == "l1-connectionId-only")
    wallet = Wallet.from_hex(vec["private_key"])
    digest = l1_digest(bytes.fromhex(vec["connectionId"][2:]), net == "mainnet")
    assert wallet.sign_digest(digest) == _rsv(vec[net])


# --- user-signed vectors -------------------------------------------------------------


def _user_case(vec):
    """(action type, message without chain fields, is_mainnet, expected signature)."""
    name = vec["name"]
    action_type = "usdSend" if "usdSend" in name else "withdraw3" if "withdraw3" in name else "approveBuilderFee"
    if "message_after_signing" in vec:
        msg = {k: v for k, v in vec["message_after_signing"].items() if k not in ("signatureChainId", "hyperliquidChain")}
        return action_type, msg, vec["message_after_signing"]["hyperliquidChain"] == "Mainnet", vec["testnet"]
    return action_type, dict(vec["message"]), vec["hyperliquidChain"] == "Mainnet", vec["signature"]


@pytest.mark.parametrize("vec", USER, ids=_vid)
def test_user_signed_vector(vec):
    action_type, msg, is_mainnet, expected = _user_case(vec)
    primary, types = user_signed_types(action_type)
    action = dict(msg)
    sig = sign_user_signed_action(vec["private_key"], action, types, primary, is_mainnet)
    assert _rsv(sig) == _rsv(expected)
    assert action["signatureChainId"] == "0x66eee"
    assert action["hyperliquidChain"] == ("Mainnet" if is_mainnet else "Testnet")
    if "message_after_signing" in vec:
        assert action == vec["message_after_signing"]
        assert sig == expected
    address = PY_ADDRESS if vec["private_key"] == PY_KEY else RUST_ADDRESS
    assert recover_user_signed_signer(action, types, primary, expected) == address
    assert recover_user_signed_signer(action, types, primary, sig) == address


# --- cross-checks against eth-account and the official SDK ---------------------------

_L1_TYPES = {
    "Agent": [{"name": "source", "type": "string"}, {"name": "connectionId", "type": "bytes32"}],
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
}
_ZERO = "0x0000000000000000000000000000000000000000"


def _eth_account_l1(key, cid, is_mainnet):
    message = encode_typed_data(
        full_message={
            "domain": {"chainId": 1337, "name": "Exchange", "verifyingContract": _ZERO, "version": "1"},
            "types": _L1_TYPES,
            "primaryType": "Agent",
            "message": {"source": "a" if is_mainnet else "b", "connectionId": cid},
        }
    )
    return message


_hex_addr = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
_px = st.integers(1, 10**9).map(lambda n: f"{n / 100:.2f}".rstrip("0").rstrip("."))
_order = st.fixed_dictionaries(
    {
        "a": st.integers(0, 10_000),
        "b": st.booleans(),
        "p": _px,
        "s": _px,
        "r": st.booleans(),
        "t": st.sampled_from([{"limit": {"tif": t}} for t in ("Alo", "Ioc", "Gtc")]),
    }
).flatmap(
    lambda w: st.one_of(st.just(w), st.integers(0, 2**128 - 1).map(lambda c: {**w, "c": f"0x{c:032x}"}))
)
_action = st.one_of(
    st.lists(_order, min_size=1, max_size=12).map(lambda o: {"type": "order", "orders": o, "grouping": "na"}),
    st.lists(st.fixed_dictionaries({"a": st.integers(0, 200), "o": st.integers(0, 2**63)}), min_size=1, max_size=8).map(
        lambda c: {"type": "cancel", "cancels": c}
    ),
    st.integers(0, 2**48).map(lambda t: {"type": "scheduleCancel", "time": t}),
)
_key = st.integers(1, SECP256K1_N - 1).map(lambda k: f"0x{k:064x}")


@settings(max_examples=60, deadline=None)
@given(
    key=_key,
    action=_action,
    vault=st.one_of(st.none(), _hex_addr),
    nonce=st.integers(0, 2**64 - 1),
    expires=st.one_of(st.none(), st.integers(0, 2**64 - 1)),
    is_mainnet=st.booleans(),
)
def test_l1_matches_eth_account_and_sdk(key, action, vault, nonce, expires, is_mainnet):
    from hyperliquid.utils import signing as sdk

    cid = action_hash(action, vault, nonce, expires)
    assert cid == sdk.action_hash(action, vault, nonce, expires)
    message = _eth_account_l1(key, cid, is_mainnet)
    assert l1_digest(cid, is_mainnet) == _hash_eip191_message(message)
    signed = Account.sign_message(message, private_key=key)
    ours = sign_l1_action(key, action, vault, nonce, expires, is_mainnet)
    assert _rsv(ours) == (signed.r, signed.s, signed.v)
    assert ours == sdk.sign_l1_action(Account.from_key(key), action, vault, nonce, expires, is_mainnet)
    expected = Account.from_key(key).address
    assert recover_l1_signer(action, vault, nonce, expires, is_mainnet, ours) == expected


def _eth_account_user(key, action, primary, types):
    message = encode_typed_data(
        full_message={
            "domain": {
                "name": "HyperliquidSignTransaction",
                "version": "1",
                "chainId": int(action["signatureChainId"], 16),
                "verifyingContract": _ZERO,
            },
            "types": {primary: list(types), "EIP712Domain": _L1_TYPES["EIP712Domain"]},
            "primaryType": primary,
            "message": action,
        }
    )
    return Account.sign_message(message, private_key=key)


_amount = st.integers(0, 10**12).map(lambda n: str(Decimal(n) / 1000).rstrip("0").rstrip(".") if n % 1000 else str(n // 1000))
_user_action = st.one_of(
    st.builds(user_actions.usd_send_action, _hex_addr, _amount, st.integers(0, 2**63)),
    st.builds(user_actions.withdraw_action, _hex_addr, _amount, st.integers(0, 2**63)),
    st.builds(user_actions.usd_class_transfer_action, _amount, st.booleans(), st.integers(0, 2**63)),
    st.builds(
        user_actions.approve_builder_fee_action,
        _hex_addr,
        st.sampled_from(["0.001%", "0.1%", "1%"]),
        st.integers(0, 2**63),
    ),
    st.builds(
        user_actions.approve_agent_action,
        _hex_addr,
        st.one_of(st.none(), st.just(""), st.text(min_size=1, max_size=20)),
        st.integers(0, 2**63),
    ),
)


@settings(max_examples=60, deadline=None)
@given(key=_key, action=_user_action, is_mainnet=st.booleans())
def test_user_signed_matches_eth_account(key, action, is_mainnet):
    primary, types = user_signed_types(action["type"])
    sent = copy.deepcopy(action)
    ours = sign_user_signed_action(key, sent, types, primary, is_mainnet)
    signed_view = dict(sent)
    if action["type"] == "approveAgent":
        signed_view.setdefault("agentName", "")  # dropped from the JSON when empty, signed as ""
    theirs = _eth_account_user(key, signed_view, primary, types)
    assert _rsv(ours) == (theirs.r, theirs.s, theirs.v)
    assert recover_user_signed_signer(sent, types, primary, ours) == Account.from_key(key).address


# --- user-signed semantics -----------------------------------------------------------


@pytest.mark.parametrize("name", [None, ""])
def test_approve_agent_without_name_drops_field_but_signs_empty(name):
    primary, types = user_signed_types("approveAgent")
    action = user_actions.approve_agent_action("0x" + "ab" * 20, name, 1_700_000_000_000)
    sig = sign_user_signed_action(PY_KEY, action, types, primary, True)
    assert "agentName" not in action
    theirs = _eth_account_user(PY_KEY, {**action, "agentName": ""}, primary, types)
    assert _rsv(sig) == (theirs.r, theirs.s, theirs.v)
    assert recover_user_signed_signer(action, types, primary, sig) == PY_ADDRESS


def test_approve_agent_with_name_keeps_it():
    primary, types = user_signed_types("approveAgent")
    action = user_actions.approve_agent_action("0x" + "AB" * 20, "mm-bot", 1_700_000_000_000)
    sig = sign_user_signed_action(PY_KEY, action, types, primary, False)
    assert action["agentName"] == "mm-bot" and action["agentAddress"] == "0x" + "ab" * 20
    assert recover_user_signed_signer(action, types, primary, sig) == PY_ADDRESS
    action["agentName"] = "other"
    assert recover_user_signed_signer(action, types, primary, sig) != PY_ADDRESS


def test_user_signed_action_left_untouched_when_signing_fails():
    primary, types = user_signed_types("usdSend")
    action = {"type": "usdSend", "destination": "0x" + "11" * 20, "amount": "1"}  # no "time"
    with pytest.raises(SigningError, match="lacks field 'time'"):
        sign_user_signed_action(PY_KEY, action, types, primary, True)
    assert action == {"type": "usdSend", "destination": "0x" + "11" * 20, "amount": "1"}


def test_user_signed_recovery_uses_the_actions_chain_id():
    primary, types = user_signed_types("usdSend")
    action = user_actions.usd_send_action("0x" + "11" * 20, "5", 1)
    sig = sign_user_signed_action(PY_KEY, action, types, primary, True)
    assert recover_user_signed_signer({**action, "signatureChainId": "0xa4b1"}, types, primary, sig) != PY_ADDRESS
    # A wallet may sign on any chain: recovery follows the action's signatureChainId.
    arbitrum = {**action, "signatureChainId": "0xa4b1"}
    theirs = _eth_account_user(PY_KEY, arbitrum, primary, types)
    assert recover_user_signed_signer(arbitrum, types, primary, {"r": hex(theirs.r), "s": hex(theirs.s), "v": theirs.v}) == PY_ADDRESS


def test_destination_case_changes_the_hash_and_builders_lowercase():
    primary, types = user_signed_types("usdSend")
    mixed = "0x0D1d9635D0640821d15e323ac8AdADfA9c111414"
    base = {"signatureChainId": "0x66eee", "hyperliquidChain": "Mainnet", "amount": "1", "time": 5}
    assert user_signed_digest({**base, "destination": mixed}, types, primary) != user_signed_digest(
        {**base, "destination": mixed.lower()}, types, primary
    )
    assert user_actions.usd_send_action(mixed, "1", 5)["destination"] == mixed.lower()
    assert user_actions.withdraw_action(mixed, "1", 5)["destination"] == mixed.lower()


def test_builders_shape_and_validation():
    vault = "0x" + "Cd" * 20
    action = user_actions.usd_class_transfer_action("12.5", True, 7, vault_address=vault)
    assert action == {"type": "usdClassTransfer", "amount": "12.5 subaccount:0x" + "cd" * 20, "toPerp": True, "nonce": 7}
    fee = user_actions.approve_builder_fee_action("0x" + "AA" * 20, "0.001%", 9)
    assert fee == {"type": "approveBuilderFee", "maxFeeRate": "0.001%", "builder": "0x" + "aa" * 20, "nonce": 9}
    with pytest.raises(ValueError, match="amount must be a decimal string"):
        user_actions.usd_send_action("0x" + "11" * 20, 1.5, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="amount must be a decimal string"):
        user_actions.usd_send_action("0x" + "11" * 20, "1e3", 5)
    with pytest.raises(ValueError, match="max_fee_rate must be a percent string"):
        user_actions.approve_builder_fee_action("0x" + "11" * 20, "0.001", 5)
    with pytest.raises(ValueError, match="destination must be 0x followed by 40 hex digits"):
        user_actions.usd_send_action("0x1234", "1", 5)
    with pytest.raises(ValueError, match="to_perp must be True or False"):
        user_actions.usd_class_transfer_action("1", 1, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time must be a non-negative integer"):
        user_actions.withdraw_action("0x" + "11" * 20, "1", -1)


def test_user_signed_types_table():
    assert set(USER_SIGNED_TYPES) == {"approveAgent", "usdSend", "withdraw3", "usdClassTransfer", "approveBuilderFee"}
    from hyperliquid.utils import signing as sdk

    assert list(USER_SIGNED_TYPES["usdSend"][1]) == sdk.USD_SEND_SIGN_TYPES
    assert list(USER_SIGNED_TYPES["withdraw3"][1]) == sdk.WITHDRAW_SIGN_TYPES
    assert list(USER_SIGNED_TYPES["usdClassTransfer"][1]) == sdk.USD_CLASS_TRANSFER_SIGN_TYPES
    with pytest.raises(SigningError, match="'spotSend' is not a user-signed action type this client signs"):
        user_signed_types("spotSend")


def test_tuple_payload_types_are_accepted():
    primary, types = user_signed_types("usdSend")
    pairs = [(t["name"], t["type"]) for t in types]
    action = {"destination": "0x" + "11" * 20, "amount": "1", "time": 3, "signatureChainId": "0x66eee", "hyperliquidChain": "Testnet"}
    assert user_signed_digest(action, pairs, primary) == user_signed_digest(action, types, primary)


# --- L1 hashing details --------------------------------------------------------------


def test_vault_case_does_not_change_the_hash_and_expiry_does():
    action = {"type": "noop"}
    lower = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"
    assert action_hash(action, lower, 1, None) == action_hash(action, lower.upper().replace("0X", "0x"), 1, None)
    assert action_hash(action, lower, 1, None) != action_hash(action, None, 1, None)
    assert action_hash(action, None, 1, None) != action_hash(action, None, 1, 2)
    assert action_hash(action, None, 1, 0) != action_hash(action, None, 1, None)


def test_key_order_is_hashed_as_given():
    a = {"type": "cancel", "cancels": [{"a": 1, "o": 2}]}
    b = {"type": "cancel", "cancels": [{"o": 2, "a": 1}]}
    assert action_hash(a, None, 0, None) != action_hash(b, None, 0, None)


# --- malformed input: specific errors, never a library traceback ---------------------

_GOOD = next(v for v in L1 if v["name"] == "dummy")
_ARGS = (_GOOD["action"], None, 0, None, True)
_R, _S = _GOOD["mainnet"]["r"], _GOOD["mainnet"]["s"]


@pytest.mark.parametrize(
    "signature, message",
    [
        (None, "signature must be an object with r, s and v, got NoneType"),
        ([1, 2, 3], "signature must be an object with r, s and v, got list"),
        ({"s": _S, "v": 27}, "signature is missing 'r'"),
        ({"r": _R, "v": 27}, "signature is missing 's'"),
        ({"r": _R, "s": _S}, "signature is missing 'v'"),
        ({"r": "53749d5b", "s": _S, "v": 27}, "signature r must be a 0x-prefixed hex string"),
        ({"r": "0xzz", "s": _S, "v": 27}, "signature r must be a 0x-prefixed hex string"),
        ({"r": "0x", "s": _S, "v": 27}, "signature r must be a 0x-prefixed hex string"),
        ({"r": _R, "s": 1.5, "v": 27}, "signature s must be a 0x-prefixed hex string, got float"),
        ({"r": "0x" + "1" * 65, "s": _S, "v": 27}, "signature r has 65 hex digits; at most 64 fit in 32 bytes"),
        ({"r": "0x0", "s": _S, "v": 27}, "signature r is out of range"),
        ({"r": _R, "s": hex(SECP256K1_N), "v": 27}, "signature s is out of range"),
        ({"r": _R, "s": _S, "v": 29}, "signature v must be 27 or 28, got 29"),
        ({"r": _R, "s": _S, "v": 0}, "signature v must be 27 or 28, got 0"),
        ({"r": _R, "s": _S, "v": "27"}, "signature v must be the integer 27 or 28, got str"),
        ({"r": _R, "s": _S, "v": True}, "signature v must be the integer 27 or 28, got bool"),
        ("0x1234", r"a signature string must be 0x followed by 130 hex digits \(r ‖ s ‖ v\)"),
        (b"\x01" * 64, r"a signature is 65 bytes \(r ‖ s ‖ v\), got 64"),
    ],
)
def test_malformed_signatures(signature, message):
    with pytest.raises(SignatureError, match=message):
        recover_l1_signer(*_ARGS, signature)


def test_signature_whose_r_is_not_on_the_curve():
    # r = 5 is not the x coordinate of any secp256k1 point (5**3 + 7 = 132 is a non-residue).
    with pytest.raises(SignatureError, match="the signature does not recover any public key"):
        recover_l1_signer(*_ARGS, {"r": "0x5", "s": _S, "v": 27})


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.text(max_size=140),
        st.binary(max_size=70),
        st.dictionaries(
            st.sampled_from(["r", "s", "v", "x"]),
            st.one_of(st.integers(-(2**300), 2**300), st.text(max_size=70), st.booleans(), st.none(), st.floats()),
        ),
        st.tuples(st.integers(1, SECP256K1_N - 1), st.integers(1, SECP256K1_N - 1), st.sampled_from([27, 28])).map(
            lambda t: {"r": hex(t[0]), "s": hex(t[1]), "v": t[2]}
        ),
    )
)
def test_any_signature_input_gives_an_address_or_a_signature_error(signature):
    try:
        address = recover_l1_signer(*_ARGS, signature)
    except SignatureError:
        return
    assert address.startswith("0x") and len(address) == 42


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"nonce": -1}, r"nonce must be an integer in \[0, 2\*\*64\), got int"),
        ({"nonce": 2**64}, r"nonce must be an integer in \[0, 2\*\*64\), got int"),
        ({"nonce": 1.0}, "nonce must be an integer .* got float"),
        ({"nonce": True}, "nonce must be an integer .* got bool"),
        ({"expires_after": "1"}, "expires_after must be an integer .* got str"),
        ({"vault_address": "0x1234"}, "vault_address must be 0x followed by 40 hex digits, got 4 digits"),
        ({"vault_address": "0x" + "g" * 40}, "vault_address must be 0x followed by 40 hex digits"),
        ({"vault_address": 5}, "vault_address must be a 0x-prefixed hex string or None, got int"),
        ({"is_mainnet": "testnet"}, "is_mainnet must be True or False, got str"),
        ({"is_mainnet": 1}, "is_mainnet must be True or False, got int"),
        ({"action": {"type": "order", "p": Decimal("1")}}, "the action cannot be msgpack-encoded"),
        ({"action": {"type": "dummy", "num": 2**70}}, "the action cannot be msgpack-encoded"),
    ],
)
def test_malformed_l1_inputs(kwargs, message):
    args = {"action": {"type": "noop"}, "vault_address": None, "nonce": 1, "expires_after": None, "is_mainnet": True}
    args.update(kwargs)
    with pytest.raises(SigningError, match=message):
        sign_l1_action(PY_KEY, **args)
    with pytest.raises(SigningError, match=message):
        recover_l1_signer(**args, signature=_GOOD["mainnet"])


def test_bad_key_argument():
    with pytest.raises(SigningError, match="key must be a Wallet or a hex private key string, got int"):
        sign_l1_action(12345, {"type": "noop"}, None, 1, None, True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "action, message",
    [
        ({"destination": "0x1", "amount": "1", "time": 1, "hyperliquidChain": "Mainnet"}, "signatureChainId must be"),
        ({"destination": 5, "amount": "1", "time": 1, "hyperliquidChain": "Mainnet", "signatureChainId": "0x66eee"}, "field 'destination' must be a string, got int"),
        ({"destination": "0x1", "amount": "1", "time": -1, "hyperliquidChain": "Mainnet", "signatureChainId": "0x66eee"}, r"field 'time' must be an integer in \[0, 2\*\*64\)"),
        ({"destination": "0x1", "amount": "1", "hyperliquidChain": "Mainnet", "signatureChainId": "0x66eee"}, "lacks field 'time' signed by HyperliquidTransaction:UsdSend"),
        (["not", "a", "dict"], "the action must be an object, got list"),
    ],
)
def test_malformed_user_signed_inputs(action, message):
    primary, types = user_signed_types("usdSend")
    with pytest.raises(SigningError, match=message):
        recover_user_signed_signer(action, types, primary, _GOOD["mainnet"])


def _digest_as(action_type, action):
    primary, types = user_signed_types(action_type)
    return user_signed_digest(action, types, primary)


def test_malformed_user_signed_field_types():
    base = {"signatureChainId": "0x66eee", "hyperliquidChain": "Mainnet"}
    with pytest.raises(SigningError, match="field 'toPerp' must be true or false, got int"):
        _digest_as("usdClassTransfer", {**base, "amount": "1", "toPerp": 1, "nonce": 1})
    with pytest.raises(SigningError, match="field 'builder' must be 0x followed by 40 hex digits"):
        _digest_as("approveBuilderFee", {**base, "maxFeeRate": "1%", "builder": "0x12", "nonce": 1})
    with pytest.raises(SigningError, match="unsupported EIP-712 field type 'int7'"):
        user_signed_digest({**base, "x": 1}, [{"name": "x", "type": "int7"}], "T")
    with pytest.raises(SigningError, match="payload_types must be a list of"):
        user_signed_digest({**base, "x": 1}, [{"name": "x"}], "T")
    with pytest.raises(SigningError, match="payload_types must be a list of"):
        user_signed_digest({**base, "x": 1}, [5], "T")
    with pytest.raises(SigningError, match="field 'h' must be 32 bytes"):
        user_signed_digest({**base, "h": "0x12"}, [{"name": "h", "type": "bytes32"}], "T")
    digest = user_signed_digest({**base, "h": "0x" + "ab" * 32}, [{"name": "h", "type": "bytes32"}], "T")
    assert digest == user_signed_digest({**base, "h": b"\xab" * 32}, [("h", "bytes32")], "T")
