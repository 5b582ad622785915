"""QA fix: a keystore naming a cipher other than aes-128-ctr is refused, not decrypted anyway.

eth-keyfile ignores ``crypto.cipher`` and always uses aes-128-ctr, so a file stating another
cipher decrypted as if it said aes-128-ctr. hlmm refuses it (KeyLoadError, no traceback), before
asking for the password.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from hlmm.exchange.keys import KeyLoadError, Wallet

PASSWORD = "correct horse"
SECRET_HEX = "5a" * 32


@pytest.fixture(scope="module")
def keystore() -> dict:
    from eth_account import Account

    return Account.encrypt("0x" + SECRET_HEX, PASSWORD, kdf="scrypt", iterations=2 ** 10)  # a real v3 file


def write(tmp_path: Path, keyfile: dict) -> Path:
    path = tmp_path / "k.json"
    path.write_text(json.dumps(keyfile))
    return path


def test_the_standard_cipher_loads(tmp_path: Path, keystore: dict) -> None:
    assert keystore["crypto"]["cipher"] == "aes-128-ctr"
    wallet = Wallet.from_keystore(write(tmp_path, keystore), password=PASSWORD)
    assert wallet.address.lower() == "0x" + keystore["address"].lower().removeprefix("0x")


@pytest.mark.parametrize("cipher", ["aes-256-cbc", "aes-128-cbc", "AES-128-CTR", "", "x" * 500])
def test_another_cipher_is_refused_as_unsupported(tmp_path: Path, keystore: dict, cipher: str) -> None:
    bad = copy.deepcopy(keystore)
    bad["crypto"]["cipher"] = cipher
    path = write(tmp_path, bad)
    with pytest.raises(KeyLoadError) as err:
        Wallet.from_keystore(path, password=PASSWORD)
    text = str(err.value)
    assert text.startswith(f"keystore {path}: unsupported cipher ")
    assert "only aes-128-ctr" in text and len(text) < 300
    assert SECRET_HEX not in text and PASSWORD not in text


def test_the_cipher_is_checked_before_the_password_is_needed(tmp_path: Path, keystore: dict) -> None:
    bad = copy.deepcopy(keystore)
    bad["crypto"]["cipher"] = "aes-256-cbc"
    with pytest.raises(KeyLoadError, match="unsupported cipher"):
        Wallet.from_keystore(write(tmp_path, bad), password=None, password_env=None, prompt=False)


@pytest.mark.parametrize("cipher", [None, 5, ["aes-128-ctr"], {"name": "aes-128-ctr"}])
def test_a_missing_or_non_text_cipher_is_a_damaged_file(tmp_path: Path, keystore: dict, cipher: object) -> None:
    bad = copy.deepcopy(keystore)
    if cipher is None:
        del bad["crypto"]["cipher"]
    else:
        bad["crypto"]["cipher"] = cipher
    with pytest.raises(KeyLoadError, match=r"the file is damaged: .*cipher"):
        Wallet.from_keystore(write(tmp_path, bad), password=PASSWORD)


def test_the_capitalised_crypto_section_is_checked_too(tmp_path: Path, keystore: dict) -> None:
    bad = copy.deepcopy(keystore)
    bad["Crypto"] = bad.pop("crypto")
    bad["Crypto"]["cipher"] = "aes-256-cbc"
    with pytest.raises(KeyLoadError, match="unsupported cipher"):
        Wallet.from_keystore(write(tmp_path, bad), password=PASSWORD)
