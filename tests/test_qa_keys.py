"""QA: damaged keystore files are refused with a clear message, quickly.

A keystore's KDF parameters say how much work decrypting it takes; a damaged or hostile file
(scrypt r = 1e6) used to keep the process computing for hours instead of failing."""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest

from hlmm.exchange.keys import KeyLoadError, Wallet

# A real keystore v3 file written by eth-account (Account.encrypt, scrypt n=2**18, r=8, p=1)
# would take a second to write; the KDF section is what matters, so the file is built from a
# cheap one and only its parameters are edited.
PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def keystore() -> dict:
    from eth_account import Account

    return Account.encrypt("0x" + "5a" * 32, PASSWORD, kdf="scrypt", iterations=2 ** 10)


def write(tmp_path: Path, keyfile: dict) -> Path:
    path = tmp_path / "k.json"
    path.write_text(json.dumps(keyfile))
    return path


def test_cheap_real_keystore_still_loads(tmp_path: Path, keystore: dict) -> None:
    wallet = Wallet.from_keystore(write(tmp_path, keystore), password=PASSWORD)
    assert wallet.address.lower() == "0x" + keystore["address"].lower().removeprefix("0x")


@pytest.mark.parametrize("field, value", [
    ("r", 10 ** 6), ("p", 10 ** 6), ("n", 2 ** 40), ("dklen", 10 ** 9), ("dklen", 16),
])
def test_scrypt_parameters_beyond_any_real_keystore_are_refused_fast(tmp_path: Path, keystore: dict,
                                                                     field: str, value: int) -> None:
    bad = copy.deepcopy(keystore)
    bad["crypto"]["kdfparams"][field] = value
    start = time.monotonic()
    with pytest.raises(KeyLoadError) as err:
        Wallet.from_keystore(write(tmp_path, bad), password=PASSWORD)
    assert time.monotonic() - start < 5
    assert f"kdfparams.{field} = {value}" in str(err.value)
    assert "damaged" in str(err.value)


def test_pbkdf2_rounds_beyond_any_real_keystore_are_refused_fast(tmp_path: Path) -> None:
    from eth_account import Account

    bad = Account.encrypt("0x" + "5a" * 32, PASSWORD, kdf="pbkdf2", iterations=2)
    bad["crypto"]["kdfparams"]["c"] = 10 ** 12
    start = time.monotonic()
    with pytest.raises(KeyLoadError, match=r"kdfparams\.c = 1000000000000"):
        Wallet.from_keystore(write(tmp_path, bad), password=PASSWORD)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("kdf", [["scrypt"], {"a": 1}, 5, None])
def test_kdf_name_of_the_wrong_type_is_a_damaged_file(tmp_path: Path, keystore: dict, kdf: object) -> None:
    bad = copy.deepcopy(keystore)
    bad["crypto"]["kdf"] = kdf
    with pytest.raises(KeyLoadError, match="damaged"):
        Wallet.from_keystore(write(tmp_path, bad), password=PASSWORD)
