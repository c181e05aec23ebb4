"""`vigil up` starts a worker or gateway that exited on its own again (it
stalled: exit code 6; it was killed, or crashed), a few times, on the same
ports; one that keeps exiting, or exits 0 or for a bad setting or a taken
port, stops the stack with one line."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import up
from app.infra.settings import Settings

LAST_WORDS = "last words"  # what a child that exits writes last to its log


def child(tmp_path: Path, name: str, code: int | None) -> up.Child:
    """A process that exits with `code` at once (below 0: killed by that
    signal, as `kill -9` does; None: runs until stopped), `LAST_WORDS` its
    log's last line."""
    log = tmp_path / f"{name}.log"
    script = "import time; time.sleep(60)"
    if code is not None and code < 0:
        script = f"import os; print({LAST_WORDS!r}, flush=True); os.kill(os.getpid(), {-code})"
    elif code is not None:
        script = f"print({LAST_WORDS!r}); raise SystemExit({code})"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT)
    return up.Child(name, proc, log)


def supervise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codes: list[int | None], name: str = "worker"
) -> up.Supervisor:
    """A supervisor watching a worker and a gateway; the runs of `name`
    exit with `codes` one after another (the first is the one `vigil up`
    started), the other runs until stopped; watched until it stops or the
    last run of `name` is up for a second."""
    settings = Settings.from_env().with_(
        home=tmp_path, worker_web_port=16066, gateway_port=18765, gateway_http_port=18766
    )
    sup = up.Supervisor(settings, simulate_devices=0, speed=1.0, show_all=False, status_every=0)
    runs = iter(codes)
    spawned: list[dict[str, str]] = []

    def spawn(command: str, **extra: str) -> up.Child:
        spawned.append(extra)
        return child(tmp_path, command, next(runs))

    monkeypatch.setattr(sup, "spawn", spawn)
    sup.children = [child(tmp_path, c, next(runs) if c == name else None) for c in ("worker", "gateway")]
    watched = sup.children[0 if name == "worker" else 1]
    sup.spawned = spawned  # type: ignore[attr-defined]

    async def watch() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(sup.watch(stop))
        for _ in range(100):
            await asyncio.sleep(0.1)
            if stop.is_set() or (len(spawned) == len(codes) - 1 and watched.proc.poll() is None):
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


def test_a_worker_killed_with_sigkill_is_started_again_on_its_port(tmp_path, monkeypatch, capsys) -> None:
    """`kill -9` of the worker stopped the whole stack, devices and Kafka
    included ("the worker exited with code -9 ...; stopping", exit 1: an
    outside SRE's first hour). It is started again, as systemd's
    Restart=on-failure would, and `vigil up` runs on."""
    sup = supervise(tmp_path, monkeypatch, [-9, None])
    assert sup.failure is None
    assert sup.spawned == [{"VIGIL_WORKER_WEB_PORT": "16066"}]  # type: ignore[attr-defined]
    said = capsys.readouterr().err
    assert (
        "vigil: the worker exited with code -9 (killed by SIGKILL); starting it again on the same port "
        "(1 of 3 in 15 min; last log line: last words)"
    ) in said, said
    assert "stopping" not in said


def test_the_restart_line_gives_a_json_log_lines_event_and_level_alone(tmp_path, monkeypatch, capsys) -> None:
    """The restart line ended with the child's last log line as written, a
    JSON object (`last log line: {"event": "[^Worker]: Ready", "logger":
    ...}`: a newcomer's report). It gives its event and level, none of its
    other fields."""
    line = {
        "event": "[^Worker]: Ready",
        "logger": "faust.worker",
        "component": "worker",
        "level": "info",
        "timestamp": "2026-12-06T10:40:00Z",
        "subject": "pseudonym-1f3a",
        "patient": "[redacted]",
    }
    monkeypatch.setattr(sys.modules[__name__], "LAST_WORDS", json.dumps(line))
    sup = supervise(tmp_path, monkeypatch, [-9, None])
    assert sup.failure is None
    said = capsys.readouterr().err
    assert (
        "vigil: the worker exited with code -9 (killed by SIGKILL); starting it again on the same port "
        "(1 of 3 in 15 min; last log line: [^Worker]: Ready (info))"
    ) in said, said
    assert "{" not in said and "pseudonym" not in said and "redacted" not in said


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        (
            '{"event": "Kafka went away", "level": "warning", "frame": "[redacted]"}',
            "Kafka went away (warning)",
        ),
        ('{"event": "no level"}', "no level"),
        ("Traceback ... ValueError: bad", "Traceback ... ValueError: bad"),  # not JSON: as written
        ('{"no": "event", "device_id": "bed-1"}', None),  # JSON, but no event to give: the log named
    ],
)
def test_a_log_line_is_shown_readably(tmp_path, written: str, shown: str | None) -> None:
    log = tmp_path / "worker.log"
    log.write_text(f"earlier\n{written}\n\n")
    assert up._last_line(log) == (f"last log line: {shown}" if shown else f"see {log}")


def test_a_gateway_that_crashed_is_started_again_on_its_ports(tmp_path, monkeypatch, capsys) -> None:
    sup = supervise(tmp_path, monkeypatch, [1, None], name="gateway")
    assert sup.failure is None
    assert sup.spawned == [  # type: ignore[attr-defined]
        {"VIGIL_GATEWAY_PORT": "18765", "VIGIL_GATEWAY_HTTP_PORT": "18766"}
    ]
    said = capsys.readouterr().err
    assert "the gateway exited with code 1; starting it again on the same ports (1 of 3 in 15 min" in said


def test_a_worker_that_keeps_being_killed_stops_vigil_up(tmp_path, monkeypatch, capsys) -> None:
    sup = supervise(tmp_path, monkeypatch, [-9, -9, -9, -9, None])
    assert len(sup.spawned) == 3  # type: ignore[attr-defined]
    said = capsys.readouterr().err
    assert "starting it again on the same port (3 of 3 in 15 min" in said
    assert (
        "vigil: the worker exited with code -9 (killed by SIGKILL) after 3 restarts in 15 min: "
        "it keeps crashing (last log line: last words); stopping"
    ) in said, said


@pytest.mark.parametrize("code", [0, 2, 4])
def test_a_child_stopped_or_misconfigured_stops_vigil_up(tmp_path, monkeypatch, code: int) -> None:
    """Exit 0 (stopped on purpose), 2 (a bad setting) and 4 (a port taken)
    would only happen again: one line, and everything stops, as before."""
    sup = supervise(tmp_path, monkeypatch, [code, None])
    assert sup.spawned == []  # type: ignore[attr-defined]
    assert sup.failure == f"the worker exited with code {code} (last log line: last words)"
