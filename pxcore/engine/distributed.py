"""Data-parallel training on Paddle's collective engine (``paddle.distributed``).

A run started by ``python -m paddle.distributed.launch`` (or ``px train --devices``)
has one process per device; ``world()`` sees the launcher's environment, joins the
process group once (``init_parallel_env``: NCCL on GPUs, gloo on CPUs) and gives this
process's rank and the number of processes. One process (world size 1) never touches
the distributed API beyond reading that environment.

pxcore's ``train_batch_size`` is the global batch, as in PaddleX: each of N processes
takes its 1/N slice of every global batch (see ``Loader``), ``paddle.DataParallel``
averages the gradients, so N processes step as one process with the whole batch would.
"""

from __future__ import annotations

import contextlib
import os

from ..errors import PxError

_joined = False


def world() -> tuple[int, int]:
    """(rank, world size) of this process; (0, 1) when not launched distributed."""
    global _joined
    if int(os.environ.get("PADDLE_TRAINERS_NUM", "1") or 1) <= 1:
        return 0, 1
    import paddle.distributed as dist

    if not _joined:
        if not dist.is_initialized():
            dist.init_parallel_env()
        _joined = True
    return dist.get_rank(), dist.get_world_size()


def is_main() -> bool:
    """Whether this process writes checkpoints and logs (rank 0, or the only one)."""
    return world()[0] == 0


def mean_across(value: float, world_size: int) -> float:
    """The mean of a float over the processes (every process gets it)."""
    if world_size <= 1:
        return value
    import paddle
    import paddle.distributed as dist

    tensor = paddle.to_tensor([value], dtype="float64")
    dist.all_reduce(tensor)
    return float(tensor.numpy()[0]) / world_size


def eval_share(n: int) -> tuple[list[int], int]:
    """This process's share of an evaluation set of ``n`` samples, and the world size:
    indices ``rank::world_size`` (all of them, in order, in one process). ``sum_across``
    and ``gather_samples`` then combine the shares into what one process evaluating
    everything gets."""
    rank, world_size = world()
    return list(range(rank, n, world_size)), world_size


def sum_across(array, world_size: int):
    """The element-wise sum of an integer array (counts, a confusion matrix) over the
    processes, as int64 (exact); every process gets it. The array itself in one process."""
    if world_size <= 1:
        return array
    import numpy as np
    import paddle
    import paddle.distributed as dist

    tensor = paddle.to_tensor(np.asarray(array, np.int64))
    dist.all_reduce(tensor)
    return tensor.numpy()


def gather_samples(items: list, world_size: int) -> list:
    """Every process's per-sample ``items`` (one per index of its ``eval_share``, any
    picklable object), put back in the data set's order; every process gets them all.
    ``items`` itself in one process."""
    if world_size <= 1:
        return items
    import paddle.distributed as dist

    parts: list = []
    dist.all_gather_object(parts, list(items))
    return interleave(parts)


def interleave(parts: list[list]) -> list:
    """Undo the ``rank::world_size`` sharding: item k of rank r is sample r + k * len(parts)."""
    return [part[k] for k in range(max(map(len, parts), default=0))
            for part in parts if k < len(part)]


def wrap(net, world_size: int, sync_bn: bool):
    """The net to run the forward pass through: ``net`` itself in one process, else a
    ``paddle.DataParallel`` of it (whose backward all-reduces the gradients). With
    ``sync_bn`` the BatchNorm layers become SyncBatchNorm in place first (batch
    statistics over all processes' samples), so the checkpoints keep plain weights."""
    if sync_bn:
        import paddle

        if "gpu" not in paddle.get_device():
            raise PxError("sync_bn=True needs GPUs: Paddle's SyncBatchNorm has no CPU kernel "
                          f"(this process runs on {paddle.get_device()}); train without sync_bn")
        _convert_sync_bn(net)
    if world_size <= 1:
        return net
    import paddle

    class DataParallel(paddle.DataParallel):
        """Paddle's DataParallel that also answers the net's own attributes (a
        detector's ``loss``), so a task's ``training_step`` runs through it unchanged."""

        def __getattr__(self, name):
            try:
                return super().__getattr__(name)
            except AttributeError:
                if name == "_layers":
                    raise
                return getattr(self._layers, name)

    return DataParallel(net)


def _convert_sync_bn(net) -> None:
    import paddle

    # Converts the sublayers in place (the keys of the state dict stay as they were).
    if paddle.nn.SyncBatchNorm.convert_sync_batchnorm(net) is not net:
        raise PxError("sync_bn: the network is a bare BatchNorm layer; wrap it in a Layer")


@contextlib.contextmanager
def forward_through(model, train_net):
    """``model.net`` is ``train_net`` (the DataParallel) inside the block."""
    net = model.net
    model.net = train_net
    try:
        yield
    finally:
        model.net = net


def no_sync(train_net, skip: bool):
    """Inside the block the backward of a DataParallel does not all-reduce (the micro
    batches of an accumulation before its last)."""
    if skip and hasattr(train_net, "no_sync"):
        return train_net.no_sync()
    return contextlib.nullcontext()


def check_batch(batch_size: int, world_size: int) -> int:
    """Each process's share of the global batch."""
    if batch_size % world_size:
        raise PxError(f"train_batch_size {batch_size} does not split evenly over {world_size} "
                      f"processes; use a multiple of {world_size}")
    return batch_size // world_size


def sum_tensors_across(tensors: list, world_size: int) -> list:
    """The element-wise sums of float tensors over the processes (one all-reduce of
    them all flattened into one float32 tensor); every process gets them. The tensors
    themselves in one process."""
    if world_size <= 1:
        return tensors
    import numpy as np
    import paddle
    import paddle.distributed as dist

    flat = paddle.concat([paddle.cast(t, "float32").reshape([-1]) for t in tensors])
    dist.all_reduce(flat)
    out, start = [], 0
    for t in tensors:
        size = int(np.prod(t.shape)) if t.shape else 1
        out.append(flat[start:start + size].reshape(t.shape))
        start += size
    return out
