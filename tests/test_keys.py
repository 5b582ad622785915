"""hlmm.exchange.keys and nonces: loading keys, never leaking them, credentials, nonces."""
from __future__ import annotations

import copy
import io
import json
import logging
import os
import pickle
import stat
import threading
import traceback

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm.exchange.ethcrypto import SECP256K1_N, checksum_address
from hlmm.exchange.keys import Credentials, KeyLoadError, Wallet
from hlmm.exchange.nonces import NonceSource, nonce_source_for

# Secrets used below are kept in variables (never written into a call's source line)
# so a traceback's source text cannot show them by accident.
KEY = "0xe908f86dbb4d55ac876378565aafeabc187f6690f046459397b17d9b9a19688e"
ADDRESS = "0xcD49bbAc6E85fdEB167EB7cA41A945d2b8758F6F"
KEY2 = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS2 = "0x14791697260E4c9A71f18484C9f997B308e59325"
PASSWORD = "correct horse battery staple"


def fragments(secret: str, width: int = 6) -> list[str]:
    digits = secret.lower().removeprefix("0x")
    return [digits[i : i + width] for i in range(len(digits) - width + 1)]


def assert_no_leak(text: str, *secrets: str) -> None:
    low = text.lower()
    for secret in secrets:
        for frag in fragments(secret):
            assert frag not in low, f"fragment {frag!r} of a secret leaked into: {text!r}"


def assert_clean_error(exc: BaseException, *secrets: str) -> None:
    """The error, its chain and its formatted traceback hold no part of the secrets."""
    assert exc.__cause__ is None
    assert exc.__context__ is None
    assert_no_leak(str(exc), *secrets)
    assert_no_leak(repr(exc), *secrets)
    assert_no_leak("".join(traceback.format_exception(exc)), *secrets)


# --- loading -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        KEY,
        KEY[2:],
        KEY.upper().replace("0X", "0x"),
        "0X" + KEY[2:],
        f"  {KEY}\n",
        KEY.encode(),
        bytearray(KEY.encode()),
    ],
    ids=["0x", "bare", "upper", "0X", "whitespace", "bytes", "bytearray"],
)
def test_from_hex_forms(form):
    wallet = Wallet.from_hex(form)
    assert wallet.address == ADDRESS == Account.from_key(KEY).address


def test_from_hex_scrubs_a_bytearray():
    buf = bytearray(KEY.encode())
    Wallet.from_hex(buf)
    assert buf == bytearray(len(KEY))
    bad = bytearray(b"0x" + b"zz" * 32)
    with pytest.raises(KeyLoadError):
        Wallet.from_hex(bad)
    assert bad == bytearray(len(bad))


def test_wallet_cannot_be_built_directly():
    with pytest.raises(TypeError, match=r"build a Wallet with Wallet.from_env\(\)"):
        Wallet(KEY)  # type: ignore[call-arg]


_LONG = KEY + "ab"
_SHORT = KEY[:-1]
_NONHEX = KEY[:-1] + "g"
_UNICODE = KEY[:-1] + "é"
_ZERO = "0x" + "0" * 64
_TOO_BIG = f"0x{SECP256K1_N:064x}"
_ADDRESS_NOT_KEY = ADDRESS


@pytest.mark.parametrize(
    "bad, message",
    [
        ("", "the private key is empty"),
        ("0x", "the private key is empty"),
        ("   ", "the private key is empty"),
        (_SHORT, r"the private key has 63 hex digits; a private key has 64 \(32 bytes\), optionally prefixed with 0x$"),
        (_LONG, "the private key has 66 hex digits"),
        (_ADDRESS_NOT_KEY, r"has 40 hex digits.*\(40 digits is an address, not a private key\)"),
        (_NONHEX, "the private key contains characters that are not hexadecimal digits"),
        (_UNICODE, "the private key contains characters that are not hexadecimal digits"),
        (_UNICODE.encode("utf-8"), "the private key contains characters that are not hexadecimal digits"),
        (_ZERO, "the private key is not a valid secp256k1 private key"),
        (_TOO_BIG, "the private key is not a valid secp256k1 private key"),
        (12345, "the private key must be a hex string, got int"),
    ],
)
def test_from_hex_errors_are_specific_and_leak_nothing(bad, message):
    with pytest.raises(KeyLoadError, match=message) as info:
        Wallet.from_hex(bad)
    assert_clean_error(info.value, KEY)


def test_from_env(monkeypatch):
    monkeypatch.setenv("HLMM_PRIVATE_KEY", KEY)
    assert Wallet.from_env().address == ADDRESS
    monkeypatch.setenv("MY_AGENT_KEY", KEY2 + "\n")
    assert Wallet.from_env("MY_AGENT_KEY").address == ADDRESS2


