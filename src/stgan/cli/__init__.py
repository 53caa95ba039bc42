"""The ``stgan`` command line: argv → config → calls into the library.

The only package with process-wide side effects (seeding, printing, signals, folders). One
module per command group, each with ``register(subparsers)``; :mod:`stgan.cli.options` holds
the options they share. :func:`main` is the one place that turns errors into one line on
stderr and exit status 2: :class:`~stgan.errors.UserError`, ``OSError`` (permissions, a full
disk, a folder where a file should be...), Pillow's image errors, a ``ValueError`` raised by
config validation, and usage errors.
"""

from __future__ import annotations

import argparse
import os
import sys

from stgan import __version__
from stgan.errors import UserError

__all__ = ["build_parser", "main"]


class _UsageError(Exception):
    """A command-line syntax error (argparse), reported like a UserError."""

    def __init__(self, message: str, prog: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line (``stgan: error: ...``) instead of the usage."""

    def error(self, message: str):  # type: ignore[override]
        raise _UsageError(message, self.prog)


def build_parser() -> argparse.ArgumentParser:
    from stgan.cli import (
        ablate,
        bench,
        data,
        edit,
        evaluation,
        export,
        importer,
        plot,
        serve,
        train,
    )

    p = _Parser(
        prog="stgan",
        description="STGAN (Liu et al., CVPR 2019): train, edit facial attributes, evaluate.",
    )
    p.add_argument("--version", action="version", version=f"stgan {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (train, edit, data, bench, plot, evaluation, ablate, export, serve, importer):
        module.register(sub)
    return p


def error_message(e: BaseException) -> str | None:
    """The one-line message for an error that is the user's to fix, or None for a bug."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(e, UserError):
        text = str(e)
    elif isinstance(e, (Image.DecompressionBombError, UnidentifiedImageError)):
        text = f"cannot read image: {e}"
    elif isinstance(e, OSError):
        where = " → ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
        reason = e.strerror or str(e) or type(e).__name__
        text = f"{where}: {reason}" if where else reason
        text += "; check the path, its permissions and the free disk space"
    elif isinstance(e, ValueError) and _raised_in(e, "stgan/config.py"):
        text = f"invalid configuration: {e}"
    else:
        return None
    return " ".join(text.split()) or type(e).__name__  # one line


def _raised_in(e: BaseException, path_end: str) -> bool:
    tb, last = e.__traceback__, None
    while tb is not None:
        last, tb = tb, tb.tb_next
    return last is not None and last.tb_frame.f_code.co_filename.replace("\\", "/").endswith(
        path_end
    )


def main(argv: list[str] | None = None) -> int:
    """Run ``stgan ARGV``; returns the exit status (0 ok, 2 user error, 130/143 stopped)."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except _UsageError as e:
        print(f"{e.prog}: error: {e} (see {e.prog} --help)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stgan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:
        message = error_message(e)
        if message is None:
            raise
        print(f"stgan: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
