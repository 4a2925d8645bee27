"""The node's ETH key, in go-ethereum's V3 keystore format, made on first start.

go-livepeer keeps its account in <dataDir>/keystore (or -ethKeystorePath) as a V3 JSON file
(scrypt, AES-128-CTR, keccak MAC); lpengine reads and writes the same files, so a key moves
between the two. Which key (go's rules, one exception):
- -ethKeystorePath names a directory, or one key file (which then wins over -ethAddr);
- without -ethAddr the oldest key of the directory is used, with it the key of that address;
- no key at all: one is made (file 0600, directory 0700). go also makes a new key when -ethAddr
  names one that is missing; lpengine refuses, since a node whose address silently changes
  loses its registration and the tickets sent to it.
-ethPassword decrypts it. Without one the key is kept under the empty passphrase, so only the
file mode protects it (go would prompt on a terminal); such a key gets go-ethereum's light
scrypt parameters, because a costly KDF over an empty passphrase slows every start and
protects nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import coincurve
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from lpengine.pm import address
from lpengine.pm.keccak import keccak256
from lpengine.pm.signature import Signer

log = logging.getLogger(__name__)

KEYSTORE_DIR = "keystore"
STANDARD_SCRYPT = (1 << 18, 8, 1)  # go-ethereum's StandardScryptN, r, StandardScryptP
LIGHT_SCRYPT = (1 << 12, 8, 6)  # LightScryptN, r, LightScryptP


class KeystoreError(Exception):
    """No usable key: the message says which file and why."""


@dataclass(frozen=True)
class NodeKey:
    address: bytes
    path: Path
    private_key: bytes = field(repr=False)

    def signer(self) -> Signer:
        return Signer(self.private_key)


def load_or_create(location: Path, *, wanted: bytes | None, password: str) -> NodeKey:
    """The key at `location` (a keystore directory or one key file), made if there is none."""
    if location.is_file():
        return _open(location, password)
    keys = _list(location)
    if wanted is not None:
        for path, addr in keys:
            if addr == wanted:
                return _open(path, password)
        if keys:
            raise KeystoreError(
                f"-ethAddr {address.checksum(wanted)}: no key for it in {location} (found "
                f"{', '.join(address.checksum(a) for _, a in keys)})"
            )
        raise KeystoreError(
            f"-ethAddr {address.checksum(wanted)}: {location} holds no key; put its key file "
            "there, or leave -ethAddr out to have a new key made"
        )
    if keys:
        return _open(keys[0][0], password)
    return _create(location, password)


def encrypt(private_key: bytes, password: str, scrypt: tuple[int, int, int]) -> dict[str, Any]:
    """A V3 keystore document for `private_key` (32 bytes)."""
    n, r, p = scrypt
    salt, iv = os.urandom(32), os.urandom(16)
    derived = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode())
    encryptor = Cipher(algorithms.AES(derived[:16]), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(private_key) + encryptor.finalize()
    return {
        "address": Signer(private_key).address.hex(),
        "crypto": {
            "cipher": "aes-128-ctr",
            "ciphertext": ciphertext.hex(),
            "cipherparams": {"iv": iv.hex()},
            "kdf": "scrypt",
            "kdfparams": {"dklen": 32, "n": n, "p": p, "r": r, "salt": salt.hex()},
            "mac": keccak256(derived[16:32] + ciphertext).hex(),
        },
        "id": str(uuid.uuid4()),
        "version": 3,
    }


def decrypt(doc: dict[str, Any], password: str) -> bytes:
    """The private key in a V3 keystore document (scrypt or pbkdf2); raises KeystoreError."""
    try:
        crypto = doc.get("crypto") or doc["Crypto"]
        kdf, params = crypto["kdf"], crypto["kdfparams"]
        salt = bytes.fromhex(params["salt"])
        if kdf == "scrypt":
            derived = Scrypt(
                salt=salt, length=params["dklen"], n=params["n"], r=params["r"], p=params["p"]
            ).derive(password.encode())
        elif kdf == "pbkdf2" and params.get("prf") == "hmac-sha256":
            derived = hashlib.pbkdf2_hmac(
                "sha256", password.encode(), salt, params["c"], params["dklen"]
            )
        else:
            raise KeystoreError(f"unsupported key derivation {kdf!r}")
        ciphertext = bytes.fromhex(crypto["ciphertext"])
        mac = keccak256(derived[16:32] + ciphertext)
        if not hmac.compare_digest(mac, bytes.fromhex(crypto["mac"])):
            raise KeystoreError("wrong -ethPassword (the MAC does not match)")
        if crypto["cipher"] != "aes-128-ctr":
            raise KeystoreError(f"unsupported cipher {crypto['cipher']!r}")
        iv = bytes.fromhex(crypto["cipherparams"]["iv"])
        decryptor = Cipher(algorithms.AES(derived[:16]), modes.CTR(iv)).decryptor()
        return decryptor.update(ciphertext) + decryptor.finalize()
    except (KeyError, TypeError, ValueError) as err:
        raise KeystoreError(f"not a V3 keystore document ({err!r})") from None


def _list(directory: Path) -> list[tuple[Path, bytes]]:
    """(file, address) of every key file, oldest name first (go sorts by file name too)."""
    if not directory.is_dir():
        return []
    keys = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            keys.append((path, address.parse(json.loads(path.read_text())["address"])))
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("keystore: skipping %s (not a key file)", path)
    return keys


def _open(path: Path, password: str) -> NodeKey:
    try:
        doc = json.loads(path.read_text())
        private_key = decrypt(doc, password)
    except (OSError, ValueError) as err:
        raise KeystoreError(f"{path}: {err}") from None
    except KeystoreError as err:
        raise KeystoreError(f"{path}: {err}") from None
    key = NodeKey(Signer(private_key).address, path, private_key)
    if "address" in doc and address.parse(doc["address"]) != key.address:
        raise KeystoreError(f"{path}: the key does not belong to the address the file names")
    log.info("ETH account %s (%s)", address.checksum(key.address), path)
    return key


def _create(directory: Path, password: str) -> NodeKey:
    private_key = coincurve.PrivateKey().secret  # urandom, drawn again until 0 < key < n
    doc = encrypt(private_key, password, STANDARD_SCRYPT if password else LIGHT_SCRYPT)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S.%f000Z")
    path = directory / f"UTC--{stamp}--{doc['address']}"
    tmp = directory / f".{path.name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # NOTE: atomic: a crash never leaves half a key behind
    key = NodeKey(Signer(private_key).address, path, private_key)
    log.info("created ETH account %s in %s", address.checksum(key.address), path)
    if not password:
        log.warning("the ETH key has no passphrase (-ethPassword): only its file mode protects it")
    return key
