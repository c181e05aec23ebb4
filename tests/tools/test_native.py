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
