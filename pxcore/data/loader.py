"""Batches for training and evaluation, through Paddle's multi-process DataLoader.

Each sample's augmentation draws from a generator seeded by (seed, epoch, index), so a
run with a fixed seed sees the same data whatever the number of workers, and a resumed
run sees what the uninterrupted one would have.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import paddle

from ..errors import PxError

logger = logging.getLogger("pxcore")


def resolve_num_workers(num_workers: Any) -> int:
    """'auto' is half the cores (at most 8), as PaddleX did: the rest run the model."""
    if num_workers == "auto" or num_workers is None:
        return max(0, min((os.cpu_count() or 1) // 2, 8))
    if not isinstance(num_workers, int) or num_workers < 0:
        raise PxError(f"num_workers must be 'auto' or a count >= 0, got {num_workers!r}")
    return num_workers


class _Feed(paddle.io.Dataset):
    """A pxcore data set's samples after the per-sample transforms (a Compose leaves
    the batch transforms out), with their index."""

    def __init__(self, dataset, seed: int | None) -> None:
        super().__init__()
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        if self.seed is None:
            rng = np.random.default_rng()
        else:
            rng = np.random.default_rng([self.seed, self.epoch, index])
        sample = self.dataset.get(index, rng, epoch=self.epoch)
        sample["_index"] = index
        return sample


class _Collate:
    """Batch transforms, then (CHW float32 images, fields...) arrays. Fields whose
    length varies between samples (boxes) are zero-padded to the longest (at least
    one row, so no batch has an empty array)."""

    def __init__(self, feed: _Feed, fields: tuple[str, ...], defaults: dict) -> None:
        self.transforms = feed.dataset.transforms
        self.fields = fields
        self.defaults = defaults
        self.seed = feed.seed
        self.epoch = feed.epoch

    def __call__(self, samples: list[dict]):
        if self.transforms.batch_transforms:
            first = samples[0]["_index"]
            rng = (np.random.default_rng() if self.seed is None
                   else np.random.default_rng([self.seed, self.epoch, first, 1]))
            samples = self.transforms.apply_batch(samples, rng)
        images = [np.asarray(s["image"], np.float32) for s in samples]
        shapes = {image.shape for image in images}
        if len(shapes) > 1:
            raise PxError(f"a batch has images of different sizes {sorted(shapes)}; end the "
                          "transforms with a fixed-size Resize (or BatchRandomResize for "
                          "multi-scale training), or train with batch size 1")
        batch = [np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2))]
        for field in self.fields:
            values = [np.asarray(s[field] if field in s else self.defaults[field](s)) for s in samples]
            batch.append(_pad_stack(values))
        return batch


def _pad_stack(values: list[np.ndarray]) -> np.ndarray:
    if all(v.shape == values[0].shape for v in values):
        return np.stack(values)
    longest = max(1, *(len(v) for v in values))
    out = np.zeros((len(values), longest, *values[0].shape[1:]), values[0].dtype)
    for i, v in enumerate(values):
        out[i, :len(v)] = v
    return out


class Loader:
    """Iterates batches of a data set; ``set_epoch`` changes the shuffle and the
    augmentation draws. With ``world_size`` N > 1 (data-parallel training) ``batch_size``
    is the global batch: every process draws the same order of global batches (from the
    seed) and yields its ``rank``-th 1/N slice of each, so N processes together see what
    one process would. (Paddle's DistributedBatchSampler would shard the data set
    instead, giving other global batches than one process has.) The last partial batch
    is dropped there, so every process takes equal shares. ``indices`` (not with
    ``shuffle``) iterates only those samples, in that order: a process's share of an
    evaluation set (``distributed.eval_share``)."""

    def __init__(self, dataset, batch_size: int, *, shuffle: bool = False, drop_last: bool = False,
                 fields: tuple[str, ...] = ("label",), defaults: dict | None = None,
                 num_workers: Any = "auto", seed: int | None = None, rank: int = 0,
                 world_size: int = 1, indices: list[int] | None = None) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise PxError(f"batch size must be a positive integer, got {batch_size!r}")
        if indices is not None and shuffle:
            raise PxError("a Loader over given indices does not shuffle")
        if drop_last and len(dataset) < batch_size:
            raise PxError(f"the data set has {len(dataset)} samples, fewer than one batch of "
                          f"{batch_size}; lower the batch size")
        if world_size > 1:
            from ..engine.distributed import check_batch

            self.shard = check_batch(batch_size, world_size)
            drop_last = True
        self.rank = rank
        self.world_size = world_size
        self.feed = _Feed(dataset, seed)
        self.indices = None if indices is None else list(indices)
        self.fields = tuple(fields)
        self.defaults = dict(defaults or {})
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.num_workers = resolve_num_workers(num_workers)

    def __len__(self) -> int:
        n = len(self.feed) if self.indices is None else len(self.indices)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.feed.epoch = epoch

    def _order(self) -> list[int]:
        if self.indices is not None:
            return list(self.indices)
        n = len(self.feed)
        if not self.shuffle:
            return list(range(n))
        rng = np.random.default_rng(None if self.seed is None else [self.seed, self.feed.epoch])
        return rng.permutation(n).tolist()

    def __iter__(self):
        order = self._order()
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.world_size > 1:
            batches = [b[self.rank * self.shard:(self.rank + 1) * self.shard] for b in batches]
        collate = _Collate(self.feed, self.fields, self.defaults)
        done = 0
        if self.num_workers > 0:
            loader = paddle.io.DataLoader(self.feed, batch_sampler=batches, num_workers=self.num_workers,
                                          collate_fn=collate, return_list=True, use_shared_memory=False)
            try:
                for batch in loader:
                    yield batch
                    done += 1
                return
            except SystemError as exc:
                # A worker raised (Paddle prints its error and ends the queue with this
                # one): the rest of the epoch loads here, which raises the real error at
                # its batch, or goes on if the worker died of something else.
                logger.warning("a data loader worker failed (%s); loading the rest of the "
                               "epoch in this process", str(exc).splitlines()[0])
        # In the caller's thread: Paddle's loader runs num_workers=0 in a thread of its
        # own, where an exception (a corrupt image, a missing field) ends the thread
        # and leaves the training loop waiting forever.
        for indices in batches[done:]:
            yield [paddle.to_tensor(a) for a in collate([self.feed[i] for i in indices])]
