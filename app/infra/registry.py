"""The device registry: which device may connect, and for which patient.

A device's token is random (256 bits), shown once when it is issued, and
stored only as its SHA-256 hash: a token of that entropy needs no slow hash,
and the hash alone cannot be used to connect. Lookup is by the hash's first
64 bits, and the whole stored hash is compared with `hmac.compare_digest`
(`app.core.directory.match_token`).

The registry is a JSON file (mode 0600) under VIGIL_HOME, written atomically
under a lock; a gateway re-reads it when it changes, so a revocation or a
rotation applies to the next handshake, and the gateway's periodic check
closes connections that were opened with a credential no longer in force.

A registry file that cannot be read or parsed (a disk error, a hand edit gone
wrong) raises `RegistryUnavailable`; the last good copy stays in memory
(`cached`), and the same broken version of the file is not parsed again.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from app.core.directory import Device as Device  # part of its interface
from app.core.directory import match_token, token_index
from app.core.directory import token_hash as token_hash
from app.core.errors import RegistryError as RegistryError  # its errors, part of its interface
from app.core.errors import RegistryUnavailable as RegistryUnavailable

TOKEN_PREFIX = "vgl_"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")


def validate_id(kind: str, value: str) -> str:
    if not _ID.match(value):
        raise RegistryError(
            f"a {kind} id is 1-128 letters, digits and . _ : -, starting with a letter or digit"
        )
    return value


class Registry:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._mtime_ns: int | None = None
        self._failed_mtime_ns: int | None = None  # the version of the file that could not be read
        self._failure = ""
        self._by_index: dict[str, list[Device]] = {}  # token_index -> devices
        self._by_id: dict[str, Device] = {}

    # -- reading ------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {"version": 1, "devices": {}}
        except (OSError, ValueError) as exc:
            raise RegistryUnavailable(f"device registry cannot be read: {type(exc).__name__}") from None
        if not isinstance(data, dict) or not isinstance(data.get("devices"), dict):
            raise RegistryUnavailable("device registry cannot be read: not a registry")
        return data

    def version(self) -> int | None:
        """Changes whenever the registry file is rewritten."""
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def devices(self) -> list[Device]:
        return [_device(k, v) for k, v in sorted(self._load()["devices"].items())]

    def current(self, device_id: str) -> Device | None:
        """The device as registered now (re-read if the file changed).
        Raises RegistryUnavailable if the file cannot be read."""
        self.refresh()
        return self._by_id.get(device_id)

    def cached(self, device_id: str) -> Device | None:
        """The device as of the last good read of the file."""
        return self._by_id.get(device_id)

    def authenticate(self, token: str) -> Device | None:
        """The device this token belongs to, or None (unknown or revoked).
        Raises RegistryUnavailable if the file cannot be read."""
        self.refresh()
        digest = token_hash(token)
        return match_token(self._by_index.get(token_index(digest), []), digest)

    def refresh(self) -> None:
        """Re-read the file if it changed since the last good read; on a
        failure keep the last good copy and raise RegistryUnavailable."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None
        except OSError as exc:
            raise RegistryUnavailable(f"device registry cannot be read: {type(exc).__name__}") from None
        if mtime == self._mtime_ns and self._mtime_ns is not None:
            return
        if mtime is not None and mtime == self._failed_mtime_ns:
            raise RegistryUnavailable(self._failure)
        try:
            by_id = {k: _device(k, v) for k, v in self._load()["devices"].items()}
        except RegistryUnavailable as exc:
            self._failed_mtime_ns, self._failure = mtime, str(exc)
            raise
        except (KeyError, TypeError, AttributeError) as exc:
            self._failed_mtime_ns = mtime
            self._failure = f"device registry cannot be read: {type(exc).__name__}"
            raise RegistryUnavailable(self._failure) from None
        self._by_id = by_id
        by_index: dict[str, list[Device]] = {}
        for device in by_id.values():
            by_index.setdefault(token_index(device.token_sha256), []).append(device)
        self._by_index = by_index
        self._mtime_ns, self._failed_mtime_ns = mtime, None

    # -- writing --------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._load()
            yield data
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        """Replace the file atomically; on failure (a full disk) the old file
        stays as it was and no temporary file is left behind."""
        tmp = self.path.with_suffix(".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            why = exc.strerror or str(exc)
            raise RegistryError(
                f"could not write the device registry {self.path} ({why}); nothing was changed"
            ) from None

    def add(self, device_id: str, patient: str) -> str:
        """Register a device for a patient; return its token (shown only now)."""
        validate_id("device", device_id)
        validate_id("patient", patient)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._locked() as data:
            if device_id in data["devices"] and not data["devices"][device_id].get("revoked"):
                raise RegistryError("that device is already registered; revoke it first")
            data["devices"][device_id] = {
                "patient": patient,
                "token_sha256": token_hash(token),
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "revoked": False,
            }
        return token

    def reissue(self, devices: dict[str, str]) -> dict[str, str]:
        """Register each device (id -> patient) afresh, replacing any earlier
        registration, in one write; return the new tokens by device id. For
        Vigil's own clients (simulated fleets, replays), not for real devices."""
        for device_id, patient in devices.items():
            validate_id("device", device_id)
            validate_id("patient", patient)
        tokens = {device_id: TOKEN_PREFIX + secrets.token_urlsafe(32) for device_id in devices}
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self._locked() as data:
            for device_id, patient in devices.items():
                data["devices"][device_id] = {
                    "patient": patient,
                    "token_sha256": token_hash(tokens[device_id]),
                    "created": created,
                    "revoked": False,
                }
        return tokens

    def rotate(self, device_id: str) -> str:
        """Issue a new token for a device; the old one stops working at once."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._locked() as data:
            entry = data["devices"].get(device_id)
            if entry is None or entry.get("revoked"):
                raise RegistryError("no such active device")
            entry["token_sha256"] = token_hash(token)
            entry["rotated"] = datetime.now(UTC).isoformat(timespec="seconds")
        return token

    def revoke(self, device_id: str) -> None:
        with self._locked() as data:
            if device_id not in data["devices"]:
                raise RegistryError("no such device")
            data["devices"][device_id]["revoked"] = True


def _device(device_id: str, v: dict[str, Any]) -> Device:
    if not isinstance(v["patient"], str) or not isinstance(v["token_sha256"], str):
        raise TypeError("malformed device entry")
    return Device(device_id, v["patient"], v["created"], bool(v.get("revoked")), v["token_sha256"])
