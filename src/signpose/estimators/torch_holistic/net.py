"""Run a TFLite op list in PyTorch: batched, NCHW inside, fp32.

Activations of rank 4 (NHWC in TFLite) are kept NCHW; RESHAPE, CONCATENATION, PAD,
STRIDED_SLICE and MEAN translate their NHWC semantics. Rank-4 outputs are returned NHWC, as
TFLite gives them, with the batch dimension first.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import tflite

CACHE_VERSION = 1
_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "signpose" / "torch_holistic"


def _act(x: torch.Tensor, a: int) -> torch.Tensor:
    if a == 0:
        return x
    if a == 1:
        return torch.relu(x)
    if a == 3:
        return torch.clamp(x, 0.0, 6.0)
    if a == 2:
        return torch.clamp(x, -1.0, 1.0)
    if a == 4:
        return torch.tanh(x)
    raise ValueError(f"unsupported fused activation {a}")


def _same_pad(size: int, k: int, stride: int, dil: int) -> tuple[int, int]:
    out = (size + stride - 1) // stride
    eff = (k - 1) * dil + 1
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def _to_nchw_const(a: np.ndarray, other_rank: int) -> np.ndarray:
    """A constant operand broadcast against an activation of `other_rank` (NHWC semantics)."""
    if other_rank != 4:
        return a
    a = a.reshape((1,) * (4 - a.ndim) + a.shape)
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


def convert(graph: tflite.Graph) -> dict:
    """Turn the TFLite graph into a serialisable program: steps + constants in torch layout."""
    T = graph.tensors
    consts: dict[str, np.ndarray] = {}
    steps: list[dict] = []

    def const(arr: np.ndarray) -> str:
        key = f"c{len(consts)}"
        consts[key] = np.ascontiguousarray(arr)
        return key

    def rank(i: int) -> int:
        return len(T[i].shape)

    for op in graph.ops:
        k, ins, outs, o = op.kind, op.inputs, op.outputs, op.options
        s: dict = {"kind": k, "in": [i for i in ins if i >= 0 and T[i].data is None],
                   "out": outs[0]}
        if k in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            w = T[ins[1]].data.astype(np.float32)
            b = T[ins[2]].data.astype(np.float32) if len(ins) > 2 and ins[2] >= 0 else None
            _, ih, iw, ic = T[ins[0]].shape
            if k == "CONV_2D":
                wt = w.transpose(0, 3, 1, 2)  # O,KH,KW,I -> O,I,KH,KW
                groups = 1
            else:
                wt = w.transpose(3, 0, 1, 2)  # 1,KH,KW,C*M -> C*M,1,KH,KW
                groups = ic
            kh, kw = wt.shape[2], wt.shape[3]
            if o["padding"] == 0:  # SAME
                pt, pb = _same_pad(ih, kh, o["stride_h"], o["dil_h"])
                pl, pr = _same_pad(iw, kw, o["stride_w"], o["dil_w"])
            else:
                pt = pb = pl = pr = 0
            s.update(w=const(wt), b=None if b is None else const(b), groups=groups,
                     stride=(o["stride_h"], o["stride_w"]), dil=(o["dil_h"], o["dil_w"]),
                     pad=(pl, pr, pt, pb), act=o["act"])
        elif k in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            _, ih, iw, _ = T[ins[0]].shape
            if o["padding"] == 0:
                pt, pb = _same_pad(ih, o["filter_h"], o["stride_h"], 1)
                pl, pr = _same_pad(iw, o["filter_w"], o["stride_w"], 1)
            else:
                pt = pb = pl = pr = 0
            if k == "AVERAGE_POOL_2D" and (pt or pb or pl or pr):
                raise ValueError("AVERAGE_POOL_2D with SAME padding is not supported")
            s.update(kernel=(o["filter_h"], o["filter_w"]), stride=(o["stride_h"], o["stride_w"]),
                     pad=(pl, pr, pt, pb), act=o["act"])
        elif k in ("ADD", "MUL"):
            r = max(rank(i) for i in ins)
            s["operands"] = [("t", i) if T[i].data is None else
                             ("c", const(_to_nchw_const(T[i].data.astype(np.float32), r)))
                             for i in ins]
            s["act"] = o["act"]
        elif k == "PRELU":
            s["alpha"] = const(_to_nchw_const(T[ins[1]].data.astype(np.float32), rank(ins[0])))
        elif k == "PAD":
            p = T[ins[1]].data.astype(np.int64)
            if rank(ins[0]) == 4:
                s["pad"] = tuple(int(v) for v in (p[2, 0], p[2, 1], p[1, 0], p[1, 1], p[3, 0], p[3, 1]))
                assert p[0, 0] == 0 and p[0, 1] == 0
            else:
                s["pad"] = tuple(int(v) for row in p[::-1][:-1] for v in row)
        elif k == "RESHAPE":
            s["shape"] = list(T[outs[0]].shape[1:])
            s["in_rank"] = rank(ins[0])
            s["out_rank"] = len(T[outs[0]].shape)
        elif k == "CONCATENATION":
            r = rank(outs[0])
            ax = o["axis"] % r
            s["axis"] = _NHWC_TO_NCHW_AXIS[ax] if r == 4 else ax
            s["act"] = o["act"]
        elif k == "RESIZE_BILINEAR":
            size = T[ins[1]].data.astype(np.int64).tolist()
            s["size"] = size
            s["align_corners"] = o["align_corners"]
            s["half_pixel"] = o["half_pixel_centers"]
            if not s["half_pixel"] and not s["align_corners"]:
                raise ValueError("RESIZE_BILINEAR without half-pixel centres is not supported")
        elif k == "DEPTH_TO_SPACE":
            s["block"] = o["block_size"]
        elif k == "STRIDED_SLICE":
            if any(o[m] for m in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask")) or o["offset"]:
                raise ValueError("STRIDED_SLICE masks are not supported")
            b = T[ins[1]].data.tolist()
            e = T[ins[2]].data.tolist()
            st = T[ins[3]].data.tolist()
            shp = T[ins[0]].shape
            sl = []
            for d in range(len(shp)):
                bb = 0 if (o["begin_mask"] >> d) & 1 else b[d]
                ee = shp[d] if (o["end_mask"] >> d) & 1 else e[d]
                sl.append((bb, ee, st[d]))
            if sl[0] != (0, 1, 1):
                raise ValueError("STRIDED_SLICE over the batch dimension is not supported")
            if len(shp) == 4:
                sl = [sl[0], sl[3], sl[1], sl[2]]
            s["slices"] = sl[1:]
        elif k == "MEAN":
            axes = sorted(int(a) % rank(ins[0]) for a in T[ins[1]].data.reshape(-1))
            if rank(ins[0]) == 4:
                if axes != [1, 2]:
                    raise ValueError("MEAN only over H, W is supported")
                s["dims"] = [2, 3]
            else:
                s["dims"] = axes
            s["keep"] = o["keep_dims"]
            if s["keep"] and rank(ins[0]) == 4:
                pass  # stays NCHW with H = W = 1
        elif k == "FULLY_CONNECTED":
            if o["weights_format"] != 0 or o["keep_num_dims"]:
                raise ValueError("FULLY_CONNECTED options not supported")
            w = T[ins[1]].data.astype(np.float32)
            b = T[ins[2]].data.astype(np.float32) if len(ins) > 2 and ins[2] >= 0 else None
            s.update(w=const(w), b=None if b is None else const(b), act=o["act"],
                     in_rank=rank(ins[0]))
        elif k in ("LOGISTIC", "RELU", "RELU6"):
            pass
        else:
            raise ValueError(f"unsupported op {k}")
        steps.append(s)
    outs = [{"t": i, "rank": rank(i), "name": T[i].name} for i in graph.outputs]
    assert len(graph.inputs) == 1
    return {"version": CACHE_VERSION, "steps": steps, "consts": consts,
            "input": graph.inputs[0], "input_shape": list(T[graph.inputs[0]].shape),
            "outputs": outs}


def load_program(content: bytes, name: str = "model") -> dict:
    """Convert a .tflite file's bytes, through the on-disk cache keyed by their sha256."""
    digest = hashlib.sha256(content).hexdigest()
    cfile = cache_dir() / f"{digest}.v{CACHE_VERSION}.pt"
    if cfile.exists():
        try:
            prog = torch.load(cfile, weights_only=True)
            if prog.get("version") == CACHE_VERSION:
                return prog
        except Exception:  # noqa: BLE001 - a damaged cache entry is converted again
            pass
    prog = convert(tflite.read(content, name))
    saved = dict(prog)
    saved["consts"] = {k: torch.from_numpy(v) for k, v in prog["consts"].items()}
    try:
        cfile.parent.mkdir(parents=True, exist_ok=True)
        tmp = cfile.with_suffix(f".tmp{os.getpid()}")
        torch.save(saved, tmp)
        os.replace(tmp, cfile)
    except OSError:
        pass  # a read-only cache is not an error; convert again next time
    return saved


