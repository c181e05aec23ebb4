"""Worker throughput: readings per second per worker process, with per-patient
state durable in the changelog, side by side with two Faust baselines.

What it does, in one run:

1. Provisions a local Kafka in a temp dir (unless --bootstrap is given) and
   Vigil's topics (`app.infra.topics.ensure_topics`).
2. Pre-fills `vigil.readings` with --readings readings (default 200,000) of
   --patients patients (default 200), --per-record readings per Kafka record
   (default 10: a batching device's frame), keyed by the patient's pseudonym
   like the gateway does. Vitals are the evaluation cohort's
   (`app.tools.evaluation.cohort`: daily rhythm, noise, artifacts, dropouts, some
   deteriorations), event times increasing per patient, patients interleaved;
   the devices are registered so the worker resolves every pseudonym. The
   first --naive-readings of the same stream also go to a topic of their own
   for the naive baseline. All produced with aiokafka (acks=all, linger,
   batching) before any consumer starts.
3. Runs, one after the other, each as its own OS process with its own
   consumer group, consuming its topic from the earliest offset:
   - vigil: Vigil's worker, `python -m app.cli.main worker`, unchanged (state in
     the `patients` table, one changelog record per Kafka record);
   - naive: load-tests/naive_worker.py, the obvious Faust + River app (a
     pickled `HalfSpaceTrees` pipeline per patient in a table, written back
     on every reading), on the --naive-readings prefix (default 3,000) only,
     because it is orders of magnitude slower;
   - decode-only: load-tests/decode_only_worker.py, a Faust agent that only
     decodes each record: the framework's ceiling.

How it is timed (wall clock of this machine; process start-up and Kafka
connection are excluded):
- first: when the worker had its first record. For Vigil, the CreateTime of
  the earliest record of its changelog topic (written as the first record's
  processing ends); for the baselines, the time their agent got its first
  record (their GET /bench).
- last: when the last record had been processed: for Vigil, the latest
  CreateTime in its changelog (the state write is the last step of a
  record); for the baselines, their /bench.
- seconds = last - first; readings/s and records/s follow from it.
- committed: completion is detected by polling the consumer group's committed
  offsets (AIOKafkaAdminClient.list_consumer_group_offsets, every 0.1 s, from
  this process) until they reach the topic's end offsets. Faust flushes its
  producer (the changelog writes) before it commits, and commits every
  2.8 s by default, so "to commit s" = commit seen - first is up to ~3 s
  longer than "seconds".
The counts are checked too: Vigil's /metrics (`vigil_worker_readings_total`
and `vigil_worker_patients`), the baselines' /bench, and the number of
changelog records.

Prints a table (variant, readings, seconds, readings/s, records/s, ratio to
Vigil), the machine and the target (>= 50,000 readings/s per process);
--json FILE writes the same figures. The machine is shared and noisy: compare
ratios within one run, and medians over runs.

    .venv/bin/python load-tests/bench_worker.py                   # defaults
    .venv/bin/python load-tests/bench_worker.py --readings 50000 --json /tmp/w.json
    .venv/bin/python load-tests/bench_worker.py --variants vigil --profile /tmp/bench-pyspy

--profile PREFIX samples each worker with py-spy while it consumes, from
the moment it answers HTTP (Vigil: /readyz 200; the baselines: /bench), so
start-up imports stay out: collapsed stacks to PREFIX-<variant>.txt, and the
top functions are printed. Needs `py-spy` (e.g. `.venv/bin/pip install
py-spy`); sampling slows the workers a little.
--bootstrap HOST:PORT uses an existing cluster, whose `vigil.readings` must
be empty. Worker logs are kept in the run's temp dir only with --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402  (also puts the repository root on sys.path)
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from aiokafka.errors import KafkaError  # noqa: E402

from app.core.protocol import Reading  # noqa: E402
from app.core.records import encode_readings, pseudonym  # noqa: E402
from app.infra.kafka_local import free_port  # noqa: E402
from app.infra.registry import Registry  # noqa: E402
from app.infra.settings import READINGS_TOPIC, Settings  # noqa: E402
from app.infra.topics import ensure_topics  # noqa: E402
from app.tools.evaluation import cohort  # noqa: E402

TARGET = 50_000  # readings per second per worker process
HERE = Path(__file__).resolve().parent
VARIANTS = ("vigil", "decode-only", "naive")


# -- the data ---------------------------------------------------------------------


def build_records(
    key: bytes, readings: int, patients: int, per_record: int, seed: int
) -> tuple[list[tuple[bytes, bytes, int]], dict[str, str]]:
    """[(record key, record value, readings in it)] in production order, and
    the devices to register (device id -> patient id)."""
    per_patient = [readings // patients + (1 if i < readings % patients else 0) for i in range(patients)]
    need = max(per_patient)
    days = need * 1.3 / 1440 + 0.05  # the cohort has one reading a minute, minus dropouts
    while True:
        population = cohort(patients, days, seed)
        if min(len(p.readings) for p in population) >= need:
            break
        days *= 1.5
    received_ms = int(time.time() * 1000)
    devices: dict[str, str] = {}
    chunks: list[list[tuple[bytes, bytes, int]]] = []
    for i, simulated in enumerate(population):
        device_id, patient = f"bench-dev-{i:06d}", f"bench-patient-{i:06d}"
        devices[device_id] = patient
        subject = pseudonym(key, patient)
        mine = simulated.readings[: per_patient[i]]
        own = []
        for start in range(0, len(mine), per_record):
            part = [Reading(r["seq"], r["ts"], r["vitals"]) for r in mine[start : start + per_record]]
            own.append((subject.encode(), encode_readings(device_id, subject, received_ms, part), len(part)))
        chunks.append(own)
    # Interleave the patients, one frame each in turn: event times increase per patient.
    records = []
    for k in range(max(len(c) for c in chunks)):
        records.extend(c[k] for c in chunks if k < len(c))
    return records, devices


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes, int]]) -> float:
    """Write the records as fast as aiokafka allows; seconds taken."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value, _ in records]
        await producer.flush()
        for future in futures:
            future.result()  # raises if a record was not stored
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def offsets(bootstrap: str, topic: str) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """(beginning offsets, end offsets) of every partition of `topic`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] or not described["partitions"]:
        raise RuntimeError(f"topic {topic} not found (Kafka error {described['error_code']})")
    tps = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
    finally:
        await consumer.stop()


async def changelog_span(bootstrap: str, topic: str) -> tuple[float, float, int]:
    """(first, last CreateTime in epoch seconds, number of records) of a changelog topic."""
    begin, end = await offsets(bootstrap, topic)
    filled = [tp for tp in end if end[tp] > begin[tp]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(filled)

        async def timestamps_at(position: dict[TopicPartition, int]) -> list[float]:
            """The CreateTime of the record at `position[tp]` of each partition."""
            for tp, offset in position.items():
                consumer.seek(tp, offset)
            found: dict[TopicPartition, float] = {}
            while len(found) < len(position):
                batches = await consumer.getmany(timeout_ms=1000)
                for tp, records in batches.items():
                    for record in records:
                        if record.offset == position[tp]:
                            found[tp] = record.timestamp / 1000
            return list(found.values())

        first = min(await timestamps_at({tp: begin[tp] for tp in filled}))
        last = max(await timestamps_at({tp: end[tp] - 1 for tp in filled}))
    finally:
        await consumer.stop()
    return first, last, sum(end[tp] - begin[tp] for tp in filled)


# -- one variant ------------------------------------------------------------------


def find_py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def top_functions(collapsed: Path, n: int = 15) -> list[tuple[str, float, float]]:
    """From py-spy's collapsed stacks ("frame;frame;... count", each frame
    "function (file:line)"): (function (file), % of samples where it is the
    innermost frame (self), % of samples where it is on the stack (total)),
    the top `n` by self. Lines of one function are added up."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        samples += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            total[frame] += int(count)
    if not samples:
        return []
    return [(f, 100 * c / samples, 100 * total[f] / samples) for f, c in own.most_common(n)]