def test_from_env_errors(monkeypatch):
    monkeypatch.delenv("HLMM_PRIVATE_KEY", raising=False)
    with pytest.raises(KeyLoadError, match="environment variable HLMM_PRIVATE_KEY is not set") as info:
        Wallet.from_env()
    assert_clean_error(info.value, KEY)
    monkeypatch.setenv("HLMM_PRIVATE_KEY", "")
    with pytest.raises(KeyLoadError, match="environment variable HLMM_PRIVATE_KEY is empty"):
        Wallet.from_env()
    monkeypatch.setenv("HLMM_PRIVATE_KEY", _SHORT)
    with pytest.raises(KeyLoadError, match="environment variable HLMM_PRIVATE_KEY has 63 hex digits") as info:
        Wallet.from_env()
    assert_clean_error(info.value, KEY)
    monkeypatch.setenv("HLMM_PRIVATE_KEY", _NONHEX)
    with pytest.raises(KeyLoadError, match="contains characters that are not hexadecimal digits") as info:
        Wallet.from_env()
    assert_clean_error(info.value, KEY)


# --- keystore ------------------------------------------------------------------------


@pytest.fixture
def keystore(tmp_path):
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(Account.encrypt(KEY, PASSWORD, kdf="pbkdf2", iterations=2)))
    return path


@pytest.fixture(autouse=True)
def _no_password_env(monkeypatch):
    monkeypatch.delenv("HLMM_KEYSTORE_PASSWORD", raising=False)


def test_keystore_round_trip_with_password(keystore):
    assert Wallet.from_keystore(keystore, password=PASSWORD).address == ADDRESS
    assert Wallet.from_keystore(str(keystore), password=PASSWORD).address == ADDRESS


def test_keystore_password_from_env(keystore, monkeypatch):
    monkeypatch.setenv("HLMM_KEYSTORE_PASSWORD", PASSWORD)
    assert Wallet.from_keystore(keystore).address == ADDRESS
    monkeypatch.delenv("HLMM_KEYSTORE_PASSWORD")
    monkeypatch.setenv("OTHER_PW", PASSWORD)
    assert Wallet.from_keystore(keystore, password_env="OTHER_PW").address == ADDRESS


def test_keystore_password_prompt(keystore, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    asked = []
    monkeypatch.setattr("sys.stdin", Tty())
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or PASSWORD)
    assert Wallet.from_keystore(keystore).address == ADDRESS
    assert asked == [f"Password for keystore {keystore}: "]
    with pytest.raises(KeyLoadError, match="needs a password"):
        Wallet.from_keystore(keystore, prompt=False)


def test_keystore_without_password_and_terminal(keystore):
    # pytest's stdin is not a terminal, so there is nobody to ask
    with pytest.raises(KeyLoadError, match=f"keystore {keystore} needs a password: set HLMM_KEYSTORE_PASSWORD"):
        Wallet.from_keystore(keystore)


def test_keystore_wrong_password(keystore):
    wrong = "not the password"
    with pytest.raises(KeyLoadError, match=f"^keystore {keystore}: wrong password$") as info:
        Wallet.from_keystore(keystore, password=wrong)
    assert_clean_error(info.value, KEY)
    assert PASSWORD not in str(info.value) and wrong not in str(info.value)


