"""A minimal reader of TFLite flatbuffers (only what the six Holistic networks use).

Field slots follow tensorflow/lite/schema/schema.fbs; the `flatbuffers` runtime package (a
dependency of LiteRT and of mediapipe) does the low-level table access. Constant sub-expressions
(DEQUANTIZE of fp16 weights, DENSIFY of sparse weights) are folded here, so the model that
comes out holds only fp32 (or int32) constants and the runtime ops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

# BuiltinOperator codes (schema.fbs)
OPS = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE", 6: "DEQUANTIZE", 9: "FULLY_CONNECTED", 14: "LOGISTIC",
    17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 21: "RELU6", 22: "RESHAPE",
    23: "RESIZE_BILINEAR", 34: "PAD", 39: "TRANSPOSE", 40: "MEAN", 45: "STRIDED_SLICE",
    54: "PRELU", 67: "TRANSPOSE_CONV", 124: "DENSIFY",
}
# TensorType
DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}


def _root(buf: bytes) -> Table:
    off = N.UOffsetTFlags.py_type(int.from_bytes(buf[0:4], "little"))
    return Table(buf, off)


def _off(t: Table, slot: int) -> int:
    return t.Offset(4 + 2 * slot)


def _scalar(t: Table, slot: int, flags, default):
    o = _off(t, slot)
    return t.Get(flags, o + t.Pos) if o else default


def _vec_np(t: Table, slot: int, flags) -> np.ndarray | None:
    o = _off(t, slot)
    if not o:
        return None
    return t.GetVectorAsNumpy(flags, o)


def _vec_tables(t: Table, slot: int) -> list[Table]:
    o = _off(t, slot)
    if not o:
        return []
    n = t.VectorLen(o)
    start = t.Vector(o)
    out = []
    for i in range(n):
        x = start + i * 4
        out.append(Table(t.Bytes, t.Indirect(x)))
    return out


def _table(t: Table, slot: int) -> Table | None:
    o = _off(t, slot)
    if not o:
        return None
    return Table(t.Bytes, t.Indirect(o + t.Pos))


def _string(t: Table, slot: int) -> str:
    o = _off(t, slot)
    return t.String(o + t.Pos).decode() if o else ""


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: type
    data: np.ndarray | None  # constant value (already in `dtype`, shaped), or None


@dataclass
class Op:
    kind: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class Graph:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    folded: dict = field(default_factory=dict)  # op kind -> count folded at load time


def _opts(kind: str, t: Table | None) -> dict:
    """Builtin options of the ops used here (slot numbers from schema.fbs)."""
    if t is None:
        return {}
    i8, i32, b = N.Int8Flags, N.Int32Flags, N.BoolFlags
    if kind == "CONV_2D":
        return dict(padding=_scalar(t, 0, i8, 0), stride_w=_scalar(t, 1, i32, 0),
                    stride_h=_scalar(t, 2, i32, 0), act=_scalar(t, 3, i8, 0),
                    dil_w=_scalar(t, 4, i32, 1), dil_h=_scalar(t, 5, i32, 1))
    if kind == "DEPTHWISE_CONV_2D":
        return dict(padding=_scalar(t, 0, i8, 0), stride_w=_scalar(t, 1, i32, 0),
                    stride_h=_scalar(t, 2, i32, 0), depth_multiplier=_scalar(t, 3, i32, 0),
                    act=_scalar(t, 4, i8, 0), dil_w=_scalar(t, 5, i32, 1),
                    dil_h=_scalar(t, 6, i32, 1))
    if kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        return dict(padding=_scalar(t, 0, i8, 0), stride_w=_scalar(t, 1, i32, 0),
                    stride_h=_scalar(t, 2, i32, 0), filter_w=_scalar(t, 3, i32, 0),
                    filter_h=_scalar(t, 4, i32, 0), act=_scalar(t, 5, i8, 0))
    if kind in ("ADD", "MUL"):
        return dict(act=_scalar(t, 0, i8, 0))
    if kind == "CONCATENATION":
        return dict(axis=_scalar(t, 0, i32, 0), act=_scalar(t, 1, i8, 0))
    if kind == "RESHAPE":
        v = _vec_np(t, 0, i32)
        return dict(new_shape=None if v is None else tuple(int(x) for x in v))
    if kind == "RESIZE_BILINEAR":
        return dict(align_corners=bool(_scalar(t, 2, b, False)),
                    half_pixel_centers=bool(_scalar(t, 3, b, False)))
    if kind == "FULLY_CONNECTED":
        return dict(act=_scalar(t, 0, i8, 0), weights_format=_scalar(t, 1, i8, 0),
                    keep_num_dims=bool(_scalar(t, 2, b, False)))
    if kind == "DEPTH_TO_SPACE":
        return dict(block_size=_scalar(t, 0, i32, 0))
    if kind == "STRIDED_SLICE":
        return dict(begin_mask=_scalar(t, 0, i32, 0), end_mask=_scalar(t, 1, i32, 0),
                    ellipsis_mask=_scalar(t, 2, i32, 0), new_axis_mask=_scalar(t, 3, i32, 0),
                    shrink_axis_mask=_scalar(t, 4, i32, 0), offset=bool(_scalar(t, 5, b, False)))
    if kind == "MEAN":
        return dict(keep_dims=bool(_scalar(t, 0, b, False)))
    if kind == "TRANSPOSE_CONV":
        return dict(padding=_scalar(t, 0, i8, 0), stride_w=_scalar(t, 1, i32, 0),
                    stride_h=_scalar(t, 2, i32, 0), act=_scalar(t, 3, i8, 0))
    return {}


def _index_vector(t: Table | None, kind: int) -> np.ndarray:
    # SparseIndexVector union: 1 Int32Vector, 2 Uint16Vector, 3 Uint8Vector; values at slot 0
    flags = {1: N.Int32Flags, 2: N.Uint16Flags, 3: N.Uint8Flags}[kind]
    return _vec_np(t, 0, flags).astype(np.int64)


def _densify(values: np.ndarray, shape: tuple[int, ...], sp: Table) -> np.ndarray:
    """TFLite sparse tensor (traversal order, block map, DENSE/CSR dimension metadata) → dense."""
    order = _vec_np(sp, 0, N.Int32Flags)
    order = [] if order is None else [int(x) for x in order]
    bmap = _vec_np(sp, 1, N.Int32Flags)
    bmap = [] if bmap is None else [int(x) for x in bmap]
    metas = _vec_tables(sp, 2)
    rank = len(shape)
    # expand level by level; `pos` is the position in the current level's storage
    pos = np.zeros(1, dtype=np.int64)
    coords: list[np.ndarray] = []
    sizes = []
    for m in metas:
        fmt = _scalar(m, 0, N.Int8Flags, 0)
        if fmt == 0:  # DENSE
            d = _scalar(m, 1, N.Int32Flags, 0)
            sizes.append(d)
            ar = np.arange(d, dtype=np.int64)
            coords = [np.repeat(c, d) for c in coords] + [np.tile(ar, len(pos))]
            pos = (pos[:, None] * d + ar[None, :]).reshape(-1)
        else:  # SPARSE_CSR
            seg = _index_vector(_table(m, 3), _scalar(m, 2, N.Uint8Flags, 0))
            idx = _index_vector(_table(m, 5), _scalar(m, 4, N.Uint8Flags, 0))
            sizes.append(None)
            counts = seg[pos + 1] - seg[pos]
            starts = np.repeat(seg[pos], counts)
            offs = np.arange(counts.sum(), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
            newpos = starts + offs
            coords = [np.repeat(c, counts) for c in coords] + [idx[newpos]]
            pos = newpos
    assert len(pos) == values.size, (len(pos), values.size)
    # map traversal coordinates to dense coordinates
    if not order:
        order = list(range(len(metas)))
    dense_idx = [coords[order.index(d)] for d in range(rank)]
    for k, dim in enumerate(bmap):
        p = order.index(rank + k)
        dense_idx[dim] = dense_idx[dim] * sizes[p] + coords[p]
    out = np.zeros(shape, dtype=values.dtype)
    out[tuple(dense_idx)] = values.reshape(-1)
    return out


def read(buf: bytes, path: str = "model") -> Graph:
    """The graph of a .tflite file's bytes (``path`` names it in errors)."""
    model = _root(buf)
    codes = []
    for oc in _vec_tables(model, 1):
        dep = _scalar(oc, 0, N.Int8Flags, 0)
        code = _scalar(oc, 3, N.Int32Flags, 0)
        code = max(int(dep), int(code))
        if code not in OPS:
            raise ValueError(f"{path}: unsupported TFLite op code {code}")
        codes.append(OPS[code])
    buffers = _vec_tables(model, 4)
    subgraphs = _vec_tables(model, 2)
    if len(subgraphs) != 1:
        raise ValueError(f"{path}: expected one subgraph, found {len(subgraphs)}")
    g = subgraphs[0]
    tensors: list[Tensor] = []
    sparse: dict[int, Table] = {}
    for i, t in enumerate(_vec_tables(g, 0)):
        shape = _vec_np(t, 0, N.Int32Flags)
        shape = () if shape is None else tuple(int(x) for x in shape)
        dtype = DTYPES[_scalar(t, 1, N.Int8Flags, 0)]
        bidx = _scalar(t, 2, N.Uint32Flags, 0)
        data = None
        if bidx:
            b = buffers[bidx]
            raw = _vec_np(b, 0, N.Uint8Flags)
            if raw is None or raw.size == 0:
                boff = _scalar(b, 1, N.Uint64Flags, 0)
                bsize = _scalar(b, 2, N.Uint64Flags, 0)
                if bsize:
                    raw = np.frombuffer(buf, dtype=np.uint8, count=bsize, offset=boff)
            if raw is not None and raw.size:
                data = np.frombuffer(raw.tobytes(), dtype=dtype)
        sp = _table(t, 6)
        if sp is not None:
            sparse[i] = sp
        elif data is not None:
            data = data.reshape(shape)
        tensors.append(Tensor(_string(t, 3), shape, dtype, data))
    ops: list[Op] = []
    for o in _vec_tables(g, 3):
        kind = codes[_scalar(o, 0, N.Uint32Flags, 0)]
        ins = [int(x) for x in (_vec_np(o, 1, N.Int32Flags) if _off(o, 1) else [])]
        outs = [int(x) for x in (_vec_np(o, 2, N.Int32Flags) if _off(o, 2) else [])]
        ops.append(Op(kind, ins, outs, _opts(kind, _table(o, 4))))
    # fold constants: DENSIFY (sparse weights) and DEQUANTIZE (fp16 weights)
    runtime: list[Op] = []
    folded: dict[str, int] = {}
    for op in ops:
        src = tensors[op.inputs[0]] if op.inputs else None
        if op.kind == "DENSIFY":
            dst = tensors[op.outputs[0]]
            dst.data = _densify(src.data, dst.shape, sparse[op.inputs[0]])
        elif op.kind == "DEQUANTIZE" and src.data is not None:
            dst = tensors[op.outputs[0]]
            if src.dtype != np.float16:
                raise ValueError(f"{path}: only fp16 DEQUANTIZE is supported")
            dst.data = src.data.astype(np.float32).reshape(dst.shape)
        else:
            runtime.append(op)
            continue
        folded[op.kind] = folded.get(op.kind, 0) + 1
    gi = [int(x) for x in _vec_np(g, 1, N.Int32Flags)]
    go = [int(x) for x in _vec_np(g, 2, N.Int32Flags)]
    return Graph(tensors, runtime, gi, go, folded)
