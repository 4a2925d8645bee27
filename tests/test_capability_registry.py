from __future__ import annotations

import pytest

from lpengine.capabilities import Capability, ModelConstraint, encode_bitstring
from lpengine.capability_registry import CapabilityRegistry, ModelOffer, Offer

T2I = Capability.TEXT_TO_IMAGE
LIVE = Capability.LIVE_VIDEO_TO_VIDEO


def test_offers_merge_and_withdraw():
    r = CapabilityRegistry(version="1.2.3")
    assert r.advertised().capacities == {} and r.advertised().version == "1.2.3"
    r.publish("transcoding", Offer({0: 1, 1: 1, 12: 1}))
    r.publish("remote-t1", Offer({0: 4}))
    a = r.advertised()
    assert a.capacities == {0: 5, 1: 1, 12: 1}
    assert a.bitstring == encode_bitstring([0, 1, 12]) and a.mandatories == ()
    r.withdraw("remote-t1")
    assert r.advertised().capacities == {0: 1, 1: 1, 12: 1}
    r.withdraw("never-there")  # ignored
    r.publish("transcoding", Offer({0: 1}))  # republishing replaces
    assert r.advertised().capacities == {0: 1}


def test_zero_capacity_is_not_advertised():
    r = CapabilityRegistry(version="1")
    r.publish("live", Offer({LIVE: 0}, models=(ModelOffer(LIVE, "noop", True, 0),)))
    assert r.advertised().capacities == {} and r.advertised().per_capability == {}


def test_models_merge_across_sources():
    r = CapabilityRegistry(version="1")
    r.publish("w1", Offer({T2I: 1}, models=(ModelOffer(T2I, "sdxl", False, 1, 0, "0.3.0"),)))
    r.publish("w2", Offer({T2I: 2}, models=(ModelOffer(T2I, "sdxl", True, 2, 1, "0.2.5"),)))
    models = r.advertised().per_capability[T2I]
    assert models == {
        "sdxl": ModelConstraint(warm=True, capacity=3, runner_version="0.2.5", capacity_in_use=1)
    }


def test_listeners_see_every_change_and_cannot_break_publishers():
    r = CapabilityRegistry(version="1")
    seen = []
    unsubscribe = r.subscribe(lambda a: seen.append(dict(a.capacities)))
    r.subscribe(lambda a: 1 / 0)
    generation = r.generation
    r.publish("s", Offer({0: 1}))
    r.withdraw("s")
    assert seen == [{0: 1}, {}] and r.generation == generation + 2
    unsubscribe()
    r.publish("s", Offer({0: 1}))
    assert len(seen) == 2


def test_offer_validation():
    with pytest.raises(ValueError, match="models"):
        Offer({0: 1}, models=(ModelOffer(T2I, "sdxl", True, 1),))
    with pytest.raises(ValueError, match="capacities"):
        Offer({0: -1})
