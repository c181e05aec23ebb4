"""The compiled core: which of app.core's modules load as C extensions.

`make core` (part of `make install`) compiles the per-reading paths of the
pure core (`NATIVE`: the worker's detection, and the gateway's frames,
sessions and seq windows) with mypyc into extension modules beside their
sources, and writes a manifest of the sources' SHA-256
(`app/core/_native.json`). The extensions make the same decisions from the
same code: the golden digests of tests/core/test_golden_alerts.py pass on
both, and tests/tools/test_native.py runs both on the cohorts' readings and
on thousands of valid and hostile frames, byte for byte. One trap: compiled,
a value narrowed to `float` (a `TypeGuard[float]`, a `float` annotation) is
converted to one, so a device's 72 would become 72.0; values passed on as
the device sent them are typed `Any` (`app.core.protocol._parse_number`).

Python prefers an extension module to a source file of the same name, so a
stale one would run old code. `select()` (called when `app` is imported,
before any core module) therefore loads the sources instead, all of them
together, when any compiled module is older than its source, when there is no
manifest, or when `VIGIL_COMPILED_CORE=0`. Compiled modules call each other
directly, so it is all compiled or all source, never a mix.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import orjson

CORE = Path(__file__).resolve().parent / "core"
MANIFEST = CORE / "_native.json"
# The per-reading paths (the worker's detection; the gateway's frames, sessions
# and seq windows), in dependency order. Compiled as one group: one
# shared library (`app/core/_native__mypyc…so`) and a small module each.
NATIVE = (
    "stats",
    "vitals",
    "news2",
    "model",
    "alerts",
    "state",
    "patient",
    "records",
    "protocol",
    "delivery",
    "session",
)
GROUP = "_native__mypyc"  # the group's shared library, which every compiled module loads
OFF = ("0", "false", "no", "off")

compiled = False  # set by select(): True when the core's modules are the extensions
why_not = ""  # when not, why (for `vigil --version` and the benchmarks)


def digest(name: str) -> str:
    return hashlib.sha256((CORE / f"{name}.py").read_bytes()).hexdigest()


def manifest() -> dict[str, str]:
    return {name: digest(name) for name in NATIVE}


class _Sources(importlib.abc.MetaPathFinder):
    """Finds the core's compiled modules as their source files."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != "app.core" or name not in NATIVE:
            return None
        return importlib.util.spec_from_file_location(fullname, CORE / f"{name}.py")


def _reason() -> str:
    if os.environ.get("VIGIL_COMPILED_CORE", "").strip().lower() in OFF:
        return "VIGIL_COMPILED_CORE=0"
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    built = [n for n in (*NATIVE, GROUP) if any((CORE / f"{n}{s}").exists() for s in suffixes)]
    if not built:
        return "not built (make core)"
    try:
        recorded = orjson.loads(MANIFEST.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        recorded = None
    if not isinstance(recorded, dict) or not isinstance(recorded.get("sources"), dict):
        return "no manifest (make core)"
    if len(built) < len(NATIVE) + 1 or recorded.get("python") != sys.implementation.cache_tag:
        return "incomplete or built for another Python (make core)"
    stale = [n for n in NATIVE if recorded["sources"].get(n) != digest(n)]
    if stale:
        return f"older than the source of {', '.join(stale)} (make core)"
    return ""


def describe() -> str:
    """Which core runs, for `vigil --version`, the worker's start line and the benchmarks."""
    return "compiled" if compiled else f"Python: {why_not}"


def select() -> None:
    global compiled, why_not
    if any(f"app.core.{n}" in sys.modules for n in NATIVE):
        return  # already chosen in this process
    why_not = _reason()
    compiled = not why_not
    if not compiled and not any(isinstance(f, _Sources) for f in sys.meta_path):
        sys.meta_path.insert(0, _Sources())