async def run_variant(
    name: str,
    cmd: list[str],
    env: dict[str, str],
    group: str,
    topic: str,
    procs: benchlib.Processes,
    bootstrap: str,
    timeout: float,
    web: str,
    changelog: str | None,
    profile: Path | None = None,
) -> dict[str, Any]:
    begins, ends = await offsets(bootstrap, topic)
    spawned = time.time()
    proc = procs.start(name, cmd, env)
    spy = None
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if profile is not None:
            # Sample the consuming, not the imports: start once the worker answers.
            ready_path = "/readyz" if changelog is not None else "/bench"
            await asyncio.to_thread(benchlib.wait_ready, web + ready_path, proc, timeout)
            spy = subprocess.Popen(
                [
                    find_py_spy() or "py-spy",
                    "record",
                    "--pid",
                    str(proc.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "--nonblocking",
                    "--output",
                    str(profile),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        # Completion: the group's committed offsets reach the end offsets.
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}:\n{procs.log_tail(name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not consume everything within {timeout:.0f} s")
            try:
                committed = await admin.list_consumer_group_offsets(group)
            except KafkaError:  # e.g. no group coordinator yet on a fresh broker
                committed = {}
            if all(tp in committed and committed[tp].offset >= end for tp, end in ends.items()):
                committed_at = time.time()
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                spy.wait(60)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()

    result: dict[str, Any] = {"variant": name, "records": sum(ends[tp] - begins[tp] for tp in ends)}
    if changelog is not None:  # Vigil: times from its changelog, counts from /metrics
        first, last, written = await changelog_span(bootstrap, changelog)
        answer = benchlib.http_get(web + "/metrics")
        if answer is None or answer[0] != 200:
            raise RuntimeError(f"{name}: no /metrics")
        text = answer[1].decode()
        outcomes = benchlib.metric(text, "vigil_worker_readings_total")
        result["readings"] = int(
            sum(
                v
                for labels, v in outcomes.items()
                if any(o in labels for o in ("scored", "out_of_order", "duplicate"))
            )
        )
        result["patients"] = int(benchlib.metric(text, "vigil_worker_patients").get("", -1))
        result["changelog_records"] = written
        result["outcomes"] = {labels.split('"')[1]: int(v) for labels, v in outcomes.items() if '"' in labels}
    else:  # the baselines: their own counters and times
        answer = benchlib.http_get(web + "/bench")
        if answer is None or answer[0] != 200:
            raise RuntimeError(f"{name}: no /bench")
        stats = json.loads(answer[1])
        first, last = stats["first"], stats["last"]
        result["readings"] = stats["readings"]
        result["patients"] = stats.get("patients")
        if stats["records"] != result["records"]:
            raise RuntimeError(f"{name} saw {stats['records']} records, expected {result['records']}")
    benchlib.Processes.stop(proc)
    seconds = last - first
    result.update(
        startup_s=round(first - spawned, 2),
        seconds=round(seconds, 3),
        to_commit_s=round(committed_at - first, 2),
        readings_per_s=round(result["readings"] / seconds, 1),
        records_per_s=round(result["records"] / seconds, 1),
    )
    if profile is not None and profile.exists():
        result["profile_top"] = [
            {"function": f, "self_pct": round(s, 1), "total_pct": round(t, 1)}
            for f, s, t in top_functions(profile)
        ]
    return result


# -- the run ----------------------------------------------------------------------


async def bench(
    args: argparse.Namespace, bootstrap: str, tmp: Path, procs: benchlib.Processes
) -> dict[str, Any]:
    run = secrets.token_hex(3)
    key_hex = secrets.token_hex(32)
    home = tmp / "vigil-home"
    settings = Settings.from_env().with_(home=home, kafka_bootstrap=bootstrap, partitions=args.partitions)
    await ensure_topics(settings)
    begin, end = await offsets(bootstrap, READINGS_TOPIC)
    if any(end[tp] > begin[tp] for tp in end):
        raise SystemExit(f"{READINGS_TOPIC} on {bootstrap} already holds records; use an empty cluster")

    print(f"building {args.readings} readings of {args.patients} patients ...", file=sys.stderr)
    records, devices = build_records(
        bytes.fromhex(key_hex), args.readings, args.patients, args.per_record, args.seed
    )
    Registry(settings.registry_path).reissue(devices)
    naive_records, naive_count = [], 0  # the same stream's first --naive-readings
    for record in records:
        if naive_count >= args.naive_readings:
            break
        naive_records.append(record)
        naive_count += record[2]
    naive_topic = f"bench.naive-readings.{run}"
    await create_topic(bootstrap, naive_topic, args.partitions)
    produce_s = await produce(bootstrap, READINGS_TOPIC, records)
    await produce(bootstrap, naive_topic, naive_records)
    prefill = {
        "records": len(records),
        "readings": sum(r[2] for r in records),
        "bytes": sum(len(r[1]) for r in records),
        "produce_s": round(produce_s, 2),
    }
    print(
        f"pre-filled {READINGS_TOPIC}: {prefill['records']} records, {prefill['readings']} readings, "
        f"{prefill['bytes'] / 2**20:.1f} MiB in {produce_s:.1f} s "
        f"({prefill['readings'] / produce_s:,.0f} readings/s produced)",
        file=sys.stderr,
    )

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGIL_", "BENCH_"))}
    results = []
    for variant in args.variants:
        port = free_port()
        web = f"http://127.0.0.1:{port}"
        group = f"bench-{variant}-{run}"
        if variant == "vigil":
            env = dict(
                base_env,
                VIGIL_HOME=str(home),
                VIGIL_KAFKA_BOOTSTRAP=bootstrap,
                VIGIL_WORKER_ID=group,
                VIGIL_WORKER_WEB_PORT=str(port),
                VIGIL_LOG_FORMAT="json",
                VIGIL_PARTITIONS=str(args.partitions),
                VIGIL_PSEUDONYM_KEY=key_hex,
            )
            cmd = [sys.executable, "-m", "app.cli", "worker"]
            topic, changelog = READINGS_TOPIC, f"{group}-patients-changelog"
        else:
            script = "naive_worker.py" if variant == "naive" else "decode_only_worker.py"
            topic = naive_topic if variant == "naive" else READINGS_TOPIC
            env = dict(
                base_env,
                BENCH_BOOTSTRAP=bootstrap,
                BENCH_APP_ID=group,
                BENCH_TOPIC=topic,
                BENCH_PARTITIONS=str(args.partitions),
                BENCH_WEB_PORT=str(port),
            )
            cmd = [sys.executable, str(HERE / script), "worker", "-l", "warn"]
            changelog = None
        expected = naive_count if variant == "naive" else prefill["readings"]
        print(f"running {variant} ...", file=sys.stderr)
        profile = Path(f"{args.profile}-{variant}.txt") if args.profile else None
        result = await run_variant(
            variant, cmd, env, group, topic, procs, bootstrap, args.timeout, web, changelog, profile
        )
        print(
            f"  {variant}: {result['readings']} readings in {result['seconds']:.2f} s "
            f"({result['readings_per_s']:,.0f}/s)",
            file=sys.stderr,
        )
        result["expected_readings"] = expected
        results.append(result)

    vigil = next((r for r in results if r["variant"] == "vigil"), None)
    for r in results:
        r["ratio_to_vigil"] = round(r["readings_per_s"] / vigil["readings_per_s"], 4) if vigil else None
    return {"prefill": prefill, "variants": results}


def report(out: dict[str, Any]) -> str:
    rows = []
    for r in out["variants"]:
        rows.append(
            [
                r["variant"],
                f"{r['readings']:,}",
                f"{r['records']:,}",
                f"{r['seconds']:.2f}",
                f"{r['readings_per_s']:,.0f}",
                f"{r['records_per_s']:,.0f}",
                f"{r['ratio_to_vigil']:.3g}x" if r["ratio_to_vigil"] is not None else "-",
                f"{r['to_commit_s']:.1f}",
                f"{r['startup_s']:.1f}",
            ]
        )
    lines = [
        benchlib.table(
            [
                "variant",
                "readings",
                "records",
                "seconds",
                "readings/s",
                "records/s",
                "vs vigil",
                "to commit s",
                "start-up s",
            ],
            rows,
        )
    ]
    cfg = out["config"]
    lines.append(
        f"{cfg['patients']} patients, {cfg['per_record']} readings per record, "
        f"{cfg['partitions']} partitions; "
        f"naive on the first {cfg['naive_readings']:,} readings only; {out['kafka']}"
    )
    lines.append(benchlib.machine_line(out["machine"]))
    vigil = next((r for r in out["variants"] if r["variant"] == "vigil"), None)
    if vigil:
        met = "met" if vigil["readings_per_s"] >= TARGET else "not met"
        lines.append(
            f"target: >= {TARGET:,} readings/s per worker process -> {met} "
            f"(vigil {vigil['readings_per_s']:,.0f}/s; {vigil['changelog_records']:,} changelog records, "
            f"{vigil['patients']} patients in its table; outcomes {vigil['outcomes']})"
        )
    for r in out["variants"]:
        if r["readings"] != r["expected_readings"]:
            lines.append(
                f"COUNT MISMATCH: {r['variant']} reports {r['readings']:,} readings "
                f"of {r['expected_readings']:,}"
            )
    for r in out["variants"]:
        if r.get("profile_top"):
            lines.append(f"{r['variant']}: py-spy, top functions by own samples (self %, total %):")
            for item in r["profile_top"]:
                lines.append(f"  {item['self_pct']:5.1f} {item['total_pct']:5.1f}  {item['function']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--readings", type=int, default=200_000, help="readings to pre-fill (default 200,000)"
    )
    parser.add_argument("--patients", type=int, default=200, help="patients they come from (default 200)")
    parser.add_argument("--per-record", type=int, default=10, help="readings per Kafka record (default 10)")
    parser.add_argument(
        "--naive-readings", type=int, default=3_000, help="prefix the naive baseline consumes (default 3,000)"
    )
    parser.add_argument(
        "--partitions", type=int, default=4, help="partitions of the topics (default 4, Vigil's)"
    )
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds allowed per variant (default 1800)"
    )
    parser.add_argument(
        "--bootstrap", help="use this Kafka cluster instead of a local one (vigil.readings must be empty)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="PREFIX",
        help="py-spy each worker; collapsed stacks to PREFIX-<variant>.txt",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (worker logs, Kafka data)")
    args = parser.parse_args()
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    if args.profile and not find_py_spy():
        parser.error("--profile needs py-spy (.venv/bin/pip install py-spy)")

    benchlib.stop_on_signals()
    out, kafka_desc = benchlib.run_with_kafka(args, "vigil-bench-worker-", bench)
    out = {
        "benchmark": "bench_worker",
        "machine": benchlib.machine(),
        "kafka": kafka_desc,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "target_readings_per_s": TARGET,
        **out,
    }
    print(report(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; every process this run started has been stopped", file=sys.stderr)
        sys.exit(130)
