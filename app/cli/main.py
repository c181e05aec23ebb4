"""The `vigil` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import signal
import sys
import threading
import time
import traceback
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from app import native
from app.core.errors import (
    BadInput,
    Exit,
    ExportError,
    GatewayConfigError,
    NotStored,
    PseudonymKeyError,
    RecordingError,
    SettingsError,
    TopicError,
    VigilError,
)
from app.infra import logs, preflight
from app.infra.runtime import STOP_SIGNALS, counted, exit_after_parent, silence, stop_on_signals, write_line
from app.infra.settings import (
    ALERTS_TOPIC,
    DEAD_LETTER_TOPIC,
    PATIENTS_TOPIC,
    READINGS_TOPIC,
    Settings,
    inspect,
    unknown_variables,
)
from app.infra.topics import ensure_topics

if TYPE_CHECKING:
    from collections.abc import Iterator

    from app.core.directory import Device
    from app.infra.kafka_local import LocalCluster, LocalKafka
    from app.infra.registry import Registry

SETTINGS_EPILOG = """\
Settings come from VIGIL_* environment variables: `vigil config` shows each
one's value and where it comes from; docs/configuration.md describes them.
Exit codes: docs/operations.md#exit-codes."""

SUPERVISED_GRACE_S = 10.0  # a child of `vigil up` whose supervisor died: seconds to stop gracefully


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help shows each option's default (when it has a meaningful one), and the epilog as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default in ("", argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


