"""The reversible watermark engine: histogram shifting of rhombus prediction errors (DESIGN §4).

Each slice is cut into a grid of non-overlapping 3x3 blocks (stride `s`, default 3). A block's centre `c` is predicted
from its four edge neighbours, `p = floor((N + S + E + W) / 4)`. Neighbours are never centres, so `p` is the same before
and after embedding, which makes the scheme reversible and lets every block of a slice be computed at once.

On the blocks the key selects, with prediction error `e = c - p`:
  e == 0  carries one watermark bit b: the centre becomes p + b;
  e > 0   is shifted: the centre becomes c + 1;
  e < 0   is left alone.
No voxel moves by more than 1. A centre at the top of the value range cannot be raised; it is left alone, and reading
ignores every centre at the top. Restoring a centre found at the top then needs one bit: was it at the top already, or
was it raised to it? Those bits, in scan order, are the side information returned with the watermarked volume (a few
bytes unless a volume is saturated across large areas, and then they compress well).
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TypeVar

import numpy as np

from . import statistics
from .errors import CapacityError, SideInfoError
from .slicewise import Progress, run_chunks
from .voxels import VoxelFormat, as_stack, voxel_format, working_chunk
from .watermark import WATERMARK_BITS, CarrierLayout, SecretKey, carrier_layout

SCHEME = "paroma-rhombus-hs/1"
DEFAULT_STRIDE = 3
_UNREADABLE = 2
_SIDE_INFO_MAGIC = b"PWS1"
T = TypeVar("T")


@dataclass(frozen=True)
class EmbedReport:
    """What embedding did to a volume."""

    slices: int
    blocks_per_slice: int
    selected_per_slice: int
    carriers: int
    """Blocks that carry a watermark bit, over the whole volume."""
    carriers_per_slice: tuple[int, ...]
    """Watermark bits embedded in each slice."""
    changed_per_slice: tuple[int, ...]
    """Voxels changed in each slice (a slice left unchanged cannot be told apart from the original by its hash)."""
    distinct_bits: int
    """How many of the 256 watermark bits are carried at least once."""
    required_bits: int
    voxels_changed: int
    max_change: int
    psnr_db: float
    """Peak signal-to-noise ratio over the value range; infinite when nothing changed."""
    value_range: tuple[int, int]
    side_info_bytes: int

    def to_dict(self) -> dict:
        return asdict(self) | {
            "carriers_per_slice": list(self.carriers_per_slice),
            "changed_per_slice": list(self.changed_per_slice),
            "value_range": list(self.value_range),
        }


@dataclass(frozen=True)
class Embedding:
    """A watermarked volume, what restoring it needs besides the key, and the report."""

    volume: np.ndarray
    side_info: bytes
    report: EmbedReport
    stride: int
    value_range: tuple[int, int]


@dataclass(frozen=True)
class Extraction:
    """Votes read from a volume with one key: per slice and per watermark bit, how many carriers said 0 and 1."""

    zeros: np.ndarray
    """int (slices, 256): votes for 0."""
    ones: np.ndarray
    """int (slices, 256): votes for 1."""

    @property
    def votes0(self) -> np.ndarray:
        return self.zeros.sum(axis=0)

    @property
    def votes1(self) -> np.ndarray:
        return self.ones.sum(axis=0)

    @property
    def bits(self) -> np.ndarray:
        """int8 (256,): the majority bit per position, -1 where there is no vote or a tie."""
        v0, v1 = self.votes0, self.votes1
        return np.where(v1 > v0, 1, np.where(v0 > v1, 0, -1)).astype(np.int8)

    @property
    def voted_bits(self) -> int:
        return int(np.count_nonzero(self.bits >= 0))

    @property
    def slices(self) -> tuple[int, ...]:
        """Slices where at least one carrier was read."""
        return tuple(int(i) for i in np.flatnonzero((self.zeros + self.ones).sum(axis=1)))

    def matched_bits(self, watermark: np.ndarray) -> int:
        """How many voted bits agree with `watermark`."""
        return int(np.count_nonzero(self.bits == np.asarray(watermark, dtype=np.int8)))

    def slice_agreement(self, watermark: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per slice, the votes that agree and disagree with `watermark`."""
        w = np.asarray(watermark, dtype=bool)
        agree = self.ones[:, w].sum(axis=1) + self.zeros[:, ~w].sum(axis=1)
        disagree = self.zeros[:, w].sum(axis=1) + self.ones[:, ~w].sum(axis=1)
        return agree, disagree


