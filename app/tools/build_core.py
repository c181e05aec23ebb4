"""`make core`: compile the core's per-reading path with mypyc (app/native.py).

    .venv/bin/python -m app.tools.build_core [--optional]

Builds the modules of `app.native.NATIVE` in place as one mypyc group and
writes `app/core/_native.json`, the SHA-256 of each source it compiled. The
sources stay the truth: an extension older than its source is never loaded.

It compiles a copy of the sources in a temporary directory, so it works the
same on a checkout and on an installed package (deploy/container builds it
into the image's site-packages).

With `--optional` (as `make install` runs it) a failure (no C compiler, no
mypyc) prints one line and exits 0: the pure-Python core runs, at about 2.3x
the CPU per reading (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.machinery
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

import orjson

from app import native

ROOT = native.CORE.parents[1]
MYPY_CONFIG = "[mypy]\npython_version = 3.11\nignore_missing_imports = True\n"


SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def _remove_built() -> None:
    for path in native.CORE.iterdir():
        if path.name.endswith(SUFFIXES) or path == native.MANIFEST:
            path.unlink()


def build() -> None:
    """Compile a copy of the `app` package's sources in a temporary directory
    and copy the extensions beside the sources: the same whether `app` is a
    checkout (`make core`) or an installed package (the container image),
    where mypy would take site-packages' other modules for ours."""
    from mypyc.build import mypycify  # the test extra's mypy; imported here, not at `make run`
    from setuptools import Distribution

    _remove_built()
    with tempfile.TemporaryDirectory(prefix="vigil-core-") as tmp:
        config = Path(tmp) / "mypy.ini"  # not pyproject's: its mypy options are for checking
        config.write_text(MYPY_CONFIG)
        src = Path(tmp) / "src"
        skip = shutil.ignore_patterns("__pycache__", "*.so", "_native*")
        shutil.copytree(ROOT / "app", src / "app", ignore=skip)
        sources = [f"app/core/{name}.py" for name in native.NATIVE]
        before = os.getcwd()
        os.chdir(src)  # mypyc names the modules and places them relative to here
        try:
            extensions = mypycify(["--config-file", str(config), *sources], group_name="app.core._native")
            for extension in extensions:  # a*b+c as two roundings, as Python does: never fused
                extension.extra_compile_args = [*(extension.extra_compile_args or []), "-ffp-contract=off"]
            # A bare Distribution: setup() would read a pyproject.toml, which is pip's to read.
            dist = Distribution({"name": "vigil-core", "ext_modules": extensions})
            dist.script_args = ["build_ext", "--inplace", "--build-temp", str(Path(tmp) / "build")]
            dist.parse_command_line()
            dist.run_commands()
        finally:
            os.chdir(before)
        for built in (src / "app" / "core").iterdir():
            if built.name.endswith(SUFFIXES):
                shutil.copy2(built, native.CORE / built.name)
    record = {"python": sys.implementation.cache_tag, "sources": native.manifest()}
    native.MANIFEST.write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optional", action="store_true", help="on failure, say so and exit 0")
    args = parser.parse_args(argv)
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            build()
    except (Exception, SystemExit) as exc:  # a compiler's failure comes as SystemExit from distutils
        _remove_built()
        errors = [line for line in output.getvalue().splitlines() if "error:" in line.lower()]
        reason = (errors or str(exc).strip().splitlines() or [type(exc).__name__])[-1][:200]
        print(f"vigil: the compiled core was not built ({reason}); the pure-Python core "
              "runs instead, at about 2.3x the CPU per reading", file=sys.stderr)  # fmt: skip
        if not args.optional:
            print(output.getvalue(), file=sys.stderr)
        return 0 if args.optional else 1
    print(f"vigil: compiled core built ({len(native.NATIVE)} modules of app/core)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
