"""The worker's Faust app: built by a factory, with the settings Faust gets
wrong for health data set on purpose."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agents.app import Worker
from agents.codec import CODEC
from app.core.state import PatientState
from app.infra.pseudonyms import PatientDirectory
from app.infra.registry import Registry
from app.infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def worker(tmp_path: Path) -> Worker:
    settings = Settings(home=tmp_path, kafka_bootstrap="127.0.0.1:1", worker_store="memory://")
    return Worker(settings, PatientDirectory(Registry(tmp_path / "devices.json"), b"k" * 32))


def test_importing_the_worker_does_no_work(tmp_path: Path) -> None:
    """No settings read, no key file made, no app built at import."""
    code = "import agents.app, agents.codec, agents.cache; import sys; print(hasattr(agents.app, 'app'))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    )
    assert done.stdout.strip() == "False"
    assert list(tmp_path.iterdir()) == []


def test_table_uses_vigils_codec_for_the_changelog(tmp_path: Path) -> None:
    # Recovery decodes with the changelog topic's codec: it must be ours, not JSON.
    patients = worker(tmp_path).patients
    assert patients.changelog_topic.value_serializer == CODEC
    assert patients.value_serializer == CODEC
    assert patients.changelog_topic.key_serializer == "raw"


def test_web_views_that_would_serve_patient_data_are_off(tmp_path: Path) -> None:
    conf = worker(tmp_path).app.conf
    assert not (conf.web_tables_enabled or conf.web_router_enabled or conf.web_stats_enabled)
    assert conf.web_bind == "127.0.0.1" and conf.producer_acks == -1


async def test_decoded_states_are_forgotten_when_partitions_move(tmp_path: Path) -> None:
    w = worker(tmp_path)
    w.decoded.put(b"p-1", PatientState())
    # Another worker may advance these patients once their partitions move.
    await w.app.on_partitions_revoked.send(set())
    assert len(w.decoded) == 0
    w.decoded.put(b"p-2", PatientState())
    await w.app.on_partitions_assigned.send(set())
    assert len(w.decoded) == 0
