"""`stgan train` and its run folder: the lock, clean stops on signals, resume choices, and
the edit outputs that used to lose files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from cli_helpers import FAST, first_face, stgan
from PIL import Image

from stgan import checkpoint


@pytest.fixture
def run_copy(run, tmp_path):
    """A private copy of the shared tiny run (checkpoints at steps 2 and 4)."""
    out, _ = run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    return copy


def test_train_on_a_run_in_use_is_refused(run_copy, capsys):
    record = {"pid": os.getppid(), "host": socket.gethostname(), "started": time.time()}
    (run_copy / "run.lock").write_text(json.dumps(record))
    assert stgan(f"train --quiet --out {run_copy} --resume --max-steps 6") == 2
    err = capsys.readouterr().err
    assert f"in use by process {os.getppid()}" in err and err.count("\n") == 1
    assert checkpoint.load(run_copy)["step"] == 4


def test_resuming_a_finished_run_says_so(run_copy, capsys):
    before = sorted(p.name for p in run_copy.rglob("*"))
    assert stgan(f"train --quiet --out {run_copy} --resume --max-steps 4") == 0
    assert "already at step 4 (--max-steps 4 is the total); nothing to do" in (
        capsys.readouterr().out
    )
    assert sorted(p.name for p in run_copy.rglob("*")) == before


@pytest.mark.slow  # two trainings (1-2 s)
def test_resume_from_an_older_checkpoint_when_the_newest_is_corrupt(run_copy, capsys):
    newest = checkpoint.ckpt_path(run_copy, 4)
    newest.write_bytes(b"\x00" * 100)
    assert stgan(f"train --quiet --out {run_copy} --resume --max-steps 6") == 2
    assert "corrupt" in capsys.readouterr().err
    older = checkpoint.ckpt_path(run_copy, 2)
    assert stgan(f"train --quiet --resume-from {older} --max-steps 3") == 0  # run from the path
    assert [p.name for p in checkpoint.list_checkpoints(run_copy)] == [
        "step_00000002.pt",
        "step_00000003.pt",
    ]
    assert newest.with_name(newest.name + ".superseded").read_bytes() == b"\x00" * 100  # kept
    assert checkpoint.load(run_copy)["step"] == 3
    steps = [json.loads(line)["step"] for line in (run_copy / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 3


@pytest.mark.slow
def test_a_big_generator_on_a_cpu_is_warned_about(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("stgan.cli.train.CPU_WARN_PARAMS", 1000)  # the tiny G is "big" now
    assert stgan(f"train {FAST} --set train.device=cpu --out {tmp_path / 'r'} --max-steps 1") == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "use --config tiny" in err and err.count("\n") == 1
    monkeypatch.setattr("stgan.cli.train.CPU_WARN_PARAMS", 10**9)
    assert stgan(f"train {FAST} --set train.device=cpu --out {tmp_path / 's'} --max-steps 1") == 0
    assert capsys.readouterr().err == ""


@pytest.mark.slow  # a training (1 s)
def test_quiet_training_prints_only_the_result(tmp_path, capsys):
    assert stgan(f"train {FAST} --out {tmp_path / 'r'} --max-steps 1") == 0
    out, err = capsys.readouterr()
    assert out.startswith("stopped at step 1;") and out.count("\n") == 1 and err == ""


def test_photos_sharing_a_name_and_a_jpeg_output(run, tmp_path, capsys):
    out, faces = run
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(first_face(faces)).save(photos / "a.png")
    Image.open(first_face(faces)).save(photos / "a.jpg")
    edited = tmp_path / "edited"
    cmd = f"edit --checkpoint {out} --source Male=1 --set Bald=1"
    assert stgan(f"{cmd} --image {photos} --out {edited}") == 0
    assert "wrote 2 edited images" in capsys.readouterr().out
    assert sorted(p.name for p in edited.iterdir()) == ["a.jpg.png", "a.png.png"]
    jpg = tmp_path / "one.jpg"
    assert stgan(f"{cmd} --image {photos / 'a.png'} --out {jpg}") == 0
    assert Image.open(jpg).format == "JPEG" and Image.open(jpg).size == (32, 32)


def test_the_second_signal_aborts_at_once():
    from stgan.cli.train import Aborted, StopSignals

    stop = StopSignals()
    assert not stop()
    stop._handle(signal.SIGTERM, None)
    assert stop() and stop.signum == signal.SIGTERM
    with pytest.raises(Aborted) as e:
        stop._handle(signal.SIGINT, None)
    assert e.value.signum == signal.SIGINT


TRAIN = "import sys; from stgan.cli import main; sys.exit(main(sys.argv[1:]))"  # python -c


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_training_cleanly(tmp_path, sig, code):
    """A real `stgan train` process gets a signal mid-run: it writes a checkpoint, samples and
    losses.png for the step it reached, says how to resume, and exits 128 + signal."""
    run_dir = tmp_path / "run"
    argv = (
        f"train {FAST} --set train.log_every=1 --set train.ckpt_every=100000"
        f" --set train.sample_every=100000 --set train.epochs=100000 --out {run_dir}"
    ).split()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen(
        [sys.executable, "-c", TRAIN, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        log = run_dir / "log.jsonl"
        deadline = time.monotonic() + 60
        while not (log.is_file() and log.read_text().count("\n") >= 3):
            assert p.poll() is None and time.monotonic() < deadline, p.stderr.read()
            time.sleep(0.05)
        p.send_signal(sig)
        logged = len(log.read_text().splitlines())  # steps done when the signal was sent
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == code, err
    name = signal.Signals(sig).name
    assert f"stgan: {name} received" in err
    step = int(out.split(f"stopped by {name} at step ")[1].split(";")[0])
    assert 3 <= logged <= step <= logged + 3  # the run stopped where it was
    assert f"resume with: stgan train --out {run_dir} --resume" in out
    assert checkpoint.load(run_dir)["step"] == step
    assert (run_dir / "samples" / f"step_{step:08d}.png").is_file()
    assert (run_dir / "losses.png").is_file()
    assert not (run_dir / "run.lock").exists()
