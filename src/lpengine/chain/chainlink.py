"""A Chainlink price feed (AggregatorV3Interface) read through `eth_call`: go's `-priceFeedAddr`.

Three views, decoded by hand from their ABI (every return value is 32-byte words):
- `latestRoundData() -> (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt,
  uint80 answeredInRound)`;
- `decimals() -> uint8`: the answer is `answer / 10**decimals`;
- `description() -> string`, e.g. "ETH / USD": the pair.
As go's `eth/pricefeed.go`. `web3_eth_call(w3)` performs the `eth_call`s over the chain
module's client (`-priceFeedAddr` on a real network); a host may pass its own instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from lpengine.pm.address import checksum, parse
from lpengine.price_feed import PriceFeedData, PriceFeedError, parse_pair

if TYPE_CHECKING:
    from web3 import Web3

EthCall = Callable[[bytes, bytes], bytes]
"""eth_call(contract address (20 bytes), calldata) -> the call's return data."""

# The 4-byte selectors: keccak256 of the signature, first 4 bytes (checked in the tests).
LATEST_ROUND_DATA = bytes.fromhex("feaf968c")
DECIMALS = bytes.fromhex("313ce567")
DESCRIPTION = bytes.fromhex("7284e416")
_WORD = 32


def _word(data: bytes, index: int, what: str) -> bytes:
    start = index * _WORD
    if len(data) < start + _WORD:
        raise PriceFeedError(f"price feed: {what}: return data too short ({len(data)} bytes)")
    return data[start : start + _WORD]


def _uint(data: bytes, index: int, what: str, bits: int = 256) -> int:
    value = int.from_bytes(_word(data, index, what), "big")
    if value >= 1 << bits:
        raise PriceFeedError(f"price feed: {what}: {value} does not fit uint{bits}")
    return value


def decode_latest_round_data(data: bytes) -> tuple[int, int, int, int, int]:
    """(roundId, answer, startedAt, updatedAt, answeredInRound); answer is signed."""
    what = "latestRoundData"
    answer = int.from_bytes(_word(data, 1, what), "big", signed=True)
    return (
        _uint(data, 0, what, 80),
        answer,
        _uint(data, 2, what),
        _uint(data, 3, what),
        _uint(data, 4, what, 80),
    )


def decode_decimals(data: bytes) -> int:
    return _uint(data, 0, "decimals", 8)


def decode_string(data: bytes, what: str = "description") -> str:
    """An ABI-encoded dynamic `string` return value."""
    offset = _uint(data, 0, what)
    if offset % _WORD or offset >= len(data):
        raise PriceFeedError(f"price feed: {what}: bad string offset {offset}")
    length = _uint(data, offset // _WORD, what)
    start = offset + _WORD
    if start + length > len(data):
        raise PriceFeedError(f"price feed: {what}: string of {length} bytes is cut short")
    try:
        return data[start : start + length].decode("utf-8")
    except UnicodeDecodeError as err:
        raise PriceFeedError(f"price feed: {what}: not UTF-8 ({err})") from None


class ChainlinkFeed:
    """`PriceFeed` over one aggregator; the pair is read once from `description()`."""

    def __init__(self, eth_call: EthCall, address: str | bytes) -> None:
        self.address = parse(address) if isinstance(address, str) else address
        self._call = eth_call
        self._pair: tuple[str, str] | None = None

    def pair(self) -> tuple[str, str]:
        if self._pair is None:
            self._pair = parse_pair(decode_string(self._call(self.address, DESCRIPTION)))
        return self._pair

    def latest(self) -> PriceFeedData:
        base, quote = self.pair()
        round_id, answer, _, updated_at, _ = decode_latest_round_data(
            self._call(self.address, LATEST_ROUND_DATA)
        )
        decimals = decode_decimals(self._call(self.address, DECIMALS))
        return PriceFeedData(base, quote, Fraction(answer, 10**decimals), updated_at, round_id)

    def __str__(self) -> str:
        return f"chainlink {checksum(self.address)}"


def web3_eth_call(w3: Web3) -> EthCall:
    """`eth_call` at the latest block over `w3`; every failure as PriceFeedError (the watcher
    then keeps the last good rate, and a node cannot start on an unreadable feed)."""

    def call(to: bytes, data: bytes) -> bytes:
        try:
            return bytes(w3.eth.call({"to": checksum(to), "data": data}))
        except Exception as err:
            raise PriceFeedError(f"price feed {checksum(to)}: eth_call failed: {err}") from err

    return call


def connect_feed(urls: str | Sequence[str], address: str | bytes) -> ChainlinkFeed:
    """The aggregator at `address`, read over the JSON-RPC `urls` (with failover)."""
    from lpengine.chain.rpc import connect  # NOTE: web3 loads only when a feed is used

    return ChainlinkFeed(web3_eth_call(connect(urls)), address)
