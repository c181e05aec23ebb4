"""Small helpers shared by the long-running commands: stopping on signals,
children that die with their parent, output streams that may be closed
under us (`vigil up | tee` after Ctrl-C), and counts in words."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

# Ctrl-C, `kill`, and the terminal closing: each stops a command the same way.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_PR_SET_PDEATHSIG = 1


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT, SIGTERM or SIGHUP; call from inside the running loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    return stop


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that has the kernel send `sig` to the child when the
    thread that started it exits, however that happens (SIGKILL included):
    Linux's parent-death signal. The child then checks that its parent is
    still the one that forked it (if the parent died before prctl, no signal
    would ever come). None where prctl does not exist, and when called
    from a thread other than the main one: the signal follows the thread that
    forked, which may end long before the process (an executor thread)."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    prctl = libc.prctl  # looked up now: no dlopen between fork and exec
    parent = os.getpid()

    def preexec() -> None:
        if prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0 or os.getppid() != parent:
            os._exit(1)

    return preexec


def exit_after_parent(parent: int, grace: float) -> None:
    """For a supervised child: once `parent` is gone (the kernel has sent the
    parent-death signal, which starts a graceful stop), allow the stop `grace`
    seconds, then SIGKILL ourselves. A graceful stop can hang (Faust retries a
    broker that is stopping too), and nobody is left to kill us."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        time.sleep(grace)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="vigil-exit-after-parent", daemon=True).start()


def silence(stream: TextIO) -> None:
    """Point a stream whose reader went away at /dev/null, so later writes
    (and the interpreter's final flush) neither raise nor print a traceback."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def counted(n: float | None, one: str, many: str = "") -> str:
    """`1 reading`, `2 readings`, `0 readings`; `? readings` for a count not
    known. `many` when the plural is not `one` + "s"."""
    many = many or one + "s"
    if n is None:
        return f"? {many}"
    return f"{n:.0f} {one if n == 1 else many}"


def write_line(stream: TextIO, line: str) -> bool:
    """Write one line and flush it; False (and the stream silenced) when its
    reader has gone away."""
    try:
        stream.write(line + "\n")
        stream.flush()
    except (BrokenPipeError, ConnectionResetError):
        silence(stream)
        return False
    return True