def _command(sub: Any, name: str, text: str, **kwargs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=text, description=text, epilog=SETTINGS_EPILOG, formatter_class=_Help, **kwargs
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil",
        description="Vigil: real-time health-data stream processing.",
        epilog=SETTINGS_EPILOG,
        formatter_class=_Help,
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_up(sub)
    _add_services(sub)
    _add_devices(sub)
    _add_alerts(sub)
    _add_lag(sub)
    _add_status(sub)
    _add_simulate(sub)
    _add_replay(sub)
    _add_export(sub)
    _add_evaluate(sub)
    kafka = _command(sub, "kafka", "run the local Kafka broker alone, or only fetch its jars")
    kafka.add_argument("action", nargs="?", choices=["run", "fetch"], default="run", help="what to do")
    kafka.add_argument(
        "--brokers",
        type=int,
        default=1,
        choices=range(1, 10),
        metavar="N",
        help="run N brokers (KRaft nodes) on consecutive ports; with 3 or more, topics get 3 replicas "
        "and min.insync.replicas 2",
    )
    return parser


def _add_up(sub: Any) -> None:
    up = _command(sub, "up", "run Kafka, the worker and the gateway together (the embedded default)")
    up.add_argument(
        "--simulate", type=int, default=0, metavar="N", help="also run N simulated devices and print alerts"
    )
    up.add_argument(
        "--speed", type=float, default=60.0, help="simulated seconds per wall second until caught up"
    )
    up.add_argument(
        "--all",
        action="store_true",
        dest="show_all",
        help="also print each baseline-drift notice (by default they are counted in the status line)",
    )
    up.add_argument(
        "--status-every",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds between status lines (devices, readings/s, open alerts, worker lag); 0: none",
    )


def _add_services(sub: Any) -> None:
    """`vigil gateway`, `vigil worker` and `vigil config`."""
    for name, text in (("gateway", "run the websocket gateway"), ("worker", "run the Faust worker")):
        service = _command(sub, name, text)
        # Set by `vigil up`: if that process goes, stop (SIGKILL after a grace period).
        service.add_argument("--supervisor", type=int, metavar="PID", help=argparse.SUPPRESS)
        service.add_argument(
            "--ports-file",
            type=Path,
            metavar="PATH",
            help="once serving, write the ports it bound there as JSON (a port set to 0: the one chosen)",
        )
    _command(sub, "config", "print the effective settings, where each comes from, secrets masked")


def _add_devices(sub: Any) -> None:
    devices = _command(sub, "devices", "register, list and revoke devices")
    dsub = devices.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = _command(dsub, "add", "register a device for a patient and print its token once")
    add.add_argument("device_id")
    add.add_argument("--patient", required=True, metavar="PATIENT_ID")
    _command(dsub, "list", "list registered devices (no tokens)")
    revoke = _command(dsub, "revoke", "revoke a device's token (open connections close at once)")
    revoke.add_argument("device_id")
    rotate = _command(dsub, "rotate", "issue a new token and print it once; the old one stops working")
    rotate.add_argument("device_id")
    clocks = _command(
        dsub,
        "clocks",
        "each device's frames of the last minutes on vigil.readings: their age on arrival (the "
        "gateway's receipt minus the newest reading's ts), whether its clock is ahead, and how many of "
        "its readings were stamped before ones it numbered earlier (its clock stepped back)",
    )
    clocks.add_argument("--minutes", type=float, default=15.0, help="how far back to look")


def _add_alerts(sub: Any) -> None:
    alerts = _command(sub, "alerts", "print alert events from vigil.alerts as they arrive")
    alerts.add_argument("--from-beginning", action="store_true", help="start at the oldest retained event")
    alerts.add_argument("--json", action="store_true", help="print each event as one JSON line")
    alerts.add_argument(
        "--fhir", action="store_true", help="print each event as a FHIR R4 DetectedIssue (JSON line)"
    )


def _add_lag(sub: Any) -> None:
    _with_json(
        sub,
        "lag",
        "how many vigil.readings records the workers have not processed yet, per partition, read from "
        "Kafka (answers while no worker runs)",
    )


def _add_status(sub: Any) -> None:
    _with_json(
        sub,
        "status",
        "is the stack up: Kafka (and the worker group's lag), the gateway and the worker these settings "
        "name, each ready or not and why; exit 0 when all are ready",
    )


def _with_json(sub: Any, name: str, text: str) -> None:
    """A command whose only option is `--json`."""
    _command(sub, name, text).add_argument("--json", action="store_true", help="print one JSON object")


def _add_simulate(sub: Any) -> None:
    sim = _command(
        sub,
        "simulate",
        "run simulated devices against a running gateway; with --rate or --report, a measured load test",
    )
    sim.add_argument(
        "--devices", type=int, default=10, metavar="N", help="simulated devices, one patient each"
    )
    sim.add_argument("--duration", type=float, default=60.0, metavar="S", help="seconds to run")
    sim.add_argument("--speed", type=float, default=60.0, help="demo mode: simulated seconds per wall second")
    _add_load_test(sim)


def _add_load_test(sim: argparse.ArgumentParser) -> None:
    """The options of `vigil simulate` that make it a measured load test."""
    sim.add_argument(
        "--rate", type=float, metavar="R", help="load test: readings per second per device (1 if unset)"
    )
    sim.add_argument("--batch", type=int, default=1, metavar="B", help="load test: readings per frame")
    sim.add_argument(
        "--steps",
        type=int,
        default=1,
        metavar="K",
        help="load test: K stages of rising load, from R/K to R per device",
    )
    sim.add_argument(
        "--hiccups",
        type=float,
        default=0.0,
        metavar="P",
        help="load test: chance per device per second of an abrupt disconnect",
    )
    sim.add_argument(
        "--deteriorate",
        type=float,
        default=0.1,
        metavar="SHARE",
        help="load test: share of patients with an injected deterioration",
    )
    sim.add_argument(
        "--drain",
        type=float,
        default=20.0,
        metavar="S",
        help="load test: seconds to wait for outstanding acks and processing",
    )
    sim.add_argument(
        "--report", metavar="FILE.json", help="load test: write the report here (and a PNG beside it)"
    )
    sim.add_argument(
        "--plot", metavar="FILE.png", help="load test: where to draw latency against offered load"
    )


def _add_replay(sub: Any) -> None:
    rp = _command(sub, "replay", "stream a recording (CSV, JSON lines, FHIR) through the live gateway")
    rp.add_argument("file", help="the recording: .csv, or JSON lines (native or FHIR Observations)")
    rp.add_argument(
        "--speed", type=float, default=60.0, help="speed-up over recorded time; 0: as fast as acks allow"
    )
    rp.add_argument("--shift-to-now", action="store_true", help="move the recording so that it ends now")
    rp.add_argument("--patient-prefix", default="", help="prepended to every patient id of the recording")
    rp.add_argument(
        "--offline",
        action="store_true",
        help="run the recording through detection here, without gateway, Kafka or worker, "
        "and print the alert events (a recording of any age and length)",
    )
    rp.add_argument("--json", action="store_true", help="with --offline: print each event as one JSON line")
    rp.add_argument(
        "--tz",
        metavar="ZONE",
        help="the time zone of times written without one (UTC, Europe/London); without it they are refused",
    )
    rp.add_argument(
        "--ts-format",
        metavar="FORMAT",
        help="the layout of times that are not ISO 8601, in strptime's codes (a Fitbit export's "
        "4/12/2016 7:21:00 AM: '%%m/%%d/%%Y %%I:%%M:%%S %%p'); with --tz when it has no zone",
    )
    rp.add_argument(
        "--since",
        metavar="MOMENT",
        help="times are hours and minutes since MOMENT (H:MM or H:MM:SS; hours may pass 24, as PhysioNet "
        "2012's times since admission), e.g. --since 2026-01-01T00:00:00Z",
    )
    rp.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="NAME=VIGIL",
        help="read the recording's column (or vital) NAME as Vigil's VIGIL, e.g. --map Time=ts "
        "--map HR=heart_rate; repeatable (a date column and a time column both to ts are joined; "
        "=ts: the column with no name in the header)",
    )
    rp.add_argument(
        "--leave-out-unnamed",
        action="store_true",
        help="leave out every vital of the long layout or JSON lines under a name no channel can have "
        "(a chart's item ids), with one line counting them, instead of refusing the recording",
    )
    rp.add_argument("--patient", metavar="ID", help="the patient of a recording without a patient column")
    rp.add_argument(
        "--missing",
        action="append",
        default=[],
        metavar="VALUE",
        help="a value the recording writes for one not measured, skipped as an empty cell is "
        "(PhysioNet 2012's --missing -1); repeatable",
    )
    rp.add_argument(
        "--gcs",
        action="store_true",
        help="the consciousness numbers are Glasgow Coma Scale scores: read them as ACVPU (3 U) even when "
        "none is over 4 (without it such a column is refused: it may be AVPU coded 1-4)",
    )


