"""The production keccak-256 against the pure-Python reference and the known empty-input hash."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lpengine.pm.keccak import keccak256
from tests.pm.keccak_reference import keccak256_reference


def test_known_values() -> None:
    # keccak256("") and keccak256("abc") (Ethereum's, not NIST SHA3-256).
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert keccak256(b"abc").hex() == (
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    )


@given(st.binary(max_size=600))
def test_matches_reference(data: bytes) -> None:
    assert keccak256(data) == keccak256_reference(data)


def test_rate_boundaries() -> None:
    for n in (135, 136, 137, 271, 272):
        data = bytes(range(256)) * 2
        assert keccak256(data[:n]) == keccak256_reference(data[:n])
