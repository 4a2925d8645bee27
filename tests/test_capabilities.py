from __future__ import annotations

import pytest

from lpengine.capabilities import (
    Capability,
    CapabilitySet,
    ModelConstraint,
    capability_for_pipeline,
    capability_name,
    decode_bitstring,
    encode_bitstring,
    version_at_least,
)

ALWAYS_ON = [*range(13), 14, 26]  # go's DefaultCapabilities


def test_bitstring_known_values():
    # protocol.md §3.2: the always-on set, and with every AI capability 27-36 added.
    assert encode_bitstring(ALWAYS_ON) == (0x4005FFF,)
    assert encode_bitstring([*ALWAYS_ON, *range(27, 37)]) == (0x1FFC005FFF,)
    assert encode_bitstring([63, 64, 130]) == (1 << 63, 1, 1 << 2)
    assert encode_bitstring([-2, -1]) == ()  # negative IDs are never encoded
    assert decode_bitstring((0x4005FFF,)) == frozenset(ALWAYS_ON)
    assert decode_bitstring(encode_bitstring([0, 37, 64, 200])) == {0, 37, 64, 200}


@pytest.mark.parametrize(
    "pipeline,cap",
    [
        ("text-to-image", Capability.TEXT_TO_IMAGE),
        ("llm", Capability.LLM),
        ("segment-anything-2", Capability.SEGMENT_ANYTHING_2),
        ("live-video-to-video", Capability.LIVE_VIDEO_TO_VIDEO),
        ("text-to-speech", Capability.TEXT_TO_SPEECH),
    ],
)
def test_pipeline_names(pipeline, cap):
    assert capability_for_pipeline(pipeline) == cap


@pytest.mark.parametrize("pipeline", ["", "h.264", "mpegts", "byoc", "text_to_image", "nope"])
def test_pipeline_names_reject_non_pipelines(pipeline):
    with pytest.raises(ValueError, match="pipeline"):
        capability_for_pipeline(pipeline)


def test_names():
    assert capability_name(35) == "Live video to video"
    assert capability_name(99) == "unknown capability 99"


def orch(caps=(0, 1, 12), version="0.9.2", models=None, mandatories=()):
    return CapabilitySet(
        bitstring=encode_bitstring(caps),
        mandatories=tuple(mandatories),
        version=version,
        per_capability=models or {},
    )


def test_empty_requirements_always_pass():
    assert CapabilitySet().compatible_with(orch())
    assert CapabilitySet().compatible_with(CapabilitySet())


def test_bitstring_must_be_covered():
    assert CapabilitySet(bitstring=encode_bitstring([0, 12])).compatible_with(orch())
    assert not CapabilitySet(bitstring=encode_bitstring([0, 5])).compatible_with(orch())
    # A gateway array longer than the orchestrator's fails even if the extra word is zero (go).
    assert not CapabilitySet(bitstring=(1, 0)).compatible_with(orch())


def test_mandatories():
    o = orch(mandatories=encode_bitstring([12]))
    assert not CapabilitySet().compatible_with(o)  # why mandatories must stay empty (§3.2)
    assert CapabilitySet(bitstring=encode_bitstring([12])).compatible_with(o)


@pytest.mark.parametrize(
    "minimum,version,ok",
    [
        ("0.9.0", "0.9.2", True),
        ("0.9.2", "0.9.2", True),
        ("0.9.3", "0.9.2", False),
        ("v0.7.9-ai.3", "0.7.9", True),  # pre-release suffixes are ignored
        ("0.1.0", "", False),
        ("0.1.0", "undefined", False),
        ("not a version", "", True),  # an unparsable minVersion is ignored
    ],
)
def test_min_version(minimum, version, ok):
    assert CapabilitySet(min_version=minimum).compatible_with(orch(version=version)) is ok


def test_per_capability_models():
    offered = {35: {"noop": ModelConstraint(warm=True, runner_version="0.2.0")}}
    o = orch(caps=(0, 35), models=offered)

    def wants(models):
        return CapabilitySet(capacities={35: 1}, per_capability={35: models})

    assert wants({"noop": ModelConstraint()}).compatible_with(o)
    assert wants({"noop": ModelConstraint(warm=True)}).compatible_with(o)
    assert not wants({"other": ModelConstraint()}).compatible_with(o)
    assert wants({"noop": ModelConstraint(runner_version="0.1.9")}).compatible_with(o)
    assert not wants({"noop": ModelConstraint(runner_version="0.3")}).compatible_with(o)
    cold = orch(caps=(35,), models={35: {"noop": ModelConstraint(warm=False)}})
    assert not wants({"noop": ModelConstraint(warm=True)}).compatible_with(cold)
    # Capabilities the orchestrator does not list pass (only the bitstring constrains them).
    assert CapabilitySet(per_capability={27: {"sdxl": ModelConstraint()}}).compatible_with(o)


def test_requested_models_needs_both_maps():
    c = CapabilitySet(
        capacities={35: 1, 27: 1},
        per_capability={
            35: {"b": ModelConstraint(), "a": ModelConstraint()},
            30: {"x": ModelConstraint()},
        },
    )
    assert c.requested_models() == [(35, "a"), (35, "b")]


def test_version_at_least():
    assert version_at_least("1.10.0", "1.9.9")
    assert not version_at_least("garbage", "1.0.0")
