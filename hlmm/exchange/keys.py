"""Private keys: the `Wallet` that holds one, and `Credentials` that say whom it acts for.

A key is loaded only from the environment (`Wallet.from_env`), an encrypted
Ethereum keystore v3 file (`Wallet.from_keystore`), explicit code (`Wallet.from_hex`)
or freshly generated (`Wallet.generate`). There is deliberately no way to read one
from a plain configuration value.

The secret lives in a private slot as a coincurve `PrivateKey`. It never appears in
`repr`/`str`/`format`, in error messages or their chained causes, in pickles (refused)
or in `vars()` (there is no `__dict__`). Error messages describe what is wrong with
the input (empty, not hex, wrong length, out of range) without quoting any of it.
Python strings cannot be wiped; `bytearray` inputs are zeroed after use.
"""
from __future__ import annotations

import getpass
import json
import os
import sys
from typing import Any, NoReturn

from coincurve import PrivateKey

from hlmm.errors import ExitCode, HlmmError
from hlmm.exchange.ethcrypto import (
    SECP256K1_N,
    address_bytes,
    address_from_public_key,
    checksum_address,
    is_hex,
)
from hlmm.exchange.nonces import NonceSource, nonce_source_for

__all__ = ["KeyLoadError", "Wallet", "Credentials", "DEFAULT_KEY_ENV", "DEFAULT_PASSWORD_ENV"]

DEFAULT_KEY_ENV = "HLMM_PRIVATE_KEY"
DEFAULT_PASSWORD_ENV = "HLMM_KEYSTORE_PASSWORD"

_KEY_HEX_DIGITS = 64
_ADDRESS_HEX_DIGITS = 40


class KeyLoadError(HlmmError):
    """A private key could not be loaded. The message never contains key material.

    An HlmmError, so the CLI prints it as one line and exits with the config code (3).
    """

    exit_code = ExitCode.CONFIG


def _fail(message: str) -> NoReturn:
    # Always called outside any `except` block, so the error carries no
    # __context__ that could hold the input.
    raise KeyLoadError(message)


def _secret_from_hex(text: object, source: str) -> bytes:
    """32 key bytes from hex text (optional 0x prefix, surrounding whitespace ignored)."""
    scrub = text if isinstance(text, bytearray) else None
    try:
        if isinstance(text, (bytes, bytearray)):
            if not text.isascii():  # checked first: a failing decode would quote a byte
                _fail(f"{source} contains characters that are not hexadecimal digits")
            text = text.decode("ascii")
        if not isinstance(text, str):
            _fail(f"{source} must be a hex string, got {type(text).__name__}")
        digits = text.strip()
        if digits[:2] in ("0x", "0X"):
            digits = digits[2:]
        if not digits:
            _fail(f"{source} is empty")
        if not is_hex(digits):
            _fail(f"{source} contains characters that are not hexadecimal digits")
        if len(digits) != _KEY_HEX_DIGITS:
            hint = " (40 digits is an address, not a private key)" if len(digits) == _ADDRESS_HEX_DIGITS else ""
            _fail(
                f"{source} has {len(digits)} hex digits; a private key has {_KEY_HEX_DIGITS} "
                f"(32 bytes), optionally prefixed with 0x{hint}"
            )
        secret = bytes.fromhex(digits)
        if not 0 < int.from_bytes(secret, "big") < SECP256K1_N:
            _fail(f"{source} is not a valid secp256k1 private key (zero or not below the curve order)")
        return secret
    finally:
        if scrub is not None:
            scrub[:] = bytes(len(scrub))


