"""`load-tests/faults.py --quick` as tests/integration/test_faults.py runs it:
in a process of its own, started when asked and read when first needed, so
that the cluster suite (its own three brokers, gateways, workers and ports)
can run in the background from the start of the session (tests/conftest.py)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 900.0  # from its start, as `subprocess.run(timeout=900)` did


def _stop_with_pytest() -> None:
    """In the child, before exec: SIGTERM it if pytest dies without ending it
    (faults.py then stops its brokers and processes, benchlib.stop_on_signals)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class FaultSuite:
    """One `faults.py --quick [options]` run, started now."""

    def __init__(self, *options: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="vigil-fault-suite-"))
        self.report = self.folder / "faults.json"
        self._out = open(self.folder / "stdout", "w+")  # noqa: SIM115 - read back in result()
        self._err = open(self.folder / "stderr", "w+")  # noqa: SIM115
        command = [sys.executable, str(ROOT / "load-tests" / "faults.py"), "--quick", *options]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [*command, "--json", str(self.report)],
            cwd=ROOT,
            stdout=self._out,
            stderr=self._err,
            text=True,
            preexec_fn=_stop_with_pytest,  # noqa: PLW1509 - pytest spawns it from its main thread
        )
        self._result: tuple[dict[str, dict], dict, Any] | None = None

    def wait(self) -> int:
        """Its exit code, once it has ended (TimeoutExpired after TIMEOUT_S from its start)."""
        return self.proc.wait(max(1.0, self.started + TIMEOUT_S - time.monotonic()))

    def result(self) -> tuple[dict[str, dict], dict, Any]:
        """(rows by scenario, the JSON report, the finished process with its stdout and stderr)."""
        if self._result is None:
            code = self.wait()
            self._out.seek(0)
            self._err.seek(0)
            run = subprocess.CompletedProcess(self.proc.args, code, self._out.read(), self._err.read())
            assert self.report.exists(), run.stderr[-3000:]
            print(run.stdout)
            data = json.loads(self.report.read_text())
            self._result = {row["scenario"]: row for row in data["scenarios"]}, data, run
        return self._result

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # faults.py stops its brokers and processes
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(90)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        self._err.close()
        shutil.rmtree(self.folder, ignore_errors=True)