def _add_export(sub: Any) -> None:
    ex = _command(sub, "export", "write a patient's cleaned readings and alerts over a time range")
    ex.add_argument("--patient", required=True, metavar="PATIENT_ID")
    ex.add_argument(
        "--from", dest="start", required=True, metavar="ISO_TIME", help="inclusive, e.g. 2026-11-29T00:00:00Z"
    )
    ex.add_argument("--to", dest="end", required=True, metavar="ISO_TIME", help="exclusive")
    ex.add_argument(
        "--out", required=True, metavar="PREFIX", help="writes PREFIX-readings.EXT and PREFIX-alerts.EXT"
    )
    ex.add_argument("--format", choices=["csv", "parquet"], default="csv", help="file format")


def _add_evaluate(sub: Any) -> None:
    ev = _command(
        sub, "evaluate", "run labeled synthetic cohorts through Vigil and the baselines that apply to each"
    )
    ev.add_argument(
        "--cohort",
        action="append",
        choices=["all", "ward", "ward_clean", "ward_devices", "ward_wander", "charted", "home", "generic"],
        help="a cohort to run (repeatable; default all: ward, charted, home, generic; with --markdown "
        "also ward_clean and ward_devices, the ward read by four devices; ward_wander, the ward's vitals "
        "wandering, only by name)",
    )
    ev.add_argument("--patients", type=int, default=60, help="patients (or series) per cohort")
    ev.add_argument(
        "--days", type=float, default=None, help="simulated days per patient (default: each cohort's own)"
    )
    ev.add_argument("--seed", type=int, default=2026, help="random seed of the cohorts")
    out = ev.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object keyed by cohort name")
    out.add_argument(
        "--markdown", action="store_true", help="print docs/evaluation.md's tables, a row per seed of --seeds"
    )
    ev.add_argument(
        "--seeds", type=int, nargs="+", default=[2026, 7, 99], metavar="SEED", help="seeds for --markdown"
    )
    ev.add_argument(
        "--physionet2012",
        metavar="DIR",
        help="instead of the cohorts: the PhysioNet 2012 challenge's charted ICU stays in DIR (set-a/*.txt "
        "and Outcomes-a.txt; docs/evaluation.md)",
    )
    ev.add_argument(
        "--physionet2019",
        metavar="DIR",
        help="instead of the cohorts: the PhysioNet 2019 challenge's hourly ICU stays in DIR (*.psv, "
        "labelled for sepsis; docs/evaluation.md)",
    )
    ev.add_argument(
        "--nab",
        metavar="DIR",
        help="instead of the cohorts: the Numenta Anomaly Benchmark's series in DIR (data/ and labels/)",
    )


def _version() -> str:
    try:
        number = version("vigil")
    except PackageNotFoundError:
        number = "unknown"
    return f"{number} (core: {native.describe()})"


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)  # `--help` and `--version` print here, and exit
    except BrokenPipeError:  # their reader went away (`vigil --help | head -1`): done
        silence(sys.stdout)
        return Exit.OK
    name = args.command if args.command != "devices" else f"devices {args.action}"
    settings = Settings()  # the defaults, until the environment's are known to be valid
    try:
        if args.command == "config":
            return cmd_config(args)
        settings = Settings.from_env()
        for variable in unknown_variables():
            say(name, f"note: {variable} is not a Vigil setting and is ignored (`vigil config` lists them)")
        services = args.command in ("gateway", "worker")
        if services and args.supervisor:
            exit_after_parent(args.supervisor, SUPERVISED_GRACE_S)
        logs.configure(args.command, settings.log_format, settings.log_level, quiet_libraries=not services)
        return COMMANDS[args.command](args, settings)
    except SettingsError as exc:
        return _bad_settings(name, exc)
    except BaseException as exc:  # noqa: BLE001 - every way out is one line and an exit code
        return fail(name, exc, settings)


def _bad_settings(name: str, exc: SettingsError) -> int:
    # A line per bad setting; the pointer to the rest rides on the last, so that one is one line.
    *others, last = exc.problems or ["a setting is not valid"]
    for problem in others:
        say(name, problem)
    say(name, f"{last} (`vigil config` shows every setting; docs/configuration.md what each accepts)")
    return Exit.USAGE


class _Version(argparse.Action):
    """`vigil --version`, after the settings are checked as every command
    checks them: the core it names follows VIGIL_COMPILED_CORE, and with
    `banana` it said "core: compiled", exit 0, where every command refused it."""

    def __init__(self, option_strings: list[str], dest: str, **_kwargs: Any) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="show program's version number and exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        try:
            Settings.from_env()
        except SettingsError as exc:
            parser.exit(_bad_settings("--version", exc))
        print(f"{parser.prog} {_version()}")  # on stdout, as argparse's own version action
        parser.exit(Exit.OK)


