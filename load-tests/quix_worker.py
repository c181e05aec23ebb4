"""The same per-patient per-vital statistics on Quix Streams: a comparison
peer for bench_worker.py, not part of Vigil.

Written the way Quix Streams' documentation shows stateful processing
(https://quix.io/docs/quix-streams/processing.html#using-state-store): a
StreamingDataFrame over `vigil.readings`, each record decoded with
`app.core.records.decode_readings` and expanded into one row per reading
(`apply(..., expand=True)`: a record of N readings is processed reading by
reading), then a stateful function per reading that, for every numeric vital,

1. loads the patient's River `stats.Var` for that vital from the state
   (`state.get(vital)`; Quix keys the state by the message key, the
   patient's pseudonym),
2. scores the value against it (a z-score: what Vigil's detector starts
   from) and learns it (`Var.update`),
3. stores it back (`state.set(vital, var)`).

The state is Quix's RocksDB store with its changelog topic on (durable in
Kafka, like Vigil's table), at-least-once, committed every 2.8 s (Faust's
default commit interval, which Vigil's worker uses). Quix serialises a value
on every `state.set` and keeps it in a per-checkpoint cache: at each commit
it writes each changed key once to RocksDB and to the changelog, then
commits the offsets. River objects are not JSON, so the store's
`dumps`/`loads` are pickle's, the way a user keeps arbitrary Python objects
there. Pickle is acceptable here only because this is a benchmark baseline:
it unpickles nothing but the values it wrote itself to its own store and
changelog on a private broker. Never unpickle state that anyone else can
write (Vigil stores its state with its own versioned encoding for that
reason).

Configured by the environment (bench_worker.py sets it):
BENCH_BOOTSTRAP (host:port), BENCH_APP_ID (consumer group, and so the
changelog topic's name), BENCH_TOPIC (default vigil.readings),
BENCH_WEB_PORT (default 6069; 0: a free one, written to BENCH_PORTS_FILE),
BENCH_DATADIR (Quix's state folder), BENCH_COMMIT_S (default 2.8). Run by hand:

    BENCH_BOOTSTRAP=127.0.0.1:9092 BENCH_APP_ID=quix .venv/bin/python load-tests/quix_worker.py

GET http://127.0.0.1:$BENCH_WEB_PORT/bench answers JSON: records, readings
and patients seen, and the wall-clock times (epoch seconds) of the first
record's arrival and of the end of the last reading's processing.
"""

from __future__ import annotations

import http.server
import json
import math
import os
import pickle
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quixstreams import Application, State  # noqa: E402
from quixstreams.state.rocksdb import RocksDBOptions  # noqa: E402
from river import stats as river_stats  # noqa: E402

from app.core.records import readable_frames  # noqa: E402
from app.infra import ports  # noqa: E402

stats: dict[str, Any] = {"records": 0, "readings": 0, "patients": 0, "first": None, "last": None}
_patients: set[bytes] = set()


# -- the processing, per record and per reading ---------------------------------------


def readings_of(value: bytes, key: bytes, timestamp: int, headers: Any) -> list[dict[str, Any]]:
    """One record (a device frame, or several coalesced by the gateway) -> its
    readings, one row each. The key is the first frame's patient, so a row
    carries its own patient's pseudonym (`learn` keys its state by it)."""
    if stats["first"] is None:
        stats["first"] = time.time()
    stats["records"] += 1
    rows = []
    for batch in readable_frames(value):
        patient = batch.patient.encode()
        if patient not in _patients:
            _patients.add(patient)
            stats["patients"] = len(_patients)
        own = patient == key  # the record's key: its state, as before
        rows += batch.readings if own else [{**r, "patient": batch.patient} for r in batch.readings]
    return rows


def learn(reading: dict[str, Any], state: State) -> None:
    """Score and learn one reading against the patient's per-vital Var."""
    for vital, value in reading["vitals"].items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        x = float(value)
        name = vital if "patient" not in reading else f"{reading['patient']}/{vital}"
        var = state.get(name)
        if var is None:
            var = river_stats.Var()
        elif var.mean.n > 1:
            spread = math.sqrt(var.get())
            _z = (x - var.mean.get()) / spread if spread else 0.0  # a real app would alert on it
        var.update(x)
        state.set(name, var)
    stats["readings"] += 1
    stats["last"] = time.time()


# -- the application -----------------------------------------------------------------


def build_app() -> Application:
    app = Application(
        broker_address=os.environ.get("BENCH_BOOTSTRAP", "127.0.0.1:9092"),
        consumer_group=os.environ.get("BENCH_APP_ID", "bench-quix"),
        auto_offset_reset="earliest",
        commit_interval=float(os.environ.get("BENCH_COMMIT_S", "2.8")),
        processing_guarantee="at-least-once",
        use_changelog_topics=True,
        state_dir=os.environ.get("BENCH_DATADIR", str(Path(tempfile.gettempdir()) / "vigil-bench-quix")),
        rocksdb_options=RocksDBOptions(dumps=pickle.dumps, loads=pickle.loads),
        loglevel="WARNING",
    )
    topic = app.topic(
        os.environ.get("BENCH_TOPIC", "vigil.readings"), key_deserializer="bytes", value_deserializer="bytes"
    )
    sdf = app.dataframe(topic)
    sdf = sdf.apply(readings_of, expand=True, metadata=True)
    sdf.update(learn, stateful=True)
    return app


class _Bench(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        body = json.dumps(stats).encode() if self.path == "/bench" else b"{}"
        self.send_response(200 if self.path == "/bench" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def serve_stats(port: int, ports_file: str | None) -> None:
    """/bench on `port`; with 0, the port the system chose is written to `ports_file` ({"web": port})."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Bench)
    threading.Thread(target=server.serve_forever, name="bench-http", daemon=True).start()
    if ports_file:
        ports.write(Path(ports_file), {ports.WORKER_WEB: server.server_address[1]})


def main() -> None:
    app = build_app()
    serve_stats(int(os.environ.get("BENCH_WEB_PORT", "6069")), os.environ.get("BENCH_PORTS_FILE"))
    app.run()  # until SIGTERM or SIGINT: Quix then commits and closes


if __name__ == "__main__":
    main()