class TFLiteNet(torch.nn.Module):
    """One network: forward(x NCHW float32 [B, 3, H, W]) -> list of outputs in TFLite layout."""

    def __init__(self, program: dict, skip_outputs: tuple[int, ...] = ()):
        super().__init__()
        self.input_index = program["input"]
        self.input_shape = program["input_shape"]
        self.outputs = program["outputs"]
        self.skip_outputs = set(skip_outputs)
        # drop the ops that only feed skipped outputs (e.g. pose segmentation)
        need = {o["t"] for i, o in enumerate(self.outputs) if i not in self.skip_outputs}
        steps = []
        for s in reversed(program["steps"]):
            if s["out"] in need:
                steps.append(s)
                need.update(s["in"])
                need.update(i for t, i in s.get("operands", []) if t == "t")
        self.steps = steps[::-1]
        used = {k for s in self.steps for k in (s.get("w"), s.get("b"), s.get("alpha"))}
        used.update(i for s in self.steps for t, i in s.get("operands", []) if t == "c")
        for k, v in program["consts"].items():
            if k not in used:
                continue
            t = v if isinstance(v, torch.Tensor) else torch.from_numpy(v)
            self.register_buffer(k, t.clone(), persistent=False)

    def _c(self, key):
        return None if key is None else getattr(self, key)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        vals: dict[int, torch.Tensor] = {self.input_index: x}
        B = x.shape[0]
        for s in self.steps:
            k = s["kind"]
            a = vals[s["in"][0]] if s["in"] else None
            if k in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                pl, pr, pt, pb = s["pad"]
                if pl == pr and pt == pb:
                    y = F.conv2d(a, self._c(s["w"]), self._c(s["b"]), s["stride"], (pt, pl),
                                 s["dil"], s["groups"])
                else:
                    y = F.conv2d(F.pad(a, (pl, pr, pt, pb)), self._c(s["w"]), self._c(s["b"]),
                                 s["stride"], 0, s["dil"], s["groups"])
                y = _act(y, s["act"])
            elif k == "MAX_POOL_2D":
                pl, pr, pt, pb = s["pad"]
                if pl or pr or pt or pb:
                    a = F.pad(a, (pl, pr, pt, pb), value=float("-inf"))
                y = _act(F.max_pool2d(a, s["kernel"], s["stride"]), s["act"])
            elif k == "AVERAGE_POOL_2D":
                y = _act(F.avg_pool2d(a, s["kernel"], s["stride"]), s["act"])
            elif k in ("ADD", "MUL"):
                p, q = [vals[i] if t == "t" else self._c(i) for t, i in s["operands"]]
                y = _act(p + q if k == "ADD" else p * q, s["act"])
            elif k == "PRELU":
                y = torch.where(a >= 0, a, a * self._c(s["alpha"]))
            elif k == "RELU":
                y = torch.relu(a)
            elif k == "RELU6":
                y = torch.clamp(a, 0.0, 6.0)
            elif k == "LOGISTIC":
                y = torch.sigmoid(a)
            elif k == "PAD":
                y = F.pad(a, s["pad"])
            elif k == "RESHAPE":
                if s["in_rank"] == 4:
                    a = a.permute(0, 2, 3, 1)
                y = a.reshape([B] + s["shape"])
                if s["out_rank"] == 4:
                    y = y.permute(0, 3, 1, 2)
                y = y.contiguous()
            elif k == "CONCATENATION":
                y = _act(torch.cat([vals[i] for i in s["in"]], dim=s["axis"]), s["act"])
            elif k == "RESIZE_BILINEAR":
                y = F.interpolate(a, size=s["size"], mode="bilinear",
                                  align_corners=s["align_corners"])
            elif k == "DEPTH_TO_SPACE":
                bs = s["block"]
                _, C, H, W = a.shape
                co = C // (bs * bs)
                y = a.reshape(B, bs, bs, co, H, W).permute(0, 3, 4, 1, 5, 2)
                y = y.reshape(B, co, H * bs, W * bs)
            elif k == "STRIDED_SLICE":
                idx = (slice(None),) + tuple(slice(b, e, st) for b, e, st in s["slices"])
                y = a[idx].contiguous()
            elif k == "MEAN":
                y = a.mean(dim=s["dims"], keepdim=s["keep"])
            elif k == "FULLY_CONNECTED":
                if s["in_rank"] == 4:
                    a = a.permute(0, 2, 3, 1)
                a = a.reshape(B, -1)
                y = _act(F.linear(a, self._c(s["w"]), self._c(s["b"])), s["act"])
            else:  # pragma: no cover - convert() rejects these
                raise ValueError(k)
            vals[s["out"]] = y
        res = []
        for i, o in enumerate(self.outputs):
            if i in self.skip_outputs:
                res.append(None)
                continue
            v = vals[o["t"]]
            res.append(v.permute(0, 2, 3, 1) if o["rank"] == 4 else v)
        return res


def ops_used(content: bytes) -> dict[str, dict[str, int]]:
    """Ops of a .tflite file: those run, and those folded into constants at load time."""
    import collections

    g = tflite.read(content)
    run = collections.Counter(op.kind for op in g.ops)
    return {"run": dict(run), "folded_at_load": dict(g.folded)}
