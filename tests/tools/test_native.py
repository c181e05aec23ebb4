"""The compiled core (`make core`, app/native.py): the same decisions as the
sources, and never an extension older than its source.

`make test` builds it first (`make install`), so in CI these tests run on the
compiled modules; elsewhere, without a build, they skip and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import native

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = 10  # per cohort: more than the golden digests' 4, so other paths run too

DIGEST = """
import hashlib, sys
import orjson
from app import native
from app.core import patient as core, state as patient_state
from app.tools.evaluation import COHORTS
for name in sorted(COHORTS):
    c = COHORTS[name]
    h = hashlib.sha256()
    for p in c.build({patients}, c.days, 11):
        state = patient_state.PatientState()
        for i, reading in enumerate(p.readings):
            for event in core.process(state, p.subject, "native", reading).events:
                h.update(orjson.dumps(event, option=orjson.OPT_SORT_KEYS))
            if i % 50 == 0:
                h.update(patient_state.encode(patient_state.decode(patient_state.encode(state))))
    print(name, h.hexdigest())
print("compiled", native.compiled, native.why_not)
"""


def _require_compiled() -> None:
    if native.compiled:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI runs on the compiled core, which did not load: {native.why_not}")
    pytest.skip(f"compiled core not loaded: {native.why_not}")


def _run(code: str, cwd: Path, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_compiled_and_source_cores_give_the_same_alerts_and_states() -> None:
    """Every cohort's alert events and encoded states, byte for byte."""
    _require_compiled()
    code = DIGEST.format(patients=PATIENTS)
    compiled = _run(code, ROOT).splitlines()
    source = _run(code, ROOT, VIGIL_COMPILED_CORE="0").splitlines()
    assert compiled[-1] == "compiled True "
    assert source[-1] == "compiled False VIGIL_COMPILED_CORE=0"
    assert compiled[:-1] == source[:-1]


FRAMES = """
import hashlib, random
import orjson
from app import native
from app.core.delivery import Budget, SeqWindow, TokenBucket
from app.core.protocol import Limits
from app.core.records import decode_frames
from app.core.session import DeviceSession, StoreReadings
NOW = 1_767_268_000_000
NAMES = ["heart_rate", "spo2", "respiratory_rate", "systolic_bp", "temperature", "weight",
         "consciousness", "on_oxygen", "spo2_scale", "etco2", "Bad-Name", "x" * 70]
VALUES = [72, 97.5, 0, -1, 401, 1e13, 2, 3, "A", "X", "72", True, False, None, [], {}]
rng = random.Random(5)
h = hashlib.sha256()
window = SeqWindow()
session = DeviceSession("dev-1", lambda p: p == "patient-1", "p-1", window,
                        Budget(TokenBucket(50.0, 200.0)), Limits(max_batch=3))
def told(actions):
    for a in actions:
        h.update(repr(type(a).__name__).encode())
        if isinstance(a, StoreReadings):
            h.update(a.value)
            h.update(repr((a.key, a.seqs, a.fingerprints, a.resent, a.batch)).encode())
            h.update(repr([(b.patient, b.readings) for b in decode_frames(a.value)]).encode())
        else:
            h.update(repr(a).encode())
for i in range(4000):
    now = NOW + i * 20
    def reading():
        r = {
            "seq": rng.choice([i, i, i, i - 5, -1, "7", True, 10**18]),
            "ts": rng.choice([now, now - 1000, now + 10**9, "2026-12-01T10:00:00Z", "yesterday", None]),
            "vitals": {rng.choice(NAMES): rng.choice(VALUES) for _ in range(rng.randint(0, 5))},
        }
        if rng.random() < 0.1:
            r["patient"] = rng.choice(["patient-1", "patient-2"])
        return r
    kind = rng.choice(["reading", "reading", "reading", "batch", "hello", "telemetry"])
    if kind == "batch":
        frame = {"type": kind, "readings": [reading() for _ in range(rng.randint(0, 4))]}
    else:
        frame = {"type": kind, **reading()}
    broken = b'{"type": "reading", "seq": ' + bytes([255]) + b'}'
    raw = orjson.dumps(frame) if rng.random() < 0.97 else broken
    received = session.receive(raw, now)
    h.update(repr((received.kind, received.accepted, received.refused)).encode())
    told(received.actions)
    for a in received.actions:
        if isinstance(a, StoreReadings):
            told(session.stored(a) if rng.random() < 0.8 else session.failed(a))
    if i % 97 == 0:
        other = SeqWindow()
        for s in rng.sample(range(max(0, i - 2000), i + 50), 40):
            other.add(s, rng.randrange(1, 2**32))
        window.merge(other)
        h.update(window.encode())
print(h.hexdigest())
print("compiled", native.compiled, native.why_not)
"""


