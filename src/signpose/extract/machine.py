"""The machine a run computed on: bitwise equality is promised only between machines of
the same arithmetic (CPU family and vector extensions; the GPU for GPU estimators)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

# The extensions that change floating-point kernels (what XNNPACK, OpenCV, BLAS dispatch on).
VECTOR_EXTENSIONS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile", "neon", "asimd", "sve")


def _cpuinfo() -> dict[str, str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def describe_machine() -> dict[str, Any]:
    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    return {
        "cpu": info.get("model name") or info.get("Model") or platform.processor() or platform.machine(),
        "architecture": platform.machine(),
        "cores": os.cpu_count(),
        "vector_extensions": [name for name in VECTOR_EXTENSIONS if name in flags],
        "system": f"{platform.system()} {platform.release()}",
    }
