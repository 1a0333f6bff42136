"""Reading a view cache larger than RAM a block of contiguous rows at a time.

:class:`BlockReader` reads whole blocks with one ``pread`` and keeps the
last few; :class:`BlockShuffleSampler` orders the rows so that a pass
visits each block once (shuffled blocks, shuffled rows within a buffer).

Authors
 * seed-brain developers 2026
"""

import os
from collections import OrderedDict

import numpy as np
import torch


class BlockReader:
    """Reads rows of a cache file a block of contiguous rows at a time.

    A miss reads the whole block with one ``pread`` (sequential I/O, no
    memory map: the process holds only the blocks it keeps), and the last
    ``buffer_blocks`` blocks stay in memory, so the rows of a
    :class:`BlockShuffleSampler` buffer cost one disk read per block.

    Arguments
    ---------
    path : str
        The array file (``[N, V, D]``, C order, no header).
    shape : sequence of int
        ``(N, V, D)``.
    dtype : str
        Storage type.
    block_rows : int
        Rows per block.
    buffer_blocks : int
        Blocks kept.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.f32")
    >>> np.arange(24, dtype=np.float32).reshape(6, 2, 2).tofile(path)
    >>> read = BlockReader(path, (6, 2, 2), "float32", 4, 1)
    >>> read(5).tolist(), read.reads
    ([[20.0, 21.0], [22.0, 23.0]], 1)
    >>> _ = read(4); read.reads
    1
    """

    def __init__(self, path, shape, dtype, block_rows, buffer_blocks):
        if int(block_rows) < 1 or int(buffer_blocks) < 1:
            raise ValueError(
                "cache_block_rows and cache_buffer_blocks must be >= 1, got "
                f"{block_rows} and {buffer_blocks}."
            )
        self.path = path
        self.shape = tuple(int(x) for x in shape)
        self.dtype = np.dtype(dtype)
        self.block_rows = int(block_rows)
        self.buffer_blocks = int(buffer_blocks)
        self.row_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        self.blocks = OrderedDict()
        self.reads = 0
        self._fd = None
        self._pid = None

    def _file(self):
        # One descriptor per process (data-loader workers fork).
        if self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDONLY)
            self._pid = os.getpid()
            self.blocks = OrderedDict()
        return self._fd

    def block(self, k):
        """Block ``k`` as an array ``[rows, V, D]`` (read on a miss)."""
        fd = self._file()
        if k in self.blocks:
            self.blocks.move_to_end(k)
            return self.blocks[k]
        first = k * self.block_rows
        rows = min(self.block_rows, self.shape[0] - first)
        data = os.pread(fd, rows * self.row_bytes, first * self.row_bytes)
        if len(data) != rows * self.row_bytes:
            raise ValueError(
                f"{self.path} is shorter than its index says (truncated?): "
                "delete the cache folder to rebuild it."
            )
        block = np.frombuffer(data, dtype=self.dtype).reshape(
            rows, *self.shape[1:]
        )
        self.reads += 1
        self.blocks[k] = block
        if len(self.blocks) > self.buffer_blocks:
            self.blocks.popitem(last=False)
        return block

    def __call__(self, row):
        block = self.block(row // self.block_rows)
        return np.array(block[row % self.block_rows])

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_fd=None, _pid=None, blocks=OrderedDict())
        return state


class BlockShuffleSampler(torch.utils.data.Sampler):
    """Random order that reads a cache in blocks of contiguous rows.

    Each pass over the ``num_rows`` rows shuffles the blocks of
    ``block_rows`` rows, takes them ``buffer_blocks`` at a time and
    shuffles the rows inside each such buffer: every row once per pass,
    and at any time only ``buffer_blocks`` blocks in use (with
    ``ViewCache.dataset(block_rows, buffer_blocks)``, one disk read per
    block per pass). ``num_samples`` rows make an epoch (passes follow
    each other; default one pass); :meth:`set_epoch` changes the order as
    SpeechBrain's ``ReproducibleRandomSampler`` does. Under DDP,
    SpeechBrain's ``DistributedSamplerWrapper`` gives process ``r`` the
    positions ``r, r + N, ...`` of this order: disjoint shards that cover
    it, each within the same buffers.

    Arguments
    ---------
    num_rows : int
        Rows of the cache (or a dataset: its length).
    block_rows : int
        Rows per block.
    buffer_blocks : int
        Blocks shuffled together.
    seed : int
        Base seed.
    num_samples : int or None
        Rows per epoch (None: ``num_rows``).
    epoch : int
        Starting epoch.

    Example
    -------
    >>> sampler = BlockShuffleSampler(10, block_rows=2, buffer_blocks=2)
    >>> sorted(sampler) == list(range(10))
    True
    >>> len(sampler)
    10
    """

    def __init__(
        self,
        num_rows,
        block_rows=256,
        buffer_blocks=16,
        seed=0,
        num_samples=None,
        epoch=0,
    ):
        if not isinstance(num_rows, int):
            num_rows = len(num_rows)
        if int(block_rows) < 1 or int(buffer_blocks) < 1:
            raise ValueError(
                "cache_block_rows and cache_buffer_blocks must be >= 1, got "
                f"{block_rows} and {buffer_blocks}."
            )
        if num_rows < 1:
            raise ValueError("BlockShuffleSampler needs at least one row.")
        self.num_rows = int(num_rows)
        self.block_rows = int(block_rows)
        self.buffer_blocks = int(buffer_blocks)
        self.seed = int(seed)
        self.num_samples = int(num_samples or num_rows)
        self.epoch = int(epoch)

    def set_epoch(self, epoch):
        """Selects the order of an epoch."""
        self.epoch = int(epoch)

    def __len__(self):
        return self.num_samples

    def one_pass(self, rng):
        """Row indices of one pass, as an array."""
        blocks = rng.permutation(-(-self.num_rows // self.block_rows))
        parts = []
        for start in range(0, len(blocks), self.buffer_blocks):
            rows = np.concatenate(
                [
                    np.arange(
                        k * self.block_rows,
                        min((k + 1) * self.block_rows, self.num_rows),
                    )
                    for k in blocks[start : start + self.buffer_blocks]
                ]
            )
            parts.append(rng.permutation(rows))
        return np.concatenate(parts)

    def __iter__(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        left = self.num_samples
        while left > 0:
            order = self.one_pass(rng)[:left]
            left -= len(order)
            yield from order.tolist()
