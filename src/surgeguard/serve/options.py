"""The command line's checks of its own options and outputs, each failing in one line (exit 2).

* :func:`in_range`: a Typer callback checking a number against a declared
  :class:`~surgeguard.validation.Interval` (NaN, infinities and 1e308 where a bounded number is
  needed are refused: ``error: option --k must be an int in [1, inf); got 0``). The handler in
  :mod:`surgeguard.serve.cli` gives parsing errors (``--k 1.5``) the same form, reading the range
  from the callback's ``constraint``.
* :func:`number_list`, :func:`thresholds`: comma-separated numbers.
* :func:`check_device`: torch device names (``cpu``, ``cuda``, ``cuda:N``, ``mps``).
* :func:`claim_output_dir`, :func:`claim_output_file`: an output checked before the work starts
  (:mod:`surgeguard.io.output`); the handler words a failing write to it as a write, and removes
  folders the command created and left empty when it fails.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Callable, Sequence

import typer

from ..exceptions import ValidationError
from ..io.output import check_output_dir, check_output_file
from ..validation import Interval

__all__ = ["OptionError", "in_range", "option_message", "number_list", "thresholds", "check_device",
           "claim_output_dir", "claim_output_file", "claimed_outputs", "reset_outputs", "remove_empty_outputs",
           "check_step", "check_steps",
           "FORCE_HELP", "AT_LEAST_ONE", "NON_NEGATIVE_INT", "POSITIVE", "UTILISATION", "TIME_LIMIT_HELP"]

#: the help of every command's ``--force``
FORCE_HELP = "replace output files that already exist"


class OptionError(ValidationError):
    """A command-line option has a value the command refuses; the message names the option."""


def _shown(value) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return repr(value) if isinstance(value, str) else str(value)


def option_message(option: str, need: str, value) -> str:
    """``option --k must be an int in [1, inf); got 0``: the option, the fix and the value."""
    return f"option {option} must be {need}; got {_shown(value)}"


def _flag(param) -> str:
    opts = [o for o in getattr(param, "opts", []) if o.startswith("--")] or list(getattr(param, "opts", []))
    return opts[0] if opts else f"--{param.name.replace('_', '-')}"


def in_range(kind: type, low: float | None = None, high: float | None = None, closed: str = "both",
             *, extra: Callable[[object], str | None] | None = None):
    """A Typer option callback: the value (None passes) must lie in ``Interval(kind, low, high, closed)``.

    ``extra(value)`` may return a further complaint (a sentence: what to give instead).
    The callback keeps the interval as ``.constraint`` (the CLI's handler reads it to word a
    parsing error the same way).
    """
    interval = Interval(kind, low, high, closed)

    def check(ctx: typer.Context, param: typer.CallbackParam, value):
        if value is None or ctx.resilient_parsing:
            return value
        if not interval.accepts(value):
            raise OptionError(option_message(_flag(param), interval.describe(), value))
        if extra is not None:
            msg = extra(value)
            if msg:
                raise OptionError(f"option {_flag(param)}: {msg}; got {_shown(value)}")
        return value

    check.constraint = interval
    return check


def number_list(text: str | None, option: str, *, kind: type = float, low: float | None = None,
                high: float | None = None, closed: str = "both", example: str = "0,0.3,0.6") -> list | None:
    """Comma-separated numbers of one kind and range (None for None); one-line errors naming ``option``."""
    if text is None:
        return None
    interval = Interval(kind, low, high, closed)
    need = f"comma-separated {'ints' if interval.kind is int else 'numbers'}" + \
           (f" in {interval.describe().split(' in ', 1)[1]}" if low is not None or high is not None else "") + \
           f", e.g. {example}"
    parts = [x.strip() for x in text.split(",")]
    if not any(parts):
        raise OptionError(option_message(option, need, text))
    out = []
    for x in parts:
        if not x:
            raise OptionError(option_message(option, need, text))
        try:
            v = int(x) if interval.kind is int else float(x)
        except ValueError:
            raise OptionError(option_message(option, need, text)) from None
        if not interval.accepts(v):
            raise OptionError(option_message(option, need, text))
        out.append(v)
    return out


def thresholds(text: str, option: str = "--thresholds") -> list[float]:
    """``warning,critical`` utilisations: two numbers in (0, 1], the warning below the critical."""
    need = "two utilisations warning,critical in (0, 1] with the warning below the critical, e.g. 0.7,0.9"
    vals = number_list(text, option, low=0, high=1, closed="right", example="0.7,0.9")
    if len(vals) != 2 or not vals[0] < vals[1]:
        raise OptionError(option_message(option, need, text))
    return vals


_DEVICE = re.compile(r"cpu|mps|cuda(:\d+)?")


def check_device(device: str, option: str = "--device") -> str:
    """A torch device name (``cpu``, ``cuda``, ``cuda:N``, ``mps``) that this machine has."""
    name = device.strip().lower()
    if not _DEVICE.fullmatch(name):
        raise OptionError(option_message(option, "cpu, cuda, cuda:N or mps", device))
    if name == "cpu":
        return name
    import torch  # lazy: only a GPU device needs torch here
    if name.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= count:
            raise OptionError(f"option {option} {device!r}: PyTorch sees {count} CUDA device(s) here; "
                              f"use {'cpu' if count == 0 else 'cuda:0' + (f'..cuda:{count - 1}' if count > 1 else '')}")
    elif not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise OptionError(f"option {option} 'mps': PyTorch sees no Apple GPU here; use cpu")
    return name


# ---------------------------------------------------------------------------------------------- outputs
#: outputs claimed by the running command: (path, nearest existing ancestor when it did not exist)
_OUTPUTS: list[tuple[Path, Path | None]] = []


def reset_outputs() -> None:
    """Forget the outputs of an earlier command (the handler calls it when a command starts)."""
    _OUTPUTS.clear()


def claimed_outputs() -> list[Path]:
    """The outputs the running command checked (and will write)."""
    return [p for p, _ in _OUTPUTS]


def _claim(p: Path) -> Path:
    q = p
    while not os.path.lexists(q) and q.parent != q:
        q = q.parent
    _OUTPUTS.append((p, None if q == p else q))
    return p


def claim_output_dir(path, option: str, *, files: Sequence[str] = (), force: bool = False) -> Path | None:
    """:func:`~surgeguard.io.output.check_output_dir` for a command's folder option (None passes)."""
    if path is None:
        return None
    return _claim(check_output_dir(path, files=files, force=force, what=f"{option} folder"))


