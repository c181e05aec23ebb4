from __future__ import annotations

import stat

import pytest

from app.infra.registry import Registry, RegistryError


def test_token_is_returned_once_and_only_its_hash_is_stored(tmp_path) -> None:
    registry = Registry(tmp_path / "devices.json")
    token = registry.add("dev-1", "patient-1")
    assert token.startswith("vgl_") and len(token) > 40
    stored = (tmp_path / "devices.json").read_text()
    assert token not in stored and token[4:] not in stored
    assert stat.S_IMODE((tmp_path / "devices.json").stat().st_mode) == 0o600


def test_authenticate_and_revoke(tmp_path) -> None:
    registry = Registry(tmp_path / "devices.json")
    token = registry.add("dev-1", "patient-1")
    device = registry.authenticate(token)
    assert device is not None and (device.device_id, device.patient) == ("dev-1", "patient-1")
    assert registry.authenticate(token + "x") is None
    assert registry.authenticate("") is None
    # A second process (the CLI) revokes; this one sees it at the next handshake.
    Registry(tmp_path / "devices.json").revoke("dev-1")
    assert registry.authenticate(token) is None


def test_reregistering_needs_a_revocation_and_issues_a_new_token(tmp_path) -> None:
    registry = Registry(tmp_path / "devices.json")
    old = registry.add("dev-1", "patient-1")
    with pytest.raises(RegistryError):
        registry.add("dev-1", "patient-2")
    registry.revoke("dev-1")
    new = registry.add("dev-1", "patient-2")
    assert registry.authenticate(old) is None
    assert registry.authenticate(new).patient == "patient-2"


@pytest.mark.parametrize("bad", ["", "-x", "a b", "x" * 200, "p\n1"])
def test_ids_are_validated(tmp_path, bad: str) -> None:
    with pytest.raises(RegistryError):
        Registry(tmp_path / "devices.json").add(bad, "patient-1")


def test_rotation_replaces_the_token_at_once(tmp_path) -> None:
    registry = Registry(tmp_path / "devices.json")
    old = registry.add("dev-1", "patient-1")
    before = registry.current("dev-1").token_sha256
    new = Registry(tmp_path / "devices.json").rotate("dev-1")
    assert registry.authenticate(old) is None
    assert registry.authenticate(new).device_id == "dev-1"
    assert registry.current("dev-1").token_sha256 != before
    registry.revoke("dev-1")
    with pytest.raises(RegistryError):
        registry.rotate("dev-1")


def test_reissue_replaces_registrations_in_one_write(tmp_path) -> None:
    registry = Registry(tmp_path / "devices.json")
    old = registry.add("sim-1", "SIM-1")
    tokens = registry.reissue({"sim-1": "SIM-1", "sim-2": "SIM-2"})
    assert registry.authenticate(old) is None
    assert {d: registry.authenticate(t).patient for d, t in tokens.items()} == {
        "sim-1": "SIM-1",
        "sim-2": "SIM-2",
    }
    with pytest.raises(RegistryError):
        registry.reissue({"bad id": "P"})


def test_an_unreadable_registry_keeps_the_last_good_copy(tmp_path) -> None:
    from app.infra.registry import RegistryUnavailable

    path = tmp_path / "devices.json"
    registry = Registry(path)
    token = registry.add("dev-1", "patient-1")
    assert registry.authenticate(token) is not None
    good = path.read_bytes()
    for broken in (b'{"devices": {"dev-1": ', b"[]", b'{"devices": {"dev-1": {"patient": 7}}}', b"\xff"):
        path.write_bytes(broken)
        with pytest.raises(RegistryUnavailable) as failure:
            registry.authenticate(token)
        assert "patient-1" not in str(failure.value) and "dev-1" not in str(failure.value)
        with pytest.raises(RegistryUnavailable):  # the same broken version: not parsed again, same answer
            registry.current("dev-1")
        assert registry.cached("dev-1") is not None  # the last good copy
    path.write_bytes(good)
    Registry(path).revoke("dev-1")
    assert registry.current("dev-1").revoked and registry.authenticate(token) is None
    path.write_bytes(b"{")
    with pytest.raises(RegistryError):  # the CLI gets one clear line, not a traceback
        Registry(path).revoke("dev-1")
