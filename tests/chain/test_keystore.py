"""The node key: go-ethereum V3 keystore files, read and written, checked with eth_account."""

from __future__ import annotations

import json
import stat

import pytest
from eth_account import Account

from lpengine.chain import keystore
from lpengine.chain.keystore import KeystoreError, load_or_create

KEY_A = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
KEY_B = bytes.fromhex("b25c7db31feed9122727bf0939dc769a96564b2de4c4726d035b36ecf1e5b364")


def address(key: bytes) -> bytes:
    return bytes.fromhex(Account.from_key(key).address[2:])


def put(directory, key: bytes, password: str, name: str) -> None:
    """A key file written by eth_account (an independent implementation)."""
    directory.mkdir(exist_ok=True)
    doc = Account.encrypt(key, password, kdf="scrypt", iterations=1 << 10)
    (directory / name).write_text(json.dumps(doc))


def test_first_start_makes_a_key_go_and_eth_account_can_read(tmp_path):
    ks = tmp_path / "keystore"
    key = load_or_create(ks, wanted=None, password="")
    assert stat.S_IMODE(ks.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    assert key.path.name.startswith("UTC--") and key.path.name.endswith(key.address.hex())
    doc = json.loads(key.path.read_text())
    assert doc["version"] == 3 and doc["crypto"]["kdfparams"]["n"] == keystore.LIGHT_SCRYPT[0]
    assert Account.decrypt(doc, "") == key.private_key  # independent decryption
    assert address(key.private_key) == key.address
    again = load_or_create(ks, wanted=None, password="")  # a restart: the same key
    assert (again.address, again.path) == (key.address, key.path)
    assert "private_key" not in repr(again) and again.signer().address == key.address


def test_a_passphrase_gets_the_standard_kdf(tmp_path, monkeypatch):
    monkeypatch.setattr(keystore, "STANDARD_SCRYPT", (1 << 11, 8, 1))  # fast, but recognisable
    key = load_or_create(tmp_path, wanted=None, password="s3cret")
    doc = json.loads(key.path.read_text())
    assert doc["crypto"]["kdfparams"]["n"] == 1 << 11
    assert Account.decrypt(doc, "s3cret") == key.private_key
    with pytest.raises(KeystoreError, match="wrong -ethPassword"):
        load_or_create(tmp_path, wanted=None, password="guess")


def test_eth_addr_picks_a_key_and_never_makes_another(tmp_path):
    put(tmp_path, KEY_A, "pw", "UTC--2020-a")
    put(tmp_path, KEY_B, "pw", "UTC--2021-b")
    (tmp_path / "notes.txt").write_text("not a key")
    assert load_or_create(tmp_path, wanted=None, password="pw").address == address(KEY_A)
    assert load_or_create(tmp_path, wanted=address(KEY_B), password="pw").address == address(KEY_B)
    with pytest.raises(KeystoreError, match="no key for it"):
        load_or_create(tmp_path, wanted=b"\x01" * 20, password="pw")
    with pytest.raises(KeystoreError, match="holds no key"):
        load_or_create(tmp_path / "empty", wanted=b"\x01" * 20, password="pw")
    one = load_or_create(tmp_path / "UTC--2021-b", wanted=address(KEY_A), password="pw")
    assert one.address == address(KEY_B)  # a key file wins over -ethAddr, as in go


def test_pbkdf2_files_and_broken_files(tmp_path):
    doc = Account.encrypt(KEY_A, "pw", kdf="pbkdf2", iterations=1000)
    (tmp_path / "a").write_text(json.dumps(doc))
    assert load_or_create(tmp_path / "a", wanted=None, password="pw").private_key == KEY_A
    doc["address"] = address(KEY_B).hex()
    (tmp_path / "b").write_text(json.dumps(doc))
    with pytest.raises(KeystoreError, match="does not belong"):
        load_or_create(tmp_path / "b", wanted=None, password="pw")
    (tmp_path / "c").write_text("{}")
    with pytest.raises(KeystoreError, match="not a V3 keystore"):
        load_or_create(tmp_path / "c", wanted=None, password="pw")
