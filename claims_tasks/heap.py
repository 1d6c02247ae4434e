"""Hand the heap's free pages back to the operating system after each task.

A pool process lives for hundreds of chunks. Each chunk allocates and frees tens of megabytes (COPY bytes,
polars frames, feature arrays, encrypted payloads), and glibc keeps freed memory in its arenas for reuse:
over a million claims the process's RSS climbed in steps (258 -> 292 MiB, docs/RELIABILITY.md) although
nothing it holds grows. malloc_trim(0) returns the free pages, so RSS follows what the process really
holds, and growth that remains is growth. A no-op where the C library is not glibc (musl, macOS).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def release_free_memory() -> bool:
    """Trim the heap; True when the C library had free memory to return."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