class Wallet:
    """A secp256k1 private key that signs 32-byte digests. Build it with a classmethod."""

    __slots__ = ("__key", "_address")

    def __new__(cls, *args: Any, **kwargs: Any) -> "Wallet":
        raise TypeError(
            "build a Wallet with Wallet.from_env(), Wallet.from_keystore(), Wallet.from_hex() or Wallet.generate()"
        )

    @classmethod
    def _from_private_key(cls, key: PrivateKey) -> "Wallet":
        wallet = object.__new__(cls)
        object.__setattr__(wallet, "_Wallet__key", key)
        pub = key.public_key.format(compressed=False)
        object.__setattr__(wallet, "_address", checksum_address(address_from_public_key(pub)))
        return wallet

    # --- constructors -------------------------------------------------------------

    @classmethod
    def from_hex(cls, hex_key: str | bytes | bytearray) -> "Wallet":
        """A wallet from a hex private key (64 digits, optional 0x). A bytearray is zeroed after use."""
        return cls._from_private_key(PrivateKey(_secret_from_hex(hex_key, "the private key")))

    @classmethod
    def from_env(cls, var: str = DEFAULT_KEY_ENV) -> "Wallet":
        """A wallet from the hex private key in environment variable `var`."""
        value = os.environ.get(var)
        if value is None:
            _fail(
                f"environment variable {var} is not set: export it with the hex private key "
                f"of the signing wallet, or load a keystore file instead"
            )
        return cls._from_private_key(PrivateKey(_secret_from_hex(value, f"environment variable {var}")))

    @classmethod
    def from_keystore(
        cls,
        path: str | os.PathLike[str],
        password: str | None = None,
        password_env: str | None = DEFAULT_PASSWORD_ENV,
        prompt: bool = True,
    ) -> "Wallet":
        """A wallet from an encrypted Ethereum keystore v3 JSON file.

        The password is `password` if given, else the environment variable
        `password_env` if set, else asked for on the terminal when `prompt` is true
        and stdin is a terminal.
        """
        where = os.fspath(path)
        keyfile = _read_keystore(where)
        if password is None and password_env and password_env in os.environ:
            password = os.environ[password_env]
        if password is None and prompt and sys.stdin is not None and sys.stdin.isatty():
            password = getpass.getpass(f"Password for keystore {where}: ")
        if password is None:
            env_hint = f"set {password_env}" if password_env else "pass a password"
            _fail(f"keystore {where} needs a password: {env_hint}, or run in a terminal to be asked for it")
        secret, problem = _decrypt_keystore(keyfile, password)
        if problem is not None:
            _fail(f"keystore {where}: {problem}")
        assert secret is not None
        wallet = cls._from_private_key(PrivateKey(secret))
        stated = keyfile.get("address")
        if isinstance(stated, str) and stated.lower().removeprefix("0x") != wallet.address[2:].lower():
            _fail(f"keystore {where}: its 'address' field does not match the key it decrypts to; the file was altered")
        return wallet

    @classmethod
    def generate(cls) -> "Wallet":
        """A new random wallet (from the OS random source)."""
        return cls._from_private_key(PrivateKey())

    # --- use ----------------------------------------------------------------------

    @property
    def address(self) -> str:
        """The wallet's address, EIP-55 checksummed."""
        return self._address

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]:
        """Sign a 32-byte digest as is (no further hashing): returns (r, s, v) with v in {27, 28}.

        Deterministic (RFC 6979) and low-s, as eth-account produces.
        """
        if type(digest) is not bytes or len(digest) != 32:
            raise ValueError("sign_digest needs exactly 32 bytes")
        sig = self.__key.sign_recoverable(digest, hasher=None)
        return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), 27 + sig[64]

    def save_keystore(
        self,
        path: str | os.PathLike[str],
        password: str,
        kdf: str = "scrypt",
        iterations: int | None = None,
    ) -> None:
        """Write the key as an encrypted keystore v3 file, readable by its owner only.

        Refuses to overwrite an existing file.
        """
        from eth_account import Account

        keyfile = Account.encrypt(self.__key.secret, password, kdf=kdf, iterations=iterations)
        fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(keyfile, fh)

    # --- never reveal the key -----------------------------------------------------

    def __repr__(self) -> str:
        return f"Wallet(address={self._address})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Wallet) and other._address == self._address

    def __hash__(self) -> int:
        return hash(self._address)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Wallet is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Wallet is immutable")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("a Wallet holds a private key and cannot be pickled or serialized")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a Wallet holds a private key and cannot be pickled or serialized")

    def __copy__(self) -> "Wallet":
        return self  # immutable: a copy would be the same key in the same process

    def __deepcopy__(self, memo: object) -> "Wallet":
        return self