def say(command: str, message: str) -> None:
    """One line on stderr, prefixed with the command; quiet if stderr is gone."""
    write_line(sys.stderr, f"vigil {command}: {message}")


def fail(command: str, exc: BaseException, settings: Settings) -> int:
    """The central handler: an exception as one line and a documented exit code
    (`app.core.errors.Exit`); a traceback first only with VIGIL_LOG_LEVEL=debug."""
    if isinstance(exc, SystemExit):
        raise exc
    if isinstance(exc, BrokenPipeError):  # our reader went away (`vigil alerts | head`): done, as `vigil up`
        silence(sys.stdout)
        return Exit.OK
    if isinstance(exc, KeyboardInterrupt):
        return Exit.INTERRUPTED
    code, message = explain(exc, settings)
    if settings.debug:
        traceback.print_exception(exc, file=sys.stderr)
    elif code == Exit.RUNTIME and not isinstance(exc, VigilError):
        message += " (VIGIL_LOG_LEVEL=debug shows the traceback)"
    say(command, message)
    return code


def explain(exc: BaseException, settings: Settings) -> tuple[int, str]:
    """What to tell the user about an exception, and the exit code."""
    from aiokafka.errors import KafkaConnectionError, KafkaError

    if isinstance(exc, VigilError):
        return exc.exit_code, str(exc)
    if isinstance(exc, KafkaConnectionError):
        return Exit.KAFKA_UNREACHABLE, str(preflight.kafka_unreachable(settings))
    if preflight.coordinator_starting(exc):
        return (
            Exit.RUNTIME,
            f"Kafka at {settings.bootstrap} answers, but is still starting ({exc}): ask again in a moment",
        )
    if isinstance(exc, KafkaError):
        return (
            Exit.KAFKA_UNREACHABLE,
            f"Kafka at {settings.bootstrap} failed: {exc}; {preflight.kafka_hint(settings)}",
        )
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return (
            Exit.PORT_IN_USE,
            "a port Vigil needs is already in use: stop what holds it, or change the port (`vigil config`)",
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return Exit.RUNTIME, f"the disk is full{_where(exc)}: free space and try again"
    if isinstance(exc, OSError):
        return Exit.RUNTIME, f"{exc.strerror or exc}{_where(exc)}"
    # Not its message: an exception nobody expected could carry anything, patient data included.
    return Exit.RUNTIME, f"unexpected error ({type(exc).__name__})"


def _where(exc: OSError) -> str:
    return f" ({exc.filename})" if exc.filename else ""


def cmd_config(args: argparse.Namespace) -> int:
    """The effective settings: value and source of each, secrets masked, bad ones flagged."""
    rows, unknown = inspect()
    width = max(len(row.var) for row in rows)
    for row in rows:
        line = f"{row.var:<{width}}  {row.value or '(empty)'}  [{row.source}]"
        # The problem without the variable's name: "must be ...", or "is set, but ..." (Kafka security).
        print(f"{line}  <- invalid: {row.problem.removeprefix(row.var).lstrip()}" if row.problem else line)
    for variable in unknown:
        print(f"{variable:<{width}}  (not a Vigil setting; ignored)")
    return Exit.USAGE if any(row.problem for row in rows) else Exit.OK


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from app.cli import up

    return up.run(settings, args.simulate, args.speed, show_all=args.show_all, status_every=args.status_every)


def cmd_gateway(args: argparse.Namespace, settings: Settings) -> int:
    from app.gateway.server import ConfigError, Gateway, tls_context

    try:
        tls_context(settings)
    except ConfigError as exc:  # the gateway's name for GatewayConfigError
        raise GatewayConfigError(str(exc)) from exc
    except OSError as exc:  # ssl.SSLError included
        raise GatewayConfigError(
            f"cannot load VIGIL_TLS_CERT and VIGIL_TLS_KEY: {exc.strerror or exc}"
        ) from exc
    _require_key(settings)
    ports = [(settings.gateway_http_port, "VIGIL_GATEWAY_HTTP_PORT")]
    if not settings.gateway_reuse_port:  # else shared with other gateways on purpose
        ports.insert(0, (settings.gateway_port, "VIGIL_GATEWAY_PORT"))
    preflight.ports_free(settings.gateway_host, ports, " (another gateway, or `vigil up`?)")
    _use_uvloop(settings)

    async def serve() -> None:
        await preflight.kafka(settings, within=5)
        await Gateway(settings, args.ports_file).run(stop_on_signals())

    asyncio.run(serve())
    return Exit.OK


def _require_key(settings: Settings) -> None:
    """The pseudonym key, made or read now: a bad one is one line before any service starts."""
    from app.infra.pseudonyms import load_key

    try:
        load_key(settings)
    except OSError as exc:
        raise PseudonymKeyError(str(exc)) from exc


def _use_uvloop(settings: Settings) -> None:
    """uvloop's event loop for the services (VIGIL_UVLOOP=0 keeps asyncio's):
    set before any loop exists, so Faust and websockets both run on it."""
    if settings.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    # Faust makes its data folder (VIGIL_HOME/worker) without its parents.
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    _require_key(settings)
    preflight.ports_free(
        settings.worker_web_host,
        [(settings.worker_web_port, "VIGIL_WORKER_WEB_PORT")],
        " (another worker, or `vigil up`?)",
    )
    asyncio.run(preflight.kafka(settings, within=5))
    # The topics it reads and writes (vigil.dead-letter included), before
    # Faust subscribes: a consumer would not see a topic created later for
    # minutes (its metadata refresh), and a cluster may not auto-create.
    needs: tuple[str, ...] = (READINGS_TOPIC, ALERTS_TOPIC, DEAD_LETTER_TOPIC)
    if settings.registry == "kafka":
        # The patient directory: one line naming the ACL to grant if this principal may not see it.
        asyncio.run(preflight.topic_exists(settings, PATIENTS_TOPIC))
        needs += (PATIENTS_TOPIC,)
    asyncio.run(ensure_topics(settings, needs=needs))
    _same_partitions(settings)
    _use_uvloop(settings)

    import faust

    from agents.app import create_app

    worker = faust.Worker(
        create_app(settings, args.ports_file),
        loglevel=settings.log_level,
        quiet=True,
        logging_config=logs.stdlib_config(settings.log_format, settings.log_level),
        # mode would swap sys.stderr for a logging proxy, swallowing structlog's output.
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()
    return Exit.OK


def _same_partitions(settings: Settings) -> None:
    """The patients table's changelog has `VIGIL_PARTITIONS` partitions, one per
    partition of `vigil.readings`: a topic made with another count would crash
    the worker at the first record of a partition the changelog lacks."""
    found = asyncio.run(preflight.partition_count(settings, READINGS_TOPIC))
    if found is not None and found != settings.partitions:
        raise SettingsError(
            [
                f"VIGIL_PARTITIONS is {settings.partitions} but {READINGS_TOPIC} has {found} partitions: "
                f"set VIGIL_PARTITIONS={found} (the worker's table needs one partition per partition "
                "of the topic)"
            ]
        )


def cmd_devices(args: argparse.Namespace, settings: Settings) -> int:
    """`vigil devices …` on the registry `VIGIL_REGISTRY` names: the file in
    VIGIL_HOME, or Kafka's `vigil.devices` and `vigil.patients`."""
    if args.action == "clocks":
        lines = asyncio.run(_device_clocks(settings, args.minutes))
    elif settings.registry == "kafka":
        lines = asyncio.run(_devices_on_kafka(args, settings))
    else:
        from app.infra.registry import Registry

        lines = _devices_in_file(args, Registry(settings.registry_path))
    for line in lines:
        print(orjson.dumps(line).decode())
    return Exit.OK


async def _device_clocks(settings: Settings, minutes: float) -> list[dict[str, Any]]:
    import time

    from app.tools import clocks

    await preflight.kafka(settings)
    since_ms = int((time.time() - minutes * 60) * 1000)
    return clocks.report(await clocks.frames_since(settings, since_ms))


def _devices_in_file(args: argparse.Namespace, registry: Registry) -> list[dict[str, Any]]:
    if args.action == "add":
        return [_added(args, registry.add(args.device_id, args.patient))]
    if args.action == "rotate":
        return [{"device_id": args.device_id, "token": registry.rotate(args.device_id)}]
    if args.action == "revoke":
        registry.revoke(args.device_id)
        return [{"device_id": args.device_id, "revoked": True}]
    return [_listed(d) for d in registry.devices()]


async def _devices_on_kafka(args: argparse.Namespace, settings: Settings) -> list[dict[str, Any]]:
    from app.infra.directory import KafkaDirectoryAdmin
    from app.infra.pseudonyms import load_key

    await preflight.kafka(settings)
    async with KafkaDirectoryAdmin(settings, load_key(settings)) as admin:
        if args.action == "add":
            return [_added(args, await admin.add(args.device_id, args.patient))]
        if args.action == "rotate":
            return [{"device_id": args.device_id, "token": await admin.rotate(args.device_id)}]
        if args.action == "revoke":
            await admin.revoke(args.device_id)
            return [{"device_id": args.device_id, "revoked": True}]
        return [_listed(d) for d in admin.devices()]


def _added(args: argparse.Namespace, token: str) -> dict[str, Any]:
    return {"device_id": args.device_id, "patient": args.patient, "token": token}


def _listed(device: Device) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "patient": device.patient,
        "created": device.created,
        "revoked": device.revoked,
    }


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    from app.cli import alert_view

    async def run() -> None:
        await preflight.kafka(settings)
        stop = stop_on_signals()
        where = f"Kafka at {settings.bootstrap}"
        # In our own words, as the gateway and the worker do: aiokafka's own
        # lines about the connections it retries are warnings (logs.Retried).
        watching = asyncio.ensure_future(
            preflight.watch(
                settings,
                stop,
                silent=lambda: say(
                    "alerts",
                    f"{where} has not answered for {preflight.KAFKA_SILENT_S:.0f} s; "
                    "alert events show once it is back (Ctrl-C to stop)",
                ),
                back=lambda: say("alerts", f"{where} answers again"),
            )
        )
        try:
            if not await _topic_created(settings, stop):
                return
            show = alert_view.printer(args.json, fhir=args.fhir)
            listening = asyncio.Event()
            waiting = asyncio.ensure_future(_say_waiting(listening, settings))
            try:
                await alert_view.tail(settings, show, stop, args.from_beginning, started=listening)
            finally:
                waiting.cancel()
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching

    # "has not answered" is the line a user needs: aiokafka's own about the
    # same outage (JSON warnings every 10 s beside it) are kept off the
    # terminal, unless VIGIL_LOG_LEVEL=debug asks for them.
    with contextlib.nullcontext() if settings.debug else preflight.quiet("aiokafka"):
        asyncio.run(run())
    return Exit.OK


def cmd_lag(args: argparse.Namespace, settings: Settings) -> int:
    from app.cli import lag

    async def run() -> list[lag.PartitionLag]:
        await preflight.kafka(settings)
        if not await preflight.topic_exists(settings, READINGS_TOPIC):
            raise BadInput(
                f"no topic {READINGS_TOPIC} on Kafka at {settings.bootstrap} yet "
                "(`vigil up` or `vigil gateway` create it)"
            )
        return await lag.read(settings)

    lags = asyncio.run(run())
    if args.json:
        print(orjson.dumps(lag.as_json(settings, lags)).decode())
    else:
        print(lag.table(settings, lags))
    return Exit.OK


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from app.cli import status

    parts = asyncio.run(status.check(settings))
    print(orjson.dumps(status.as_json(parts)).decode() if args.json else status.table(parts))
    if all(p.ok for p in parts):
        return Exit.OK
    return Exit.KAFKA_UNREACHABLE if parts[0].state == "down" else Exit.RUNTIME


async def _topic_created(settings: Settings, stop: asyncio.Event) -> bool:
    """Wait (saying so once) until vigil.alerts exists; False if stopped first."""
    said = False
    while not await preflight.topic_exists(settings, ALERTS_TOPIC):
        if not said:
            say(
                "alerts",
                f"waiting for the topic {ALERTS_TOPIC} to be created on Kafka at {settings.bootstrap} "
                "(`vigil up` or `vigil gateway` create it); Ctrl-C to stop",
            )
            said = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 2)
        if stop.is_set():
            return False
    return True


