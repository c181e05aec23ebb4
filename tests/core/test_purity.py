"""The core stays pure: no I/O frameworks, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "app" / "core"
FORBIDDEN_MODULES = {
    "asyncio",
    "aiokafka",
    "faust",
    "websockets",
    "prometheus_client",
    "aiohttp",
    "time",
    "socket",
    "pickle",
}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time_ns", "monotonic", "perf_counter"}


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported = set()
    calls = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            calls.add(node.func.attr)
    assert imported & FORBIDDEN_MODULES == set()
    assert calls & FORBIDDEN_CALLS == set()
