"""The Chainlink aggregator reader, against return data encoded per the ABI by eth_abi."""

from __future__ import annotations

from fractions import Fraction

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from lpengine.chain.chainlink import (
    DECIMALS,
    DESCRIPTION,
    LATEST_ROUND_DATA,
    ChainlinkFeed,
    connect_feed,
    decode_decimals,
    decode_latest_round_data,
    decode_string,
)
from lpengine.chain.devnet import free_port
from lpengine.price_feed import WEI_PER_ETH, PriceFeedData, PriceFeedError, wei_per
from lpengine.price_feed_watcher import PriceFeedWatcher
from lpengine.serve.options import OptionError, build
from tests.chain.devnet_fixtures import anvil, devnet, needs_anvil

__all__ = ["anvil", "devnet"]  # fixtures

# Arbitrum One's ETH / USD aggregator proxy (any 20 bytes would do: nothing is reached).
FEED = "0x639Fe6ab55C921f74e7fac1ee960C0B6293ba612"
ROUND = (18446744073709562301, 312345678901, 1700000000, 1700000042, 18446744073709562301)
LATEST = encode(["uint80", "int256", "uint256", "uint256", "uint80"], list(ROUND))


def test_selectors_are_the_abi_ones():
    for selector, signature in (
        (LATEST_ROUND_DATA, "latestRoundData()"),
        (DECIMALS, "decimals()"),
        (DESCRIPTION, "description()"),
    ):
        assert selector == function_signature_to_4byte_selector(signature)


def test_decodes_latest_round_data():
    assert len(LATEST) == 160 and decode_latest_round_data(LATEST) == ROUND
    negative = encode(["uint80", "int256", "uint256", "uint256", "uint80"], [1, -5, 2, 3, 1])
    assert decode_latest_round_data(negative)[1] == -5  # answer is int256
    assert decode_decimals(encode(["uint8"], [8])) == 8
    assert decode_string(encode(["string"], ["ETH / USD"])) == "ETH / USD"
    long = "X" * 70  # spans three words
    assert decode_string(encode(["string"], [long])) == long


@pytest.mark.parametrize(
    "decode,data,error",
    [
        (decode_latest_round_data, LATEST[:128], "too short"),
        (decode_latest_round_data, b"\xff" * 160, "does not fit uint80"),
        (decode_decimals, encode(["uint256"], [256]), "does not fit uint8"),
        (decode_decimals, b"", "too short"),
        (decode_string, encode(["uint256"], [33]), "bad string offset"),
        (decode_string, encode(["string"], ["ETH / USD"])[:70], "cut short"),
        (decode_string, encode(["bytes"], [b"\xff\xfe"]), "not UTF-8"),
    ],
)
def test_malformed_return_data(decode, data, error):
    with pytest.raises(PriceFeedError, match=error):
        decode(data)


def node(answers: dict[bytes, bytes], calls: list[tuple[bytes, bytes]]):
    def eth_call(to: bytes, data: bytes) -> bytes:
        calls.append((to, data))
        return answers[data]

    return eth_call


def test_feed_reads_the_aggregator():
    calls: list[tuple[bytes, bytes]] = []
    answers = {
        DESCRIPTION: encode(["string"], ["ETH / USD"]),
        LATEST_ROUND_DATA: LATEST,
        DECIMALS: encode(["uint8"], [8]),
    }
    feed = ChainlinkFeed(node(answers, calls), FEED)
    data = feed.latest()
    assert data == PriceFeedData(
        "ETH", "USD", Fraction(312345678901, 10**8), 1700000042, 18446744073709562301
    )
    assert {to for to, _ in calls} == {bytes.fromhex(FEED[2:])}
    feed.latest()
    assert [c for _, c in calls].count(DESCRIPTION) == 1  # the pair is read once
    assert str(feed) == f"chainlink {FEED}"
    # 3123.45678901 USD per ETH: one USD is 1e18 / 3123.45678901 wei, exactly.
    assert wei_per("USD", data) == Fraction(WEI_PER_ETH * 10**8, 312345678901)


def test_feed_with_a_bad_description():
    answers = {DESCRIPTION: encode(["string"], ["ETHUSD"])}
    with pytest.raises(PriceFeedError, match="BASE / QUOTE"):
        ChainlinkFeed(node(answers, []), FEED).latest()


# --- on the devnet: the aggregator contract read through the web3 client (-priceFeedAddr) ---


@needs_anvil
@pytest.mark.net
def test_devnet_feed_through_web3_and_options(anvil, devnet, tmp_path):
    feed = connect_feed(anvil.url, devnet.price_feed.address)
    data = feed.latest()
    assert (data.pair, data.price) == ("ETH/USD", 3000)
    assert wei_per("USD", data) == Fraction(WEI_PER_ETH, 3000)
    anvil.w3.provider.make_request("evm_increaseTime", [60])  # a later round, by its time
    devnet.transact(devnet.price_feed.functions.setAnswer(2500 * 10**8))
    watcher = PriceFeedWatcher(feed, lambda d: None)
    watcher.current = data
    assert watcher.refresh()  # a newer round
    assert watcher.current is not None and watcher.current.price == 2500
    options = build(
        [
            "-network", "devnet", "-ethUrl", anvil.url, "-dataDir", str(tmp_path),
            "-pricePerUnit", "0.5USD", "-priceFeedAddr", devnet.price_feed.address,
        ]
    )  # fmt: skip
    configured = options.engine.price_feed
    assert isinstance(configured, ChainlinkFeed)
    assert configured.latest().price == 2500
    with pytest.raises(OptionError, match="either it or -priceFeedFixed"):
        build(["-network", "devnet", "-pricePerUnit", "1", "-priceFeedAddr", FEED,
               "-priceFeedFixed", "ETH/USD=1"])  # fmt: skip
    dead = connect_feed(f"http://127.0.0.1:{free_port()}", devnet.price_feed.address)
    with pytest.raises(PriceFeedError, match="eth_call failed: no Ethereum RPC endpoint"):
        dead.latest()