async def _say_waiting(listening: asyncio.Event, settings: Settings) -> None:
    await listening.wait()
    say("alerts", f"waiting for alert events on vigil.alerts (Kafka at {settings.bootstrap}); Ctrl-C to stop")


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from app.cli import up

    if args.rate is not None or args.report or args.plot:
        return _load_test(args, settings)

    async def run() -> None:
        await preflight.gateway(settings)
        stop = stop_on_signals()
        asyncio.get_running_loop().call_later(args.duration, stop.set)
        await up.simulate_fleet(
            settings, args.devices, args.speed, stop, prefix="simulate", alerts_here=False
        )

    asyncio.run(run())
    return Exit.OK


def _load_test(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from app.tools import loadtest

    rate = 1.0 if args.rate is None else args.rate
    if args.devices < 1 or rate <= 0 or args.batch < 1 or args.steps < 1 or args.duration <= 0:
        raise BadInput("--devices, --rate, --batch, --steps and --duration must be positive")
    if rate > settings.device_rate:
        say(
            "simulate",
            f"note: {rate:g} readings/s per device is above the gateway's default "
            f"limit of {settings.device_rate:g}/s (VIGIL_DEVICE_RATE): expect rate_limited errors "
            "unless the gateway runs with a higher limit",
        )
    plan = loadtest.Plan(
        devices=args.devices,
        rate=rate,
        duration_s=args.duration,
        batch=args.batch,
        steps=args.steps,
        hiccups=args.hiccups,
        deteriorate=args.deteriorate,
        drain_s=args.drain,
    )
    report = Path(args.report) if args.report else None
    plot = Path(args.plot) if args.plot else (report.with_suffix(".png") if report else None)

    async def run() -> None:
        await preflight.gateway(settings)
        await preflight.kafka(settings)
        await loadtest.run(settings, plan, stop_twice(f"up to {plan.drain_s:g} s"), report, plot)

    try:
        asyncio.run(run())
    except asyncio.CancelledError:  # a second Ctrl-C: no report
        raise KeyboardInterrupt from None
    return Exit.OK


def stop_twice(drain: str) -> asyncio.Event:
    """A stop event for a command that drains before it ends (call inside
    the running loop): the first SIGINT, SIGTERM or SIGHUP sets it, and the
    command stops sending and drains; a second ends it at once (exit 130)."""
    from app.infra.runtime import STOP_SIGNALS

    stop = asyncio.Event()
    loop, task = asyncio.get_running_loop(), asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set() and task is not None:
            task.cancel()
            return
        stop.set()
        say("simulate", f"stopping: draining for {drain} (again to stop at once, without a report)")

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal)
    return stop


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    import time
    from pathlib import Path

    from app.tools import replay
    from app.tools.simulate import Stats

    # The options' refusals name the option; the recording's name the file.
    tz = replay.time_zone(args.tz) if args.tz else None
    layout = replay.layout(args.map, args.patient, args.leave_out_unnamed, args.gcs)
    marks = replay.missing(args.missing)
    if args.ts_format is not None:
        replay.dated(args.ts_format)
    if args.since is not None and args.ts_format is not None:
        raise RecordingError("--since and --ts-format are two ways to read the times: give one")
    since_ms = replay.since(args.since, tz) if args.since is not None else None
    path = Path(args.file)
    try:
        rows = replay.read_recording(
            path,
            warn=lambda hint: say("replay", hint),
            tz=tz,
            ts_format=args.ts_format,
            layout=layout,
            missing=marks,
            since_ms=since_ms,
        )
        if not args.offline:
            replay.check_times(rows, args.shift_to_now, int(time.time() * 1000))
        replay.device_ids(rows, args.patient_prefix)
    except OSError as exc:
        raise RecordingError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    except RecordingError as exc:
        raise replay.named(path.name, exc) from None
    if args.offline:
        return _replay_offline(args, settings, rows)

    offset = replay.shift_ms(rows, int(time.time() * 1000)) if args.shift_to_now else 0
    if offset:
        days, rest = divmod(offset, 86_400_000)
        moved = f"{days} days" + (f" {rest / 3_600_000:.2f} hours (times of day moved too)" if rest else "")
        say("replay", f"--shift-to-now: every reading is sent {moved} later than recorded")

    async def run() -> Stats:
        await preflight.gateway(settings)
        return await replay.replay(settings, rows, args.speed, offset, args.patient_prefix)

    stats = asyncio.run(run())
    errors = dict(sorted(stats.errors.items()))
    say("replay", f"replayed {stats.sent} readings, {stats.acked} acknowledged; errors {errors or 'none'}")
    for line in _replay_resends(stats):
        say("replay", line)
    if "bad_timestamp" in errors:
        say(
            "replay",
            "bad_timestamp: the gateway takes readings from the last 7 days only; try --shift-to-now",
        )
    if stats.acked < stats.sent:
        missing = stats.sent - stats.acked - sum(errors.values())
        raise NotStored(
            f"{stats.sent - stats.acked} of {stats.sent} readings were not stored"
            + (f" ({missing} never acknowledged: is the gateway still running?)" if missing > 0 else "")
        )
    return Exit.OK


