import itertools

import numpy as np
import pytest
import torch

from stgan.data.stream import EpochOrderSampler, batch_stream, to_model_input
from stgan.errors import UserError
from stgan.imageio import to_float


class ArrayFaces(torch.utils.data.Dataset):
    """Holds its images in one uint8 array, like the synthetic set or the decoded cache."""

    def __init__(self, n=20, size=8, array=True):
        rng = np.random.default_rng(0)
        self.images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        self.labels = rng.integers(0, 2, (n, 3), dtype=np.uint8)
        self.array = array

    def uint8_array(self):
        return self.images if self.array else None

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return to_float(self.images[i]), torch.from_numpy(self.labels[i].astype(np.float32))


def test_sampler_epochs_are_permutations_and_start_skips_exactly():
    s = EpochOrderSampler(10, 3, seed=1)
    batches = list(itertools.islice(iter(s), 6))  # 3 batches per epoch, last item dropped
    for epoch in (batches[:3], batches[3:]):
        flat = [i for b in epoch for i in b]
        assert len(flat) == len(set(flat)) == 9
    assert batches[:3] != batches[3:]  # a new order each epoch
    later = list(itertools.islice(iter(EpochOrderSampler(10, 3, seed=1, start=4)), 2))
    assert later == batches[4:6]
    assert batches == list(itertools.islice(iter(EpochOrderSampler(10, 3, seed=1)), 6))


def test_array_batches_equal_loader_batches_bit_for_bit():
    fast = batch_stream(ArrayFaces(array=True), 4, seed=3, start=2)
    slow = batch_stream(ArrayFaces(array=False), 4, seed=3, start=2)
    for _ in range(7):
        (xf, af), (xs, as_) = next(fast), next(slow)
        assert xf.dtype == torch.uint8 and xs.dtype == torch.float32
        assert torch.equal(to_model_input(xf, torch.device("cpu")), xs)
        assert torch.equal(af, as_)


def test_too_small_a_set_is_a_user_error():
    with pytest.raises(UserError, match="fewer than train.batch_size"):
        batch_stream(ArrayFaces(n=3), 4, seed=0)


def _faces_with_a_bad_jpeg(folder, n=8, bad=5):
    from PIL import Image

    from stgan.data import FaceDataset

    files = [f"{i:03d}.jpg" for i in range(n)]
    for f in files:
        Image.new("RGB", (12, 12), (90, 60, 30)).save(folder / f)
    (folder / files[bad]).write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    labels = np.zeros((n, 1), np.uint8)
    return FaceDataset(folder, files, labels, ("A",), "none", 8), folder / files[bad]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_bad_image_is_one_user_error_line_naming_it_from_workers_too(tmp_path, workers):
    ds, bad = _faces_with_a_bad_jpeg(tmp_path)
    stream = batch_stream(ds, 4, seed=0, num_workers=workers)
    with pytest.raises(UserError) as e:
        for _ in range(2):  # one epoch: every image once
            next(stream)
    msg = str(e.value)
    assert msg.startswith(f"cannot read image {bad} (")  # the reader's own message, as is
    assert "\n" not in msg and "worker" not in msg


def test_user_error_loader_is_a_dataloader_whose_worker_errors_are_one_line(tmp_path):
    from stgan.data.stream import UserErrorLoader

    ds, bad = _faces_with_a_bad_jpeg(tmp_path, n=8, bad=6)
    loader = UserErrorLoader(ds, batch_size=3, num_workers=2, shuffle=False)
    assert len(loader) == 3
    batches = iter(loader)
    x, y = next(batches)  # items 0..2 read fine
    assert x.shape == (3, 3, 8, 8) and y.shape == (3, 1)
    with pytest.raises(UserError) as e:
        list(batches)
    assert str(e.value).startswith(f"cannot read image {bad} (") and "\n" not in str(e.value)


def test_training_the_judge_with_workers_reports_a_bad_image_in_one_line(tmp_path):
    from stgan.judge import train_classifier

    ds, bad = _faces_with_a_bad_jpeg(tmp_path, n=8, bad=3)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 1))
    with pytest.raises(UserError) as e:
        train_classifier(model, ds, "cpu", epochs=1, batch_size=4, num_workers=2)
    assert str(e.value).startswith(f"cannot read image {bad} (") and "\n" not in str(e.value)
