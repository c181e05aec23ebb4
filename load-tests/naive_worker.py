"""The obvious per-patient anomaly detector a user would write from the Faust
and River documentation: a comparison baseline for bench_worker.py, not part
of Vigil.

One agent reads `vigil.readings` records, decodes each one with
`app.core.records.decode_readings`, and for every reading:

1. loads the patient's River pipeline
   (`preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=42)`, made on
   the patient's first reading) from a Faust table;
2. scores it (`score_one`) and learns it (`learn_one`) on the numeric vitals;
3. writes the pipeline back to the table, which sends it to the table's
   changelog topic: per-patient state durable in Kafka, as in Vigil.

The table uses the memory store and holds `pickle.dumps(pipeline)` as raw
bytes, the way the docs' examples keep arbitrary objects. Pickle is acceptable
here only because this is a benchmark baseline: it unpickles nothing but the
values it wrote itself to its own changelog topic. Never unpickle table values
that anyone else can write (Vigil stores its state with its own versioned
encoding for that reason).

Configured by the environment (bench_worker.py sets it):
BENCH_BOOTSTRAP (host:port), BENCH_APP_ID (Faust app id = consumer group and
changelog prefix), BENCH_TOPIC (default vigil.readings), BENCH_PARTITIONS
(default 4), BENCH_WEB_PORT (default 6068). Run by hand:

    BENCH_BOOTSTRAP=127.0.0.1:9092 BENCH_APP_ID=naive \\
        .venv/bin/python load-tests/naive_worker.py worker -l warn

GET http://127.0.0.1:$BENCH_WEB_PORT/bench answers JSON: records, readings and
patients seen, and the wall-clock times (epoch seconds) of the first record's
arrival and of the end of the last record's processing.
"""

from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faust  # noqa: E402
from benchlib import comparison_app  # noqa: E402
from river import anomaly, preprocessing  # noqa: E402

from app.core.records import readable_frames  # noqa: E402

stats = {"records": 0, "readings": 0, "patients": 0, "first": None, "last": None}
app, readings_topic = comparison_app("bench-naive", 6068, stats)
PARTITIONS = app.conf.topic_partitions
# patient pseudonym -> pickle.dumps(pipeline); bytes key and value types make
# Faust store both as they are (its "raw" codec).
models = app.Table("models", default=None, key_type=bytes, value_type=bytes, partitions=PARTITIONS)


def new_model():  # type: ignore[no-untyped-def]
    return preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=42)


@app.agent(readings_topic, concurrency=1)
async def detect(stream: faust.StreamT[bytes]) -> None:
    async for value in stream:
        if stats["first"] is None:
            stats["first"] = time.time()
        for batch, reading in ((b, r) for b in readable_frames(value) for r in b.readings):
            key = batch.patient.encode()
            stored = models.get(key)
            if stored is None:
                model = new_model()
                stats["patients"] += 1
            else:
                model = pickle.loads(stored)
            x = {
                name: float(v)
                for name, v in reading["vitals"].items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
            model.score_one(x)  # the anomaly score; a real app would alert on it
            model.learn_one(x)
            models[key] = pickle.dumps(model)  # one changelog record per reading
            stats["readings"] += 1
        stats["records"] += 1
        stats["last"] = time.time()


if __name__ == "__main__":
    app.main()
