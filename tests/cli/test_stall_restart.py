"""`vigil up` starts a worker that stopped itself because it stalled (exit
code 6) again, a few times; any other exit still stops the stack."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import up
from app.infra.settings import Settings


def child(tmp_path: Path, name: str, code: int | None) -> up.Child:
    """A process that exits with `code` at once (None: runs until stopped)."""
    log = tmp_path / f"{name}.log"
    script = "import time; time.sleep(60)"
    if code is not None:
        script = f"print('last words'); raise SystemExit({code})"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT)
    return up.Child(name, proc, log)


def supervise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codes: list[int | None]) -> up.Supervisor:
    """A supervisor watching a gateway and a worker whose runs exit with
    `codes` one after another (the first is the worker `vigil up` started);
    watched until it stops or the worker's last run is up for a second."""
    settings = Settings.from_env().with_(home=tmp_path, worker_web_port=16066)
    sup = up.Supervisor(settings, simulate_devices=0, speed=1.0, show_all=False, status_every=0)
    runs = iter(codes)
    spawned: list[dict[str, str]] = []

    def spawn(command: str, **extra: str) -> up.Child:
        spawned.append(extra)
        return child(tmp_path, command, next(runs))

    monkeypatch.setattr(sup, "spawn", spawn)
    sup.children = [child(tmp_path, "worker", next(runs)), child(tmp_path, "gateway", None)]
    sup.spawned = spawned  # type: ignore[attr-defined]

    async def watch() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(sup.watch(stop))
        for _ in range(100):
            await asyncio.sleep(0.1)
            if stop.is_set() or (len(spawned) == len(codes) - 1 and sup.children[0].proc.poll() is None):
                break
        stop.set()
        await task

    try:
        asyncio.run(watch())
    finally:
        for c in sup.children:
            c.proc.kill()
            c.proc.wait()
    return sup


def test_a_stalled_worker_is_started_again_on_its_port(tmp_path, monkeypatch, capsys) -> None:
    sup = supervise(tmp_path, monkeypatch, [6, None])
    assert sup.failure is None
    assert sup.spawned == [{"VIGIL_WORKER_WEB_PORT": "16066"}]  # type: ignore[attr-defined]
    said = capsys.readouterr().err
    assert "the worker stopped itself" in said and "starting it again (1 of 3" in said


def test_a_worker_that_keeps_stalling_stops_vigil_up(tmp_path, monkeypatch, capsys) -> None:
    sup = supervise(tmp_path, monkeypatch, [6, 6, 6, 6, None])
    assert len(sup.spawned) == 3  # type: ignore[attr-defined]
    assert sup.failure is not None and "the worker exited with code 6" in sup.failure
    assert "starting it again (3 of 3" in capsys.readouterr().err


def test_a_worker_that_crashed_stops_vigil_up(tmp_path, monkeypatch) -> None:
    sup = supervise(tmp_path, monkeypatch, [1, None])
    assert sup.spawned == []  # type: ignore[attr-defined]
    assert sup.failure is not None and "the worker exited with code 1" in sup.failure
    assert "last words" in sup.failure