def _replay_resends(stats: Any) -> list[str]:
    """What the gateway had of the recording before (a second replay of it),
    and what it could not tell of or told apart (docs/replay.md)."""
    lines = []
    if stats.already_stored:
        lines.append(
            f"{counted(stats.already_stored, 'reading')} had been stored before (this recording was "
            "replayed already): acknowledged again, not stored twice"
        )
    if stats.not_told:
        lines.append(
            f"{counted(stats.not_told, 'reading')} lay below the last 1024 seqs the gateway remembers of "
            "their patient's replay device: if they were stored before, they are stored again, under the "
            "same reading ids (vigil export lists each once; the worker does not score them again)"
        )
    reused = stats.errors.get("seq_reused", 0)
    if reused:
        lines.append(
            f"seq_reused: {counted(reused, 'reading')} differed from what their patient's replay device "
            "stored under the same seqs (an edited recording of times replayed before): sent again under "
            "new seqs and stored beside the old; replaying it again stores them again"
        )
    return lines


def _replay_offline(args: argparse.Namespace, settings: Settings, rows: list[Any]) -> int:
    """`vigil replay --offline`: the alert events on stdout, totals on stderr."""
    from app.cli import alert_view
    from app.infra.pseudonyms import load_key
    from app.tools import replay

    if args.shift_to_now or args.speed != 60.0:
        say("replay", "--offline runs on the recorded times at once: --speed and --shift-to-now do not apply")
    totals = replay.offline(
        rows, settings, load_key(settings), alert_view.printer(args.json), args.patient_prefix
    )
    alerts = dict(sorted(totals.alerts.items()))
    refused = dict(sorted(totals.refused.items()))
    say(
        "replay",
        f"ran {totals.readings} readings offline (patients: {totals.patients}); "
        f"alert events {alerts or 'none'}; refused {refused or 'none'}",
    )
    for line in totals.refusals.told():
        say("replay", line)
    if refused:
        raise NotStored(
            f"{sum(refused.values())} of {totals.readings} readings would be refused by the gateway "
            "(docs/protocol.md, error codes)"
        )
    return Exit.OK


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from app.infra.pseudonyms import load_key
    from app.tools import export

    start, end = export.parse_time(args.start), export.parse_time(args.end)
    if end <= start:
        raise ExportError("--to must be after --from")
    key = load_key(settings)

    async def run() -> tuple[Path, Path, int, int]:
        await preflight.kafka(settings)
        for topic in (READINGS_TOPIC, ALERTS_TOPIC):
            if not await preflight.topic_exists(settings, topic):
                raise TopicError(
                    f"the topic {topic} does not exist on Kafka at {settings.bootstrap}: nothing to export"
                )
        return await export.export(settings, key, args.patient, start, end, Path(args.out), args.format)

    readings, alerts, n_readings, n_alerts = asyncio.run(run())
    events = counted(n_alerts, "alert event")
    say("export", f"{counted(n_readings, 'reading')} to {readings}, {events} to {alerts}")
    return Exit.OK


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from app.tools import evaluation
    from app.tools.evaluation import report

    if args.physionet2012 or args.physionet2019 or args.nab:
        return _evaluate_public(args)
    # The Markdown tables (docs/evaluation.md) also carry ward_clean, the cohort before artifacts,
    # and ward_devices, the ward read by four devices.
    chosen = args.cohort or (["all", "ward_clean", "ward_devices"] if args.markdown else ["all"])
    names = list(dict.fromkeys(n for c in chosen for n in (evaluation.DEFAULT if c == "all" else [c])))
    if args.patients < 1 or (args.days is not None and args.days <= 0):
        raise BadInput("--patients must be at least 1 and --days above 0")
    if args.markdown:
        runs = {seed: evaluation.evaluate(names, args.patients, args.days, seed) for seed in args.seeds}
        print(report.markdown(runs), end="")
        return Exit.OK
    result = evaluation.evaluate(names, args.patients, args.days, args.seed)
    print(orjson.dumps(result).decode() if args.json else report.table(result))
    return Exit.OK