@dataclass(frozen=True)
class BlockReadout:
    """What a volume says at every block, before any key is applied.

    This is the key-independent part of extraction: computed once per suspect volume, then asked about many keys.
    """

    codes: np.ndarray
    """uint8 (slices, grid rows, grid columns): 0 or 1 where the prediction error reads as a bit, else 2."""
    zeros_at: np.ndarray = field(repr=False)
    """int (grid rows, grid columns): over all slices, how often each block position reads 0."""
    ones_at: np.ndarray = field(repr=False)
    """int (grid rows, grid columns): over all slices, how often each block position reads 1."""

    @property
    def grid_shape(self) -> tuple[int, int]:
        return self.codes.shape[1:]

    def votes(self, key: SecretKey) -> tuple[np.ndarray, np.ndarray]:
        """Votes for 0 and for 1 per watermark bit, over all slices: fast, for trying many keys."""
        layout = carrier_layout(key, self.grid_shape)
        zeros = np.bincount(layout.carrier_bits, self.zeros_at.reshape(-1)[layout.carriers], WATERMARK_BITS)
        ones = np.bincount(layout.carrier_bits, self.ones_at.reshape(-1)[layout.carriers], WATERMARK_BITS)
        return zeros.astype(np.int64), ones.astype(np.int64)

    def extract(self, key: SecretKey) -> Extraction:
        """Votes per slice and per watermark bit under `key`."""
        zeros, ones = _slice_votes(self.codes, carrier_layout(key, self.grid_shape))
        return Extraction(zeros=zeros, ones=ones)


def block_grid(rows: int, cols: int, stride: int = DEFAULT_STRIDE) -> tuple[int, int]:
    """Rows and columns of the block grid over a slice: 3x3 windows every `stride` voxels."""
    _check_stride(stride)
    return (rows - 3) // stride + 1, (cols - 3) // stride + 1


