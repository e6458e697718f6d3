"""geoseg.distributed without torchrun: rank 0 of 1, collectives are the identity, and a
group the caller initialised is reused and left alone (the torchrun jobs themselves run in
tests/batch/test_batch_distributed.py and tests/cli/test_train.py)."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from geoseg.distributed import DistContext, distributed, env_ranks, rank_device
from geoseg.errors import GeoSegError


@pytest.fixture
def no_torchrun(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)


def test_single_process_context_is_rank_zero_of_one(no_torchrun):
    with distributed("cpu") as ctx:
        assert (ctx.rank, ctx.world_size, ctx.local_rank) == (0, 1, 0)
        assert not ctx.active and ctx.is_main and not ctx.owns_group
        assert ctx.device == torch.device("cpu")
        payload = {"plan": [1, 2, 3]}
        assert ctx.broadcast(payload) is payload
        assert ctx.all_gather("report") == ["report"]
        assert ctx.mean(2.5) == 2.5
        assert ctx.any(True) is True and ctx.any(False) is False
        ctx.barrier()  # no group: returns at once
        assert not dist.is_initialized()


def test_env_ranks_reads_torchrun_and_names_a_bad_value(monkeypatch, no_torchrun):
    assert env_ranks() == (0, 1, 0)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert env_ranks() == (3, 4, 1)
    monkeypatch.setenv("WORLD_SIZE", "four")
    with pytest.raises(GeoSegError, match="WORLD_SIZE='four' is not a number"):
        env_ranks()


def test_rank_device_one_gpu_per_rank():
    assert rank_device("cpu", 3) == torch.device("cpu")
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        assert rank_device("auto", 1) == torch.device("cuda", 1 % n)
        assert rank_device("cuda", 0) == torch.device("cuda", 0)
    else:
        assert rank_device("auto", 1) == torch.device("cpu")
        with pytest.raises(GeoSegError, match="CUDA is not available"):
            rank_device("cuda", 0)


def test_a_group_the_caller_initialised_is_reused_and_left_alone(
    monkeypatch, no_torchrun, tmp_path
):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    store = f"file://{tmp_path / 'store'}"
    dist.init_process_group("gloo", init_method=store, rank=0, world_size=1)
    try:
        # WORLD_SIZE 1 never touches the group; a 1-rank "job" with WORLD_SIZE=2 in the
        # environment would hang, so the reuse path is checked with the group's own size
        monkeypatch.setenv("WORLD_SIZE", "2")
        with distributed("cpu") as ctx:
            assert not ctx.owns_group
            assert (ctx.rank, ctx.world_size) == (0, 1)  # the group's, not the environment's
            assert not ctx.active and ctx.broadcast("x") == "x"
        assert dist.is_initialized()  # left for its owner
    finally:
        dist.destroy_process_group()


def test_default_context_is_a_plain_value():
    ctx = DistContext()
    assert ctx.device == torch.device("cpu") and not ctx.active
