from __future__ import annotations

import pytest

from lpengine import Engine, EngineConfig, envs


def test_engine_embeds_without_a_server(tmp_path):
    with Engine(EngineConfig(data_dir=tmp_path, num_threads=2)) as engine:
        status = engine.status()
        assert status["network"] == "offchain"
        assert status["features"]["threads"] >= 1
    assert engine.closed


def test_config_is_frozen_and_validated(tmp_path):
    config = EngineConfig(data_dir=tmp_path)
    with pytest.raises(AttributeError):
        config.network = "x"  # type: ignore[misc]
    with pytest.raises(ValueError, match="num_threads"):
        EngineConfig(num_threads=-1)


def test_env_vars_are_declared_once_and_typed(monkeypatch):
    names = [v.name for v in envs.ALL]
    assert len(names) == len(set(names)) and all(n.startswith("LPENGINE_") for n in names)
    monkeypatch.setenv("LPENGINE_NUM_THREADS", "3")
    assert EngineConfig().num_threads == 3
    monkeypatch.setenv("LPENGINE_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="LPENGINE_NUM_THREADS"):
        EngineConfig()
    monkeypatch.setenv("LPENGINE_DISABLE_NATIVE", "maybe")
    with pytest.raises(ValueError, match="LPENGINE_DISABLE_NATIVE"):
        envs.LPENGINE_DISABLE_NATIVE.get()