def _evaluate_public(args: argparse.Namespace) -> int:
    """Public recordings instead of the synthetic cohorts (`--physionet2012`, `--physionet2019`, `--nab`)."""
    from app.tools.evaluation import public, report

    if args.cohort or args.markdown:
        raise BadInput(
            "--physionet2012, --physionet2019 and --nab run on their own: leave out --cohort and --markdown"
        )
    result: dict[str, Any] = {}
    given_folders = (
        ("physionet2012", args.physionet2012),
        ("physionet2019", args.physionet2019),
        ("nab", args.nab),
    )
    for name, given in given_folders:
        if given is None:
            continue
        directory = Path(given)
        if not directory.is_dir():
            raise BadInput(f"--{name} {given}: no such folder")
        if name == "physionet2012":
            result[name] = public.charted_outcomes(public.physionet2012(directory))
        elif name == "physionet2019":
            result[name] = public.sepsis_outcomes(public.physionet2019(directory))
        else:
            result[name] = public.nab_scores(public.nab(directory))
    print(orjson.dumps(result).decode() if args.json else report.public_table(result))
    return Exit.OK


def cmd_kafka(args: argparse.Namespace, settings: Settings) -> int:
    from app.cli.up import local_kafka
    from app.infra.kafka_local import LocalCluster, ensure_jars

    if args.action == "fetch":
        print(ensure_jars(cache=settings.cache))
        return Exit.OK
    kafka: LocalKafka | LocalCluster
    if args.brokers == 1:
        kafka = local_kafka(settings)
    else:
        kafka = LocalCluster(
            settings.home / f"kafka-{args.brokers}",
            args.brokers,
            settings.local_kafka_port,
            settings.local_kafka_controller_port,
            partitions=settings.partitions,
            cache=settings.cache,
        )
    _serve(kafka, args.brokers)
    return Exit.OK


