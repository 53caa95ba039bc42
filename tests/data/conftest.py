"""Fixtures of the data tests."""

import os

import pytest


@pytest.fixture
def read_only(monkeypatch):
    """Make folders read-only as a read-only mount does (root ignores chmod): creating a
    directory or opening a file for writing under them fails with EROFS."""
    import errno
    import io

    frozen: list[str] = []

    def inside(path) -> bool:
        p = os.path.abspath(os.fspath(path))
        return any(p == f or p.startswith(f + os.sep) for f in frozen)

    def deny(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    real_mkdir, real_open, real_io_open = os.mkdir, os.open, io.open

    def mkdir(path, *a, **k):
        return deny(path) if inside(path) else real_mkdir(path, *a, **k)

    def os_open(path, flags, *a, **k):
        writes = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        return deny(path) if writes and inside(path) else real_open(path, flags, *a, **k)

    def io_open(path, mode="r", *a, **k):
        writes = any(c in mode for c in "wax+")
        if writes and isinstance(path, str | os.PathLike) and inside(path):
            deny(path)
        return real_io_open(path, mode, *a, **k)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr("builtins.open", io_open)
    return lambda folder: frozen.append(os.path.abspath(folder))
