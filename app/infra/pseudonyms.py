"""The key that pseudonymises patient identifiers, and the map back.

The key comes from VIGIL_PSEUDONYM_KEY (hex, at least 32 bytes) or
VIGIL_PSEUDONYM_KEY_FILE; without either, a random key is created once in
$VIGIL_HOME/pseudonym.key (mode 0600), which suits a single host. It is never
in the repository. Gateway and worker must use the same key.

The worker turns a pseudonym back into the patient reference that alert
consumers act on by pseudonymising the patients of the device registry.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from app.core.errors import PseudonymKeyError as PseudonymKeyError  # part of its interface
from app.core.records import pseudonym
from app.infra.registry import Registry
from app.infra.settings import Settings

MIN_KEY_BYTES = 32


def load_key(settings: Settings) -> bytes:
    raw, path = settings.pseudonym_key, settings.pseudonym_key_file
    if raw:
        key = _hex(raw, "VIGIL_PSEUDONYM_KEY")
    elif path:
        key = _hex(Path(path).read_text().strip(), "VIGIL_PSEUDONYM_KEY_FILE")
    else:
        key_file = settings.home / "pseudonym.key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(MIN_KEY_BYTES))
        key = _hex(key_file.read_text().strip(), str(key_file))
    return key


def _hex(text: str, source: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise PseudonymKeyError(f"{source} must be hexadecimal") from None
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(f"{source} must hold at least {MIN_KEY_BYTES} bytes")
    return key


class PatientDirectory:
    """pseudonym -> patient reference, from the device registry, refreshed on change."""

    def __init__(self, registry: Registry, key: bytes) -> None:
        self.registry = registry
        self.key = key
        self._map: dict[str, str] = {}
        self._version: object = None

    def patient(self, subject: str) -> str | None:
        found = self._map.get(subject)
        if found is None:
            self._reload()
            found = self._map.get(subject)
        return found

    def _reload(self) -> None:
        version = self.registry.version()
        if version == self._version:
            return
        self._map = {pseudonym(self.key, d.patient): d.patient for d in self.registry.devices()}
        self._version = version