def embed(
    volume: np.ndarray,
    key: SecretKey,
    watermark: np.ndarray,
    *,
    stride: int = DEFAULT_STRIDE,
    value_range: tuple[int, int] | None = None,
    required_bits: int | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Embedding:
    """Watermark `volume` (2D, or 3D with slices along axis 0) with the 256 `watermark` bits under `key`.

    The input is not modified. `value_range` narrows the allowed values below the type's (e.g. (0, 4095) for 12 bits
    stored). Raises `CapacityError` if fewer than `required_bits` distinct watermark bits (default: what a 1e-9
    false-match bound over 100,000 ledger blocks needs) find a carrier; pass 0 to accept any capacity.
    """
    watermark = _checked_watermark(watermark)
    fmt = voxel_format(volume, value_range)
    slices, rows, cols = as_stack(volume).shape
    grid = block_grid(rows, cols, stride)
    layout = carrier_layout(key, grid)
    selected, ones = layout.selected, layout.ones(watermark)
    top = fmt.high

    # Per block position, the smallest prediction error that gets raised: 1 - b on a selected block carrying bit b
    # (e == 0 and b == 1, or e > 0), never on the others. Likewise the error a carrier has: 0, or never.
    raise_from = _GridThreshold(np.where(selected, 1 - ones.astype(np.int64), _NEVER))
    carrier_at = _GridThreshold(np.where(selected, 0, _NEVER))

    def embed_chunk(start: int, src: np.ndarray, dst: np.ndarray):
        dst[...] = src
        centre, error, high = _block_samples(dst, grid, stride)
        raised = error >= raise_from.as_type(error.dtype)
        carriers = error == carrier_at.as_type(error.dtype)
        flags = np.zeros(0, dtype=bool)
        if high >= top - 1:
            at_top = centre == top
            raised &= ~at_top
            np.add(centre, raised, out=centre, casting="unsafe")
            ambiguous = (centre == top) & selected
            carriers &= ~ambiguous
            flags = at_top[ambiguous]
        else:
            np.add(centre, raised, out=centre, casting="unsafe")
        _centres(dst, grid, stride)[...] = centre
        carried = [np.count_nonzero(plane) for plane in carriers]
        return [np.count_nonzero(plane) for plane in raised], carried, carriers.any(axis=0), flags

    out, parts = _map_slices(volume, fmt, embed_chunk, True, progress, workers)
    changed_per_slice = tuple(int(c) for p in parts for c in p[0])
    changed = sum(changed_per_slice)
    carried = tuple(int(c) for p in parts for c in p[1])
    covered = np.logical_or.reduce([p[2] for p in parts])
    distinct = int(np.unique(layout.bit_index[covered]).size) if covered.any() else 0
    needed = statistics.required_bits() if required_bits is None else int(required_bits)
    if distinct < needed:
        raise CapacityError(_capacity_message(distinct, needed, sum(carried), grid, slices), distinct, needed)
    side_info = pack_side_info(np.concatenate([p[3] for p in parts]))
    report = EmbedReport(
        slices=slices,
        blocks_per_slice=grid[0] * grid[1],
        selected_per_slice=int(np.count_nonzero(selected)),
        carriers=sum(carried),
        carriers_per_slice=carried,
        changed_per_slice=changed_per_slice,
        distinct_bits=distinct,
        required_bits=needed,
        voxels_changed=changed,
        max_change=1 if changed else 0,
        psnr_db=_psnr(changed, out.size, fmt),
        value_range=(fmt.low, fmt.high),
        side_info_bytes=len(side_info),
    )
    return Embedding(out, side_info, report, stride, (fmt.low, fmt.high))


def read_blocks(
    volume: np.ndarray,
    *,
    stride: int = DEFAULT_STRIDE,
    value_range: tuple[int, int] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> BlockReadout:
    """Read every block of `volume` once, for extraction under any number of keys."""
    codes, _ = _read_codes(volume, stride, value_range, progress, workers)
    return BlockReadout(
        codes=codes, zeros_at=np.count_nonzero(codes == 0, axis=0), ones_at=np.count_nonzero(codes == 1, axis=0)
    )


def extract(
    volume: np.ndarray,
    key: SecretKey,
    *,
    stride: int = DEFAULT_STRIDE,
    value_range: tuple[int, int] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Extraction:
    """Read the watermark votes of `key` from `volume` (any subset of slices, in any order)."""

    def vote(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _slice_votes(codes, carrier_layout(key, codes.shape[1:]))

    _, votes = _read_codes(volume, stride, value_range, progress, workers, vote)
    return Extraction(zeros=np.concatenate([v[0] for v in votes]), ones=np.concatenate([v[1] for v in votes]))


def restore(
    volume: np.ndarray,
    key: SecretKey,
    side_info: bytes,
    *,
    stride: int = DEFAULT_STRIDE,
    value_range: tuple[int, int] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> np.ndarray:
    """The original of a watermarked `volume`, bit for bit, given the key, side information and embedding parameters."""
    flags = unpack_side_info(side_info)
    fmt = voxel_format(volume, value_range)
    slices, rows, cols = as_stack(volume).shape
    grid = block_grid(rows, cols, stride)
    selected = carrier_layout(key, grid).selected
    top = fmt.high
    lower_from = _GridThreshold(np.where(selected, 1, _NEVER))

    def restore_chunk(start: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        dst[...] = src
        centre, error, high = _block_samples(dst, grid, stride)
        lowered = error >= lower_from.as_type(error.dtype)
        ambiguous = np.zeros(0, dtype=np.intp)
        if high >= top:
            at_top = (centre == top) & selected
            lowered &= ~at_top
            ambiguous = np.flatnonzero(at_top) + start * grid[0] * grid[1]
        np.subtract(centre, lowered, out=centre, casting="unsafe")
        _centres(dst, grid, stride)[...] = centre
        return ambiguous

    out, parts = _map_slices(volume, fmt, restore_chunk, True, progress, workers)
    ambiguous = np.concatenate(parts)
    if ambiguous.size != flags.size:
        raise SideInfoError(
            f"the side information describes {flags.size} saturated carrier blocks but this volume has "
            f"{ambiguous.size}: it belongs to another volume or another key"
        )
    if ambiguous.size:
        s, i, j = np.unravel_index(ambiguous, (slices,) + grid)
        as_stack(out)[s, 1 + i * stride, 1 + j * stride] = np.where(flags, top, top - 1)
    return out


def pack_side_info(flags: np.ndarray) -> bytes:
    """Serialise the restoration bits: magic, count, then the bits packed and deflated."""
    body = zlib.compress(np.packbits(flags.astype(bool)).tobytes(), 9)
    return _SIDE_INFO_MAGIC + struct.pack("<Q", flags.size) + body


def unpack_side_info(side_info: bytes) -> np.ndarray:
    """Inverse of `pack_side_info`; refuses anything that is not side information written by this engine."""
    if not isinstance(side_info, (bytes, bytearray)) or side_info[:4] != _SIDE_INFO_MAGIC or len(side_info) < 12:
        raise SideInfoError("this is not ParomaWatermark side information (it must come from the embedding's record)")
    (count,) = struct.unpack("<Q", side_info[4:12])
    try:
        packed = np.frombuffer(zlib.decompress(side_info[12:]), dtype=np.uint8)
    except zlib.error as exc:
        raise SideInfoError(f"the side information is corrupt ({exc}); restore it from the ledger record") from None
    if packed.size != (count + 7) // 8:
        raise SideInfoError("the side information is truncated or corrupt; restore it from the ledger record")
    return np.unpackbits(packed, count=count).astype(bool)


def _read_codes(
    volume: np.ndarray,
    stride: int,
    value_range: tuple[int, int] | None,
    progress: Progress | None,
    workers: int | None,
    each_chunk: Callable[[np.ndarray], T] | None = None,
) -> tuple[np.ndarray, list[T | None]]:
    """Block codes of a volume (0, 1: a readable bit; 2: nothing to read), and `each_chunk` of each chunk's codes."""
    fmt = voxel_format(volume, value_range)
    slices, rows, cols = as_stack(volume).shape
    grid = block_grid(rows, cols, stride)
    codes = np.empty((slices,) + grid, dtype=np.uint8)
    top = fmt.high

    def read_chunk(start: int, src: np.ndarray, dst: None) -> T | None:
        centre, error, high = _block_samples(src, grid, stride)
        # Seen as unsigned, negative errors are huge, so one minimum maps every error outside {0, 1} to 2.
        unsigned = error.view(np.dtype(f"u{error.dtype.itemsize}"))
        block = codes[start : start + len(src)]
        np.minimum(unsigned, _UNREADABLE, out=block, casting="unsafe")
        if high >= top:
            block[centre == top] = _UNREADABLE
        return None if each_chunk is None else each_chunk(block)

    return codes, _map_slices(volume, fmt, read_chunk, False, progress, workers)[1]


def _map_slices(
    volume: np.ndarray,
    fmt: VoxelFormat,
    work: Callable[[int, np.ndarray, np.ndarray | None], T],
    output: bool,
    progress: Progress | None,
    workers: int | None,
) -> tuple[np.ndarray | None, list[T]]:
    """Run `work(first slice, source, destination)` over chunks of slices, in the engine's native integer type.

    With `output`, returns a new volume in the caller's type and shape that `work` fills through its destination
    (a view of it, or a native buffer converted back per chunk); the input is never written.
    """
    stack = as_stack(volume)
    out = np.empty(stack.shape, dtype=fmt.dtype) if output else None
    in_place = fmt.dtype == fmt.work_dtype

    def run(start: int, stop: int) -> T:
        src = working_chunk(stack[start:stop], fmt)
        if out is None:
            return work(start, src, None)
        dst = out[start:stop] if in_place else np.empty_like(src)
        result = work(start, src, dst)
        if not in_place:
            out[start:stop] = dst
        return result

    results = run_chunks(run, stack.shape[0], stack.shape[1] * stack.shape[2], progress, workers)
    return (None if out is None else out.reshape(volume.shape)), results


_VOTE_WEIGHTS = np.array([1 << 16, 1, 0], dtype=np.int32)
"""A code's vote packed in one integer: a 0 counts in the high 16 bits, a 1 in the low ones, 2 not at all.

Sums stay exact while no bit has 65,536 carriers in one slice, which would take a slice of over 33 million blocks.
"""


def _slice_votes(codes: np.ndarray, layout: CarrierLayout) -> tuple[np.ndarray, np.ndarray]:
    """Votes for 0 and for 1 per slice and watermark bit, from block codes (slices, grid rows, grid columns)."""
    slices = codes.shape[0]
    zeros = np.zeros((slices, WATERMARK_BITS), dtype=np.int64)
    ones = np.zeros((slices, WATERMARK_BITS), dtype=np.int64)
    if layout.by_bit.size:
        weights = _VOTE_WEIGHTS[np.take(codes.reshape(slices, -1), layout.by_bit, axis=1)]
        packed = np.add.reduceat(weights, layout.bit_starts, axis=1)
        zeros[:, layout.bits_carried] = packed >> 16
        ones[:, layout.bits_carried] = packed & 0xFFFF
    return zeros, ones


_NEVER = np.iinfo(np.int64).max


class _GridThreshold:
    """A per-block-position threshold on prediction errors, in the error's own integer type (one conversion per type).

    `_NEVER` becomes the type's largest value, which no prediction error reaches: errors lie strictly inside half the
    range of the type they are computed in.
    """

    def __init__(self, values: np.ndarray) -> None:
        self._values = values
        self._typed: dict[np.dtype, np.ndarray] = {}

    def as_type(self, dtype: np.dtype) -> np.ndarray:
        if dtype not in self._typed:
            self._typed[dtype] = np.minimum(self._values, np.iinfo(dtype).max).astype(dtype)
        return self._typed[dtype]


def _centres(stack: np.ndarray, grid: tuple[int, int], stride: int) -> np.ndarray:
    rows, cols = grid
    return stack[:, 1 : (rows - 1) * stride + 2 : stride, 1 : (cols - 1) * stride + 2 : stride]


def _block_samples(stack: np.ndarray, grid: tuple[int, int], stride: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The block centres (a contiguous copy), their prediction errors c - floor((N+S+E+W)/4), and the largest sample.

    The five samples of every block are gathered once into contiguous planes. The arithmetic stays in the volume's own
    integer width when the values leave room for a sum of four (CT and MR nearly always do), else it widens.
    """
    rows, cols = grid
    last_r, last_c = (rows - 1) * stride, (cols - 1) * stride
    samples = np.empty((5, stack.shape[0], rows, cols), dtype=stack.dtype)
    samples[0] = stack[:, 0 : last_r + 1 : stride, 1 : last_c + 2 : stride]
    samples[1] = stack[:, 2 : last_r + 3 : stride, 1 : last_c + 2 : stride]
    samples[2] = stack[:, 1 : last_r + 2 : stride, 0 : last_c + 1 : stride]
    samples[3] = stack[:, 1 : last_r + 2 : stride, 2 : last_c + 3 : stride]
    samples[4] = stack[:, 1 : last_r + 2 : stride, 1 : last_c + 2 : stride]
    low, high = int(samples.min()), int(samples.max())
    room = 2 ** (8 * stack.dtype.itemsize - 3)
    if -room <= low and high < room:
        arithmetic = samples.view(np.dtype(f"i{stack.dtype.itemsize}"))
    else:
        arithmetic = samples.astype(np.dtype(f"i{min(8, 2 * stack.dtype.itemsize)}"))
    error = arithmetic[0] + arithmetic[1]
    error += arithmetic[2]
    error += arithmetic[3]
    error >>= 2
    np.subtract(arithmetic[4], error, out=error)
    return samples[4], error, high


def _checked_watermark(watermark: np.ndarray) -> np.ndarray:
    bits = np.asarray(watermark)
    if bits.shape != (WATERMARK_BITS,) or not np.isin(bits, (0, 1)).all():
        raise ValueError(f"the watermark is {WATERMARK_BITS} bits (0 or 1), got an array of shape {bits.shape}")
    return bits.astype(np.uint8)


def _check_stride(stride: int) -> None:
    if not isinstance(stride, (int, np.integer)) or stride < 3:
        raise ValueError(f"the block stride must be an integer of at least 3 (blocks may not overlap), got {stride!r}")


def _psnr(changed: int, voxels: int, fmt: VoxelFormat) -> float:
    if changed == 0:
        return math.inf
    return 10 * math.log10(fmt.span**2 * voxels / changed)


def _capacity_message(distinct: int, needed: int, carriers: int, grid: tuple[int, int], slices: int) -> str:
    return (
        f"the volume can carry only {distinct} of the {needed} distinct watermark bits a leak check needs "
        f"({carriers} carrier blocks found in {slices} slice(s) of {grid[0]}x{grid[1]} blocks): it is too small, "
        "too noisy or too saturated; watermark a larger volume (more slices or a bigger field of view)"
    )
