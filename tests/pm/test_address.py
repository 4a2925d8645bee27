"""EIP-55 checksums and go's address/hash normalization."""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from lpengine.pm import address

# The EIP-55 specification's examples.
EIP55 = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("text", EIP55)
def test_eip55_examples(text: str) -> None:
    raw = address.parse(text)
    assert address.checksum(raw) == text
    assert address.parse(text.lower()) == raw == address.parse(text.upper()[2:])


@given(st.binary(min_size=20, max_size=20))
def test_checksum_agrees_with_eth_utils(raw: bytes) -> None:
    assert address.checksum(raw) == to_checksum_address(raw)


def test_parse_refuses_bad_input() -> None:
    good = EIP55[0]
    with pytest.raises(ValueError, match="checksum"):
        address.parse(good[:3] + good[3].swapcase() + good[4:])
    with pytest.raises(ValueError, match="40 hex digits"):
        address.parse("0x1234")
    with pytest.raises(ValueError, match="hex digits"):
        address.parse("0x" + "zz" * 20)


def test_bytes_to_address_and_hash_follow_go() -> None:
    a = bytes(range(1, 21))
    assert address.to_address(a) == a
    assert address.to_address(b"\x01\x02") == bytes(18) + b"\x01\x02"
    assert address.to_address(b"\xff" + a) == a  # longer: keep the last 20 bytes
    assert address.to_address(b"") == address.ZERO_ADDRESS
    assert address.to_hash32(b"\x05") == bytes(31) + b"\x05"
    assert address.to_hash32(bytes(range(40))) == bytes(range(8, 40))


def test_from_public_key() -> None:
    with pytest.raises(ValueError, match="64 or 65"):
        address.from_public_key(bytes(33))