def test_keystore_scrypt_round_trip_via_save(tmp_path):
    wallet = Wallet.from_hex(KEY)
    path = tmp_path / "saved.json"
    wallet.save_keystore(path, PASSWORD, kdf="pbkdf2", iterations=2)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert_no_leak(path.read_text(), KEY)  # encrypted on disk
    assert Wallet.from_keystore(path, password=PASSWORD) == wallet
    with pytest.raises(FileExistsError):
        wallet.save_keystore(path, PASSWORD, kdf="pbkdf2", iterations=2)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", r"is not valid JSON \(Expecting property name enclosed in double quotes at line 1 column 2\)"),
        ("[1, 2]", r"is not an Ethereum keystore v3 file \(no 'crypto' section\)"),
        ('{"version": 3}', r"is not an Ethereum keystore v3 file \(no 'crypto' section\)"),
        ('{"version": 1, "crypto": {}}', "has version 1; only version 3 is supported"),
    ],
)
def test_keystore_garbled(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(KeyLoadError, match=message) as info:
        Wallet.from_keystore(path, password=PASSWORD)
    assert_clean_error(info.value, KEY)


def test_keystore_damaged_fields(keystore):
    data = json.loads(keystore.read_text())
    del data["crypto"]["ciphertext"]
    keystore.write_text(json.dumps(data))
    with pytest.raises(KeyLoadError, match="the file is damaged: missing field 'ciphertext'") as info:
        Wallet.from_keystore(keystore, password=PASSWORD)
    assert_clean_error(info.value, KEY)


def test_keystore_bad_kdf(keystore):
    data = json.loads(keystore.read_text())
    data["crypto"]["kdf"] = "argon9"
    keystore.write_text(json.dumps(data))
    with pytest.raises(KeyLoadError, match="damaged or") as info:
        Wallet.from_keystore(keystore, password=PASSWORD)
    assert_clean_error(info.value, KEY)


def test_keystore_address_field_must_match(keystore):
    data = json.loads(keystore.read_text())
    data["address"] = "11" * 20
    keystore.write_text(json.dumps(data))
    with pytest.raises(KeyLoadError, match="'address' field does not match the key"):
        Wallet.from_keystore(keystore, password=PASSWORD)


def test_keystore_unreadable(tmp_path):
    with pytest.raises(KeyLoadError, match=r"cannot read keystore .*missing.json: no such file"):
        Wallet.from_keystore(tmp_path / "missing.json", password=PASSWORD)
    with pytest.raises(KeyLoadError, match="cannot read keystore .*: it is a directory"):
        Wallet.from_keystore(tmp_path, password=PASSWORD)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(KeyLoadError, match="cannot read keystore .*: it is not a text file"):
        Wallet.from_keystore(binary, password=PASSWORD)


# --- the key never shows -------------------------------------------------------------


def test_wallet_text_forms_hide_the_key():
    wallet = Wallet.from_hex(KEY)
    for text in (repr(wallet), str(wallet), f"{wallet}", f"{wallet!r}", f"{wallet:>80}", "%s %r" % (wallet, wallet)):
        assert ADDRESS in text
        assert_no_leak(text, KEY)
    assert repr(wallet) == f"Wallet(address={ADDRESS})"


def test_wallet_refuses_pickling_and_has_no_dict():
    wallet = Wallet.from_hex(KEY)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled") as info:
            pickle.dumps(wallet, protocol=protocol)
        assert_no_leak(str(info.value), KEY)
    with pytest.raises(TypeError, match="cannot be pickled"):
        wallet.__getstate__()
    with pytest.raises(TypeError):
        vars(wallet)
    assert not hasattr(wallet, "__dict__")
    with pytest.raises(TypeError):
        json.dumps(wallet)
    assert copy.copy(wallet) is wallet and copy.deepcopy(wallet) is wallet


def test_wallet_is_immutable():
    wallet = Wallet.from_hex(KEY)
    with pytest.raises(AttributeError, match="immutable"):
        wallet._address = ADDRESS2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del wallet._address
    assert wallet.address == ADDRESS


def test_stdlib_logging_of_a_wallet_leaks_nothing():
    wallet = Wallet.from_hex(KEY)
    creds = Credentials(wallet, vault_address="0x" + "ab" * 20)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s %(wallet)s"))
    logger = logging.getLogger("hlmm.test.keys")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        logger.info("wallet %s / %r / creds %s", wallet, wallet, creds, extra={"wallet": wallet})
        logger.warning(wallet, extra={"wallet": creds})
        try:
            raise RuntimeError("signing failed", wallet)
        except RuntimeError:
            logger.exception("with traceback", extra={"wallet": wallet})
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert text.count(ADDRESS) >= 5
    assert_no_leak(text, KEY)


def test_hlmm_log_of_a_wallet_leaks_nothing():
    hlmm_log = pytest.importorskip("hlmm.log")
    wallet = Wallet.from_hex(KEY)
    creds = Credentials(wallet)
    log = hlmm_log.get_logger("engine")
    with hlmm_log.capture_logs() as records:
        log.info("session_start", account=wallet, vault=creds, venue="testnet")
        try:
            Wallet.from_hex(_SHORT)
        except KeyLoadError as exc:
            log.error("error", where="keys", error=exc, detail=repr(exc))
        logging.getLogger("thirdparty").warning("got %r", wallet)
    text = json.dumps(records)
    assert ADDRESS in text
    assert_no_leak(text, KEY)


def test_exceptions_carrying_a_wallet_leak_nothing():
    wallet = Wallet.from_hex(KEY)
    try:
        raise ValueError("could not sign", wallet, {"wallet": wallet})
    except ValueError as exc:
        assert_no_leak("".join(traceback.format_exception(exc)), KEY)


# --- signing a digest ----------------------------------------------------------------


def test_sign_digest_matches_eth_account():
    wallet = Wallet.from_hex(KEY)
    digest = bytes(range(32))
    signed = Account.unsafe_sign_hash(digest, KEY)
    assert wallet.sign_digest(digest) == (signed.r, signed.s, signed.v)
    with pytest.raises(ValueError, match="sign_digest needs exactly 32 bytes"):
        wallet.sign_digest(digest[:31])
    with pytest.raises(ValueError, match="sign_digest needs exactly 32 bytes"):
        wallet.sign_digest(digest.hex())  # type: ignore[arg-type]


def test_generate_gives_distinct_working_wallets():
    from hlmm.exchange.signing import recover_l1_signer, sign_l1_action

    a, b = Wallet.generate(), Wallet.generate()
    assert a != b and a.address != b.address
    sig = sign_l1_action(a, {"type": "noop"}, None, 1, None, False)
    assert recover_l1_signer({"type": "noop"}, None, 1, None, False, sig) == a.address


def test_checksum_address_matches_eth_utils():
    from eth_utils import to_checksum_address

    for i in range(50):
        raw = bytes((i * 37 + j * 11) % 256 for j in range(20))
        assert checksum_address(raw) == to_checksum_address("0x" + raw.hex())


# --- credentials ---------------------------------------------------------------------


def test_credentials_for_the_master_itself():
    creds = Credentials(Wallet.from_hex(KEY))
    assert creds.signer_address == creds.account_address == ADDRESS
    assert creds.vault_address is None
    assert creds.state_address == ADDRESS.lower()
    assert not creds.is_agent


def test_credentials_for_an_agent_and_a_vault():
    agent = Wallet.from_hex(KEY)
    vault = "0x1719884EB866cb12b2287399b15f7db5e7d775ea"
    creds = Credentials(agent, account_address=ADDRESS2.lower(), vault_address=vault)
    assert creds.signer_address == ADDRESS
    assert creds.account_address == ADDRESS2  # checksummed
    assert creds.vault_address == vault.lower()
    assert creds.state_address == vault.lower()
    assert creds.is_agent
    text = repr(creds) + str(creds)
    assert_no_leak(text, KEY)
    assert repr(creds) == f"Credentials(signer={ADDRESS}, account={ADDRESS2}, vault={vault.lower()})"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(creds)
    with pytest.raises(TypeError):
        vars(creds)


def test_credentials_errors_do_not_echo_values():
    wallet = Wallet.from_hex(KEY)
    with pytest.raises(TypeError, match="Credentials needs a Wallet .* got str") as info:
        Credentials(KEY)  # type: ignore[arg-type]
    assert_no_leak(str(info.value), KEY)
    # A private key pasted where an address belongs must not be quoted back.
    with pytest.raises(ValueError, match="account_address must be 0x followed by 40 hex digits, got 64 digits") as info2:
        Credentials(wallet, account_address=KEY2)
    assert_no_leak(str(info2.value), KEY2)
    with pytest.raises(ValueError, match="vault_address must be 0x followed by 40 hex digits"):
        Credentials(wallet, vault_address="vault-1")


def test_credentials_of_one_signer_share_nonces():
    agent = Wallet.from_hex(KEY2)
    main = Credentials(agent, account_address=ADDRESS)
    sub = Credentials(agent, account_address=ADDRESS, vault_address="0x" + "12" * 20)
    assert main.nonces is sub.nonces is nonce_source_for(ADDRESS2.lower())
    assert Credentials(Wallet.from_hex(KEY)).nonces is not main.nonces
    first, second = main.nonces.next(), sub.nonces.next()
    assert second > first


# --- nonces --------------------------------------------------------------------------


def test_nonces_in_one_millisecond_still_increase():
    source = NonceSource(clock_ms=lambda: 1_700_000_000_000)
    assert [source.next() for _ in range(3)] == [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_002]


def test_nonces_fast_forward_and_survive_a_clock_step_back():
    now = [1_000]
    source = NonceSource(clock_ms=lambda: now[0])
    assert source.next() == 1_000
    now[0] = 5_000
    assert source.next() == 5_000  # jumps to the clock
    now[0] = 4_000  # NTP stepped back
    assert source.next() == 5_001
    source.observe(9_000)
    assert source.next() == 9_001
    source.observe(10)
    assert source.next() == 9_002 and source.last == 9_002
    assert repr(source) == "NonceSource(last=9002)"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**50), min_size=1, max_size=200))
def test_nonces_strictly_increase_and_never_lag_the_clock(clock_values):
    ticks = iter(clock_values)
    source = NonceSource(clock_ms=lambda: next(ticks))
    issued = []
    for now in clock_values:
        issued.append(source.next())
        assert issued[-1] >= now
    assert all(b > a for a, b in zip(issued, issued[1:]))


def test_nonces_are_unique_across_threads():
    source = NonceSource()
    out: list[list[int]] = [[] for _ in range(4)]

    def work(bucket: list[int]) -> None:
        for _ in range(2000):
            bucket.append(source.next())

    threads = [threading.Thread(target=work, args=(b,)) for b in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [n for b in out for n in b]
    assert len(set(every)) == len(every) == 8000
    assert all(all(y > x for x, y in zip(b, b[1:])) for b in out)


def test_default_clock_is_wall_clock_ms():
    import time

    before = time.time_ns() // 1_000_000
    nonce = NonceSource().next()
    after = time.time_ns() // 1_000_000
    assert before <= nonce <= after