def claim_output_file(path, option: str, *, force: bool = False) -> Path | None:
    """:func:`~surgeguard.io.output.check_output_file` for a command's file option (None passes)."""
    if path is None:
        return None
    return _claim(check_output_file(path, force=force, what=f"{option} file"))


def remove_empty_outputs() -> None:
    """After a failed command: remove the folders it created for its outputs that are still empty
    (never a file, never a folder that existed before or holds anything)."""
    for p, existing in _OUTPUTS:
        if existing is None:
            continue
        folder = p if p.is_dir() else p.parent
        while folder != existing and folder.is_dir():
            try:
                os.rmdir(folder)  # only succeeds when empty
            except OSError:
                break
            folder = folder.parent


# ---------------------------------------------------------------------------------------------- steps
def check_step(at: int | None, n: int, option: str = "--at") -> int | None:
    """A step of a series of ``n`` steps (negative counts from the end), as a 0-based index."""
    if at is None:
        return None
    if not -n <= at < n:
        raise OptionError(option_message(option, f"a step of the series' {n} steps, an int in [{-n}, {n - 1}]", at))
    return at % n


def check_steps(start: int, stop: int | None, n: int, *, start_option: str = "--start",
                stop_option: str = "--stop") -> None:
    """``start`` (and ``stop`` when given) within a series of ``n`` steps, in order."""
    if stop is not None and start >= stop:
        raise OptionError(f"options {start_option} {start} and {stop_option} {stop} are reversed or empty; "
                          f"give {start_option} below {stop_option}")
    if not 0 <= start < n:
        raise OptionError(option_message(start_option, f"a step of the series' {n} steps, an int in [0, {n - 1}]",
                                         start))
    if stop is not None and stop > n:
        raise OptionError(option_message(stop_option, f"at most the series' {n} steps, an int in [{start + 1}, {n}]",
                                         stop))


# ------------------------------------------------------------------------------- shared option ranges
#: ``--k``, ``--top``, ``--epochs``, ...: a whole number >= 1
AT_LEAST_ONE = in_range(int, 1)
#: ``--start``, ``--seed``: a whole number >= 0
NON_NEGATIVE_INT = in_range(int, 0)
#: ``--scale``, ``--time-limit``, ...: a finite number > 0
POSITIVE = in_range(float, 0, None, "neither")
#: ``--size-util``, ``--target-util``: a utilisation in (0, 1]
UTILISATION = in_range(float, 0, 1, "right")
#: help of ``--time-limit`` on the routing commands
TIME_LIMIT_HELP = "seconds per solve for the policies that solve (optimal, robust, fast, ...); none by default"