def test_compiled_and_source_gateway_paths_parse_and_keep_seqs_alike() -> None:
    """The device path (a session's frames parsed, refused, rate-limited,
    written, acknowledged or failed; records read back; seq windows kept and
    merged) over thousands of valid and hostile frames, byte for byte."""
    _require_compiled()
    compiled = _run(FRAMES, ROOT).splitlines()
    source = _run(FRAMES, ROOT, VIGIL_COMPILED_CORE="0").splitlines()
    assert compiled[-1] == "compiled True "
    assert source[-1] == "compiled False VIGIL_COMPILED_CORE=0"
    assert compiled[:-1] == source[:-1]


WHICH = "import app.core.model as m, app.core.patient as p; from app import native; print(m.__file__, p.__file__, native.why_not)"  # noqa: E501


def test_an_extension_older_than_its_source_is_never_loaded(tmp_path: Path) -> None:
    """Edit one compiled module's source: every core module then loads from
    source (compiled modules call each other directly: all or none)."""
    _require_compiled()
    copy = tmp_path / "app"
    shutil.copytree(ROOT / "app", copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = _run(WHICH, tmp_path).split()
    assert before[0].endswith(".so") and before[1].endswith(".so"), before
    with (copy / "core" / "model.py").open("a") as source:
        source.write("\nEDITED = True\n")
    after = _run(WHICH, tmp_path).split(maxsplit=2)
    assert after[0] == str(copy / "core" / "model.py") and after[1] == str(copy / "core" / "patient.py")
    assert after[2].strip() == "older than the source of model (make core)"
    (copy / "core" / "_native.json").unlink()
    assert _run(WHICH, tmp_path).split(maxsplit=2)[2].strip() == "no manifest (make core)"
    (copy / "core" / "_native.json").write_text("[]")
    assert _run(WHICH, tmp_path).split(maxsplit=2)[2].strip() == "no manifest (make core)"


def test_a_missing_shared_library_loads_the_sources(tmp_path: Path) -> None:
    """The group's shared library gone (a partial copy): the sources, not an ImportError."""
    _require_compiled()
    copy = tmp_path / "app"
    shutil.copytree(ROOT / "app", copy, ignore=shutil.ignore_patterns("__pycache__"))
    for library in (copy / "core").glob(f"{native.GROUP}*"):
        library.unlink()
    after = _run(WHICH, tmp_path).split(maxsplit=2)
    assert after[0] == str(copy / "core" / "model.py")
    assert after[2].strip() == "incomplete or built for another Python (make core)"


def test_without_a_c_compiler_the_build_says_so_in_one_line_and_the_sources_run(tmp_path: Path) -> None:
    """`make install` on a machine without gcc: one line, exit 0, no extension left behind."""
    copy = tmp_path / "app"
    shutil.copytree(ROOT / "app", copy, ignore=shutil.ignore_patterns("__pycache__", "*.so", "_native*"))
    done = subprocess.run(
        [sys.executable, "-m", "app.tools.build_core", "--optional"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path), "CC": str(tmp_path / "no-such-cc")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vigil: the compiled core was not built ("), lines
    assert "no-such-cc" in lines[0] and "the pure-Python core runs instead" in lines[0]
    assert not list((copy / "core").glob("*.so")) and not (copy / "core" / "_native.json").exists()
    assert _run(WHICH, tmp_path).split(maxsplit=2)[2].strip() == "not built (make core)"
