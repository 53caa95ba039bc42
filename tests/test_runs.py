"""Run folders: the one-writer lock (a real second process, a faked live PID, a stale lock)
and what a resume may change."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest

from stgan.config import load
from stgan.errors import UserError
from stgan.runs import LOCK_NAME, RunLock, check_same_run, pid_alive, read_lock

HOLDER = textwrap.dedent(
    """
    import sys
    from stgan.runs import RunLock
    lock = RunLock(sys.argv[1])
    lock.acquire()
    print("locked", flush=True)
    sys.stdin.read()  # hold until the test closes stdin (or kills us)
    lock.release()
    """
)


@pytest.fixture
def holder(tmp_path):
    """A second process that holds the lock of tmp_path/run until stopped."""
    p = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "run")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout.readline().strip() == "locked"
    yield p
    if p.poll() is None:
        p.kill()
    p.wait()


def test_a_live_second_process_is_refused_then_its_lock_is_released(tmp_path, holder):
    run = tmp_path / "run"
    with pytest.raises(UserError, match=f"in use by process {holder.pid} on "):
        RunLock(run).acquire()
    holder.stdin.close()  # the holder releases and exits
    assert holder.wait(timeout=30) == 0
    assert not (run / LOCK_NAME).exists()
    with RunLock(run) as lock:
        assert lock.took_over is None
        assert read_lock(run / LOCK_NAME)["pid"] == os.getpid()
    assert not (run / LOCK_NAME).exists()


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path, holder):
    run = tmp_path / "run"
    holder.kill()  # SIGKILL: no release, the file stays with a dead PID
    holder.wait()
    assert read_lock(run / LOCK_NAME)["pid"] == holder.pid and not pid_alive(holder.pid)
    with RunLock(run) as lock:
        assert lock.took_over["pid"] == holder.pid
        assert read_lock(run / LOCK_NAME)["pid"] == os.getpid()


def write_lock(run, pid: int, host: str | None = None) -> None:
    run.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": host or socket.gethostname(), "started": 1.7e9}
    (run / LOCK_NAME).write_text(json.dumps(record))


def test_a_lock_file_naming_a_live_pid_is_respected(tmp_path):
    """A holder without flock (another file system, another version): its PID decides."""
    run = tmp_path / "run"
    write_lock(run, os.getppid())  # alive: pytest's parent
    with pytest.raises(UserError, match=f"process {os.getppid()}"):
        RunLock(run).acquire()
    write_lock(run, 12345, host="elsewhere")  # cannot be checked from here
    with pytest.raises(UserError, match="delete .*run.lock"):
        RunLock(run).acquire()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_lock(run, dead.pid)
    with RunLock(run) as lock:
        assert lock.took_over["pid"] == dead.pid


def test_a_second_lock_in_the_same_process_is_refused(tmp_path):
    with RunLock(tmp_path) as first:
        with pytest.raises(UserError, match="in use"):
            RunLock(tmp_path).acquire()
        assert first.took_over is None
    assert not (tmp_path / LOCK_NAME).exists()


def test_check_same_run_names_the_changed_field():
    cfg = load("tiny")
    check_same_run(replace(cfg, data=replace(cfg.data, num_workers=3, cache=True)), cfg, "c.pt")
    with pytest.raises(UserError, match="model.enc_dim=8, this run asks for 16"):
        check_same_run(replace(cfg, model=replace(cfg.model, enc_dim=16)), cfg, "c.pt")
    with pytest.raises(UserError, match="data.synthetic_n"):
        check_same_run(replace(cfg, data=replace(cfg.data, synthetic_n=7)), cfg, "c.pt")
