"""The device registry and the patient directory as records, for hosts that
share no disk (`VIGIL_REGISTRY=kafka`).

Two compacted topics hold them; the newest record of a key is what counts.

`vigil.devices`, keyed by device id, read by every gateway: what a gateway
needs to admit a device, and nothing of its patient but the pseudonym:

    {"v": 1, "device_id": "...", "subject": "p-<pseudonym>", "token_sha256": "<hex>",
     "created": "<ISO 8601>", "revoked": false}

`vigil.patients`, keyed by the pseudonym, read by every worker: the patient
reference that alert consumers act on (it is patient data: only the workers
and the operator who registers devices may read it; docs/operations.md
lists the ACLs):

    {"v": 1, "patient": "..."}

A record that is not one of these (another version, a hand-written one) is
ignored, so that one bad record cannot stop a gateway or a worker from
reading the rest; `decode_*` return None for it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import orjson

from app.core.records import pseudonym

DIRECTORY_VERSION = 1


@dataclass(frozen=True, slots=True)
class Device:
    """A registered device. `patient` is empty where only the pseudonym
    (`subject`) is known (a gateway reading `vigil.devices`); `subject` is
    empty where the patient is (the registry file), and is then derived."""

    device_id: str
    patient: str
    created: str
    revoked: bool = False
    token_sha256: str = ""  # identifies the credential in force; not a secret
    subject: str = ""

    def pseudonym(self, key: bytes) -> str:
        return self.subject or pseudonym(key, self.patient)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Registries index devices by the first 64 bits of their token's hash; the
# whole hash is then compared in constant time (`match_token`). A lookup
# keyed by the whole hash would compare it in the dict, in variable time,
# and a later compare_digest of the key with itself would check nothing.
TOKEN_INDEX_CHARS = 16


def token_index(digest: str) -> str:
    return digest[:TOKEN_INDEX_CHARS]


def match_token(candidates: list[Device], digest: str) -> Device | None:
    """The device among those sharing `digest`'s index whose whole token
    hash is `digest` (compared in constant time), unless it is revoked."""
    for device in candidates:
        if hmac.compare_digest(device.token_sha256, digest):
            return None if device.revoked else device
    return None


def encode_device(device: Device) -> bytes:
    """The `vigil.devices` record of a device; `subject` must be set."""
    if not device.subject:
        raise ValueError("a vigil.devices record needs the patient's pseudonym")
    return orjson.dumps(
        {
            "v": DIRECTORY_VERSION,
            "device_id": device.device_id,
            "subject": device.subject,
            "token_sha256": device.token_sha256,
            "created": device.created,
            "revoked": device.revoked,
        }
    )


def decode_device(value: bytes | None) -> Device | None:
    """The device a `vigil.devices` record holds, or None (a tombstone, or a
    record this version cannot read)."""
    data = _object(value)
    if data is None:
        return None
    fields = (data.get("device_id"), data.get("subject"), data.get("token_sha256"), data.get("created"))
    revoked = data.get("revoked")
    if not all(isinstance(f, str) and f for f in fields) or not isinstance(revoked, bool):
        return None
    device_id, subject, token, created = fields
    return Device(str(device_id), "", str(created), revoked, str(token), str(subject))


def encode_patient(patient: str) -> bytes:
    return orjson.dumps({"v": DIRECTORY_VERSION, "patient": patient})


def decode_patient(value: bytes | None) -> str | None:
    data = _object(value)
    patient = None if data is None else data.get("patient")
    return patient if isinstance(patient, str) and patient else None


def _object(value: bytes | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("v") != DIRECTORY_VERSION:
        return None
    return data


class SamePatient:
    """Whether a patient reference a reading names is the device's own
    patient, known to the gateway only by its pseudonym: equal pseudonyms
    under the key. The last reference found equal is remembered, so a device
    naming its patient in every reading costs one HMAC per connection."""

    __slots__ = ("_key", "_subject", "_known")

    def __init__(self, key: bytes, subject: str) -> None:
        self._key = key
        self._subject = subject
        self._known: str | None = None

    def __call__(self, patient: str) -> bool:
        if patient == self._known:
            return True
        if hmac.compare_digest(pseudonym(self._key, patient), self._subject):
            self._known = patient
            return True
        return False