def _serve(kafka: LocalKafka | LocalCluster, brokers: int) -> None:
    """Start the broker(s), say where, and stop them at the first stop signal.

    Stop signals are caught before the broker starts (a caught signal's
    handler is reset in the broker's process, a blocked one would be
    inherited): one during the start stops it half-way, one after the
    "running" line stops it at once. Blocking them only after that line once
    let a SIGTERM kill `vigil kafka` and orphan the broker."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            raise _Stopping

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    try:
        kafka.start()
        say("kafka", f"Kafka running on {kafka.bootstrap}; Ctrl-C to stop")
        if brokers >= 3:
            variables = f"VIGIL_KAFKA_BOOTSTRAP={kafka.bootstrap} VIGIL_REPLICATION_FACTOR=3"
            say("kafka", f"for Vigil on this cluster: {variables}")
        while not stopping.wait(1.0):
            pass
    except _Stopping:
        pass
    except BaseException:  # a start that failed half-way leaves no broker behind
        with _signals_ignored():
            kafka.stop()
        raise
    with _signals_ignored():  # a second Ctrl-C does not cut the broker's stop short
        say("kafka", "stopping ...")
        started = time.monotonic()
        kafka.stop()
    say("kafka", f"stopped in {time.monotonic() - started:.1f} s")


class _Stopping(BaseException):
    """A stop signal reached `vigil kafka` (a BaseException, as KeyboardInterrupt
    is: no `except Exception` on the way takes it for a failed attempt)."""


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


COMMANDS = {
    "up": cmd_up,
    "gateway": cmd_gateway,
    "worker": cmd_worker,
    "devices": cmd_devices,
    "alerts": cmd_alerts,
    "lag": cmd_lag,
    "status": cmd_status,
    "simulate": cmd_simulate,
    "replay": cmd_replay,
    "export": cmd_export,
    "evaluate": cmd_evaluate,
    "kafka": cmd_kafka,
}

if __name__ == "__main__":
    sys.exit(main())
