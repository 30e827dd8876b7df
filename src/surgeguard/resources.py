"""Resource guards: estimate memory before a large allocation and refuse it with one line.

A computation whose size the user controls (paths per OD pair, nodes of a synthetic topology,
forecast horizons) estimates the bytes it will hold *before* allocating them and calls
:func:`check_memory`, which compares the estimate with the memory the machine has available
(:func:`available_memory_bytes`: ``MemAvailable`` of ``/proc/meminfo``, else ``psutil``) and raises
:class:`~surgeguard.ValidationError` when the estimate exceeds :data:`MEMORY_SAFETY` of it::

    gravity traffic of 96 steps x 50,000 x 50,000 nodes needs about 5.3 TiB but 22.7 GiB are available; use ...

rather than letting numpy die with ``MemoryError`` (or the kernel's OOM killer end the process) after
minutes of work. Estimates are deliberately rough (they count the large arrays, not every
temporary); the safety factor covers the rest. Where the available memory cannot be read the
check passes.

>>> format_bytes(3 * 2**30)
'3.0 GiB'
>>> format_bytes(1536)
'1.5 KiB'
>>> format_count(4620000)
'4,620,000'
>>> check_memory(1024, "a tiny array", "nothing to fix")   # far below any machine's memory
"""

from __future__ import annotations

import math

from .exceptions import ValidationError

__all__ = ["available_memory_bytes", "check_memory", "format_bytes", "format_count", "MEMORY_SAFETY"]

#: An estimate is refused above this share of the available memory (the estimates count the large
#: arrays only; temporaries, the interpreter and other processes need the rest).
MEMORY_SAFETY = 0.8

_MEMINFO = "/proc/meminfo"


def available_memory_bytes() -> int | None:
    """Memory available to new allocations, in bytes: ``MemAvailable`` of ``/proc/meminfo``, else
    ``psutil.virtual_memory().available`` where psutil is installed, else None (unknown)."""
    try:
        with open(_MEMINFO, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    parts = line.split()
                    unit = parts[2].lower() if len(parts) > 2 else "kb"
                    return int(parts[1]) * (1024 if unit == "kb" else 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil  # lazy: optional; only where /proc/meminfo is missing (macOS, Windows)
    except ImportError:
        return None
    try:
        return int(psutil.virtual_memory().available)
    except Exception:  # pragma: no cover - psutil could not read the figure
        return None


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units with one decimal: '512 B', '1.5 KiB', '18.6 GiB'."""
    n = float(n)
    if not math.isfinite(n):
        return f"{n} B"
    if abs(n) < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        n /= 1024.0
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:,.1f} {unit}"
    return f"{n:,.1f} PiB"  # pragma: no cover - the loop returns


def format_count(n: float) -> str:
    """A count with thousands separators ('4,620,000'); very large counts in scientific form."""
    n = float(n)
    if not math.isfinite(n) or abs(n) >= 1e15:
        return f"{n:.3g}"
    return f"{int(round(n)):,}"


def check_memory(n_bytes: float, what: str, fix: str) -> None:
    """Raise :class:`~surgeguard.ValidationError` when ``n_bytes`` (an estimate) exceeds
    :data:`MEMORY_SAFETY` of the available memory.

    The message is one line: ``"<what> needs about X GiB but Y GiB are available; <fix>"``.
    Nothing is checked when the available memory is unknown.
    """
    n_bytes = float(n_bytes)
    avail = available_memory_bytes()
    if avail is None:
        return
    if not math.isfinite(n_bytes) or n_bytes > MEMORY_SAFETY * avail:
        raise ValidationError(f"{what} needs about {format_bytes(n_bytes)} but {format_bytes(avail)} are available; "
                              f"{fix}")