def _read_keystore(where: str) -> dict[str, Any]:
    text = None
    reason = None
    try:
        with open(where, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        reason = "no such file"
    except IsADirectoryError:
        reason = "it is a directory"
    except PermissionError:
        reason = "permission denied"
    except UnicodeDecodeError:
        reason = "it is not a text file"
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    if text is None:
        _fail(f"cannot read keystore {where}: {reason}")
    keyfile = None
    try:
        keyfile = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if keyfile is None and reason is not None:
        _fail(f"keystore {where} is not valid JSON ({reason})")
    if not isinstance(keyfile, dict) or not isinstance(keyfile.get("crypto", keyfile.get("Crypto")), dict):
        _fail(f"keystore {where} is not an Ethereum keystore v3 file (no 'crypto' section)")
    if keyfile.get("version") != 3:
        _fail(f"keystore {where} has version {keyfile.get('version')!r}; only version 3 is supported")
    crypto = keyfile.get("crypto", keyfile.get("Crypto"))
    problem = _kdf_cost_problem(crypto)
    if problem is not None:
        _fail(f"keystore {where}: the file is damaged: {problem}")
    _check_cipher(crypto, where)
    return keyfile


KEYSTORE_CIPHER = "aes-128-ctr"  # the one keystore v3 cipher (eth-keyfile uses it whatever the file says)


def _check_cipher(crypto: dict[str, Any], where: str) -> None:
    """Refuse a file whose ``cipher`` is not aes-128-ctr: decrypting it as aes-128-ctr anyway would
    be decrypting something other than what the file says it is."""
    cipher = crypto.get("cipher")
    if not isinstance(cipher, str):
        _fail(f"keystore {where}: the file is damaged: its 'cipher' field is "
              f"{'missing' if cipher is None else 'not text'}")
    if cipher != KEYSTORE_CIPHER:
        shown = cipher if len(cipher) <= 40 else cipher[:40] + "..."
        _fail(f"keystore {where}: unsupported cipher {shown!r}; only {KEYSTORE_CIPHER} (keystore v3) is supported")


# The most work a keystore may ask of us. Real writers use scrypt n=2**18 r=8 p=1 (geth,
# eth-account; 256 MiB) or pbkdf2 with 262144 rounds. A damaged or hostile file asking for far
# more would hang the process or exhaust memory instead of failing.
_KDF_LIMITS = {
    "scrypt": {"n": 1 << 22, "r": 64, "p": 64},
    "pbkdf2": {"c": 10_000_000},
}
_SCRYPT_MAX_MEMORY_BLOCKS = 1 << 24   # n * r; scrypt needs 128 * n * r bytes (here 2 GiB)
_SCRYPT_MAX_WORK = 1 << 25            # n * r * p, 16x the standard


def _kdf_cost_problem(crypto: dict[str, Any]) -> str | None:
    """Why the KDF parameters are beyond any real keystore, or None (decrypt judges the rest)."""
    params = crypto.get("kdfparams")
    if not isinstance(params, dict):
        return None
    ints = {k: v for k, v in params.items() if type(v) is int}
    dklen = ints.get("dklen")
    if dklen is not None and not 32 <= dklen <= 64:
        return f"kdfparams.dklen = {dklen} (a keystore derives a 32-byte key)"
    kdf = crypto.get("kdf")
    for name, limit in (_KDF_LIMITS.get(kdf, {}) if isinstance(kdf, str) else {}).items():
        if ints.get(name, 0) > limit:
            return f"kdfparams.{name} = {ints[name]} is far beyond any real keystore (at most {limit})"
    if kdf == "scrypt":
        n, r, p = ints.get("n", 1), ints.get("r", 1), ints.get("p", 1)
        if n * r > _SCRYPT_MAX_MEMORY_BLOCKS or n * r * p > _SCRYPT_MAX_WORK:
            return f"kdfparams.n = {n}, r = {r}, p = {p} ask for more work than any real keystore"
    return None


def _decrypt_keystore(keyfile: dict[str, Any], password: str) -> tuple[bytes | None, str | None]:
    """(secret, None) or (None, reason). Never raises, so no library exception escapes."""
    from eth_account import Account

    try:
        return bytes(Account.decrypt(keyfile, password)), None
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            return None, "wrong password"
        return None, "the file is damaged or uses an unsupported cipher or key derivation"
    except KeyError as exc:
        return None, f"the file is damaged: missing field {exc.args[0]!r}"
    except Exception as exc:  # eth-keyfile raises assorted types on malformed files
        return None, f"the file is damaged or unsupported ({type(exc).__name__})"


class Credentials:
    """Who signs, for whom, and on which sub-account.

    - `signer_address`: the wallet that signs (an agent/API wallet or the master itself).
    - `account_address`: the master account the signer acts for (defaults to the signer).
    - `vault_address`: a vault or sub-account the actions apply to, sent as
      ``vaultAddress`` with every L1 action; None for the account itself.
    - `state_address`: whose positions and orders the actions touch, i.e. the vault or
      sub-account if set, else the account. Query this one for trading state.
    """

    __slots__ = ("_wallet", "_account", "_vault")

    def __init__(self, wallet: Wallet, account_address: str | None = None, vault_address: str | None = None) -> None:
        if not isinstance(wallet, Wallet):
            raise TypeError(
                f"Credentials needs a Wallet (Wallet.from_env() or Wallet.from_keystore()), got {type(wallet).__name__}"
            )
        self._wallet = wallet
        self._account = (
            checksum_address(address_bytes(account_address, "account_address"))
            if account_address is not None
            else wallet.address
        )
        self._vault = (
            "0x" + address_bytes(vault_address, "vault_address").hex() if vault_address is not None else None
        )

    @property
    def wallet(self) -> Wallet:
        """The signing wallet."""
        return self._wallet

    @property
    def signer_address(self) -> str:
        """Address of the signing wallet (checksummed)."""
        return self._wallet.address

    @property
    def account_address(self) -> str:
        """The master account (checksummed): owner of the agent, or the signer itself."""
        return self._account

    @property
    def vault_address(self) -> str | None:
        """Lower-case vault/sub-account address sent with actions, or None."""
        return self._vault

    @property
    def state_address(self) -> str:
        """Address whose trading state the actions change: the vault if set, else the account."""
        return self._vault if self._vault is not None else self._account.lower()

    @property
    def is_agent(self) -> bool:
        """True when an agent (API wallet) signs for a different master account."""
        return self._account != self._wallet.address

    @property
    def nonces(self) -> NonceSource:
        """The signer's process-wide nonce source (shared by every Credentials of this signer)."""
        return nonce_source_for(self._wallet.address)

    def __repr__(self) -> str:
        return f"Credentials(signer={self.signer_address}, account={self._account}, vault={self._vault})"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("Credentials hold a private key and cannot be pickled or serialized")
