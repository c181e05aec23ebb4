from __future__ import annotations

import stat

import pytest

from app.core.records import pseudonym
from app.infra.pseudonyms import PatientDirectory, PseudonymKeyError, load_key
from app.infra.registry import Registry
from app.infra.settings import Settings


@pytest.fixture(autouse=True)
def no_key_env(monkeypatch):
    monkeypatch.delenv("VIGIL_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("VIGIL_PSEUDONYM_KEY_FILE", raising=False)


def test_generated_once_private_and_stable(tmp_path) -> None:
    settings = Settings(home=tmp_path)
    key = load_key(settings)
    assert len(key) == 32 and load_key(settings) == key
    assert stat.S_IMODE((tmp_path / "pseudonym.key").stat().st_mode) == 0o600


def test_key_from_environment_or_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path))
    monkeypatch.setenv("VIGIL_PSEUDONYM_KEY", "ab" * 32)
    assert load_key(Settings.from_env()) == bytes.fromhex("ab" * 32)
    monkeypatch.delenv("VIGIL_PSEUDONYM_KEY")
    (tmp_path / "k").write_text("cd" * 40 + "\n")
    monkeypatch.setenv("VIGIL_PSEUDONYM_KEY_FILE", str(tmp_path / "k"))
    assert load_key(Settings.from_env()) == bytes.fromhex("cd" * 40)
    assert not (tmp_path / "pseudonym.key").exists()


@pytest.mark.parametrize("bad", ["zz" * 32, "ab" * 8])
def test_bad_keys_are_refused_without_echoing_them(tmp_path, monkeypatch, bad: str) -> None:
    with pytest.raises(PseudonymKeyError) as refused:
        load_key(Settings(home=tmp_path, pseudonym_key=bad))
    assert bad not in str(refused.value)


def test_directory_maps_pseudonyms_back_and_follows_the_registry(tmp_path) -> None:
    registry = Registry(tmp_path / "devices.json")
    key = b"k" * 32
    directory = PatientDirectory(registry, key)
    assert directory.patient(pseudonym(key, "MRN-1")) is None
    registry.add("dev-1", "MRN-1")
    assert directory.patient(pseudonym(key, "MRN-1")) == "MRN-1"
