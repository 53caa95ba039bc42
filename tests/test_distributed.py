"""Training in several processes (stgan.distributed): the sharded stream, the collectives
and two gloo processes on the CPU against one process on the same global batch."""

from __future__ import annotations

import pytest
import torch

from stgan.data.stream import EpochOrderSampler, batch_stream
from stgan.errors import UserError


def _take(it, k):
    return [next(it) for _ in range(k)]


@pytest.mark.parametrize("world", [2, 4])
def test_shards_together_are_the_one_process_batches_in_order(tiny_faces, world):
    """Across an epoch boundary and from a resume offset: rank 0's rows, then rank 1's, ...
    are the one-process batch, row for row."""
    B, start, k = 8, 5, 6  # 64 images: 8 batches per epoch; batches 5..10 cross into epoch 1
    one = _take(batch_stream(tiny_faces, B, seed=3, start=start), k)
    shards = [
        _take(batch_stream(tiny_faces, B, seed=3, start=start, rank=r, world_size=world), k)
        for r in range(world)
    ]
    for i, (x, a) in enumerate(one):
        assert all(s[i][0].shape[0] == B // world for s in shards)
        assert torch.equal(torch.cat([s[i][0] for s in shards]), x)
        assert torch.equal(torch.cat([s[i][1] for s in shards]), a)


def test_sampler_shards_partition_each_global_batch():
    one = iter(EpochOrderSampler(30, 6, seed=1, start=3))
    ranks = [
        iter(EpochOrderSampler(30, 6, seed=1, start=3, rank=r, world_size=3)) for r in range(3)
    ]
    for _ in range(7):
        assert sum((next(r) for r in ranks), []) == next(one)


def test_global_batch_not_divisible_is_one_line_error(tiny_faces):
    with pytest.raises(UserError, match="batch_size=6 .*not divisible by the 4 processes"):
        batch_stream(tiny_faces, 6, seed=0, rank=0, world_size=4)
