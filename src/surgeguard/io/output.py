"""Outputs: checked before the work starts, written atomically, never half-written.

Every file surgeguard writes goes through :func:`atomic_path` (or :func:`atomic_write_text` /
:func:`atomic_write_bytes`): the content goes to a hidden temporary file in the destination's
folder, is flushed to disk, then renamed over the destination with :func:`os.replace`. A reader
never sees half a file, and a write that fails or is interrupted leaves whatever was there before
and no temporary file behind.

:func:`check_output_dir` and :func:`check_output_file` are called *before* a long computation, so
that an output that cannot be written is refused at once (with one line naming the path, the
reason and the fix) and nothing is created on disk by the check itself.

Errors are :class:`OutputError` (a :class:`~surgeguard.SurgeguardError` and an :class:`OSError`)
and :class:`OutputExistsError` (an existing output that may not be replaced).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_text(d / "a.txt", "hello").read_text()
'hello'
>>> check_output_file(d / "a.txt")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
surgeguard.io.output.OutputExistsError: output file '.../a.txt' already exists; give another path or allow overwriting it
>>> check_output_dir(d / "a.txt" / "sub")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
surgeguard.io.output.OutputError: cannot create output folder '.../a.txt/sub': '.../a.txt' is a file, not a folder; give a path outside it
>>> sorted(p.name for p in d.iterdir())
['a.txt']
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..exceptions import SurgeguardError

__all__ = ["OutputError", "OutputExistsError", "atomic_path", "atomic_write_text", "atomic_write_bytes",
           "atomic_write_json", "json_text", "check_output_dir", "check_output_file", "make_output_dir",
           "probe_writable"]

#: prefix of the temporary files (hidden; the destination's name follows, so its extension, and
#: the compression pandas infers from it, are kept)
TEMP_PREFIX = ".tmp-"
#: prefix of the files :func:`probe_writable` creates and removes at once
PROBE_PREFIX = ".surgeguard-probe-"


class OutputError(SurgeguardError, OSError):
    """An output cannot be written: its folder is a file, is not writable, the disk is full, ..."""


class OutputExistsError(OutputError, FileExistsError):
    """An output already exists and replacing it was not allowed."""


def _show(path) -> str:
    return repr(str(path))


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _nearest_existing(p: Path) -> Path:
    """``p`` or its closest ancestor that exists (``.`` for a relative path with none)."""
    q = p
    while not os.path.lexists(q):
        parent = q.parent
        if parent == q:
            break
        q = parent
    return q


def probe_writable(folder: Path) -> None:
    """Create and remove an empty file in ``folder``; raises the :class:`OSError` that fails.

    A real probe, not :func:`os.access`: it also catches read-only file systems, ACLs and
    root-squashed network mounts.
    """
    fd, name = tempfile.mkstemp(prefix=PROBE_PREFIX, dir=folder)
    os.close(fd)
    os.unlink(name)


def _check_parent_chain(p: Path, what: str) -> Path:
    """The closest existing ancestor of ``p`` (``p`` excluded), which must be a writable folder."""
    anc = _nearest_existing(p.parent)
    if not anc.is_dir():
        raise OutputError(f"cannot create {what} {_show(p)}: {_show(anc)} is a file, not a folder; "
                          "give a path outside it")
    try:
        probe_writable(anc)
    except OSError as exc:
        raise OutputError(f"cannot write {what} {_show(p)}: folder {_show(anc)} is not writable "
                          f"({_reason(exc)}); give a path in a writable folder") from None
    return anc


def check_output_dir(path, *, files: Sequence[str] = (), force: bool = False, what: str = "output folder") -> Path:
    """Check, without creating anything, that the folder ``path`` can receive ``files``.

    Refused: a ``path`` that is an existing file or lies below one, a folder that cannot be created
    or written (checked with a real probe file, removed at once), a name in ``files`` that is an
    existing folder, and (unless ``force``) existing files among ``files`` when the folder does not
    hold the first of them.

    The first name of ``files`` marks the folder's owner: where it is present, the folder holds
    earlier results of the same kind, which may be replaced (re-running into one's own results
    folder needs no consent); where it is absent, any other of ``files`` found there (say a
    ``summary.json`` from another command) is kept unless ``force``.

    Returns the path (``~`` expanded).
    """
    p = Path(path).expanduser()
    if os.path.lexists(p):
        if not p.is_dir():
            raise OutputError(f"{what} {_show(p)} is a file, not a folder; give a folder path")
        for name in files:
            if (p / name).is_dir():
                raise OutputError(f"cannot write {_show(p / name)}: it is a folder; give another {what}")
        present = [name for name in files if os.path.lexists(p / name)]
        if present and not force and not (files and os.path.lexists(p / files[0])):
            raise OutputExistsError(f"{what} {_show(p)} already holds {', '.join(present)} of another result; "
                                    "give another folder or allow overwriting them")
        try:
            probe_writable(p)
        except OSError as exc:
            raise OutputError(f"cannot write to {what} {_show(p)} ({_reason(exc)}); "
                              "give a path in a writable folder") from None
        return p
    _check_parent_chain(p, what)
    return p


def check_output_file(path, *, force: bool = False, what: str = "output file") -> Path:
    """Check, without creating anything, that the file ``path`` can be written.

    Refused: a folder, a path below a file, a folder that cannot be created or written (a real
    probe file, removed at once), an existing special file (a device, a FIFO), and (unless
    ``force``) an existing file. Returns the path (``~`` expanded).
    """
    text = os.fspath(path)
    p = Path(text).expanduser()
    if text.endswith(("/", os.sep)) or p.is_dir():
        raise OutputError(f"{what} {_show(p)} is a folder; give a file path, e.g. {_show(p / 'out')}")
    if os.path.lexists(p):
        real = Path(os.path.realpath(p))
        if real.exists() and not real.is_file():
            raise OutputError(f"{what} {_show(p)} is not a regular file; give the path of a file")
        if not force:
            raise OutputExistsError(f"{what} {_show(p)} already exists; give another path or allow overwriting it")
    _check_parent_chain(p, what)
    return p


def make_output_dir(path, *, what: str = "output folder") -> Path:
    """``mkdir -p path``, with one-line :class:`OutputError`\\ s (a file in the way, no permission)."""
    p = Path(path).expanduser()
    if os.path.lexists(p) and not p.is_dir():
        raise OutputError(f"{what} {_show(p)} is a file, not a folder; give a folder path")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        anc = _nearest_existing(p.parent)
        raise OutputError(f"cannot create {what} {_show(p)}: {_show(anc)} is a file, not a folder; "
                          "give a path outside it") from None
    except OSError as exc:
        raise OutputError(f"cannot create {what} {_show(p)} ({_reason(exc)}); give a path in a writable folder") \
            from None
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_name(dest: Path) -> tuple[str, str]:
    """(prefix, suffix) of the temporary file for ``dest``: hidden, and ending with its name."""
    suffix = "-" + dest.name
    if len(suffix) > 200:  # keep within NAME_MAX with the random part
        suffix = "-" + "".join(dest.suffixes)[-60:]
    return TEMP_PREFIX, suffix


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; on success it replaces ``path`` atomically.

    The temporary file is in the same folder (so :func:`os.replace` is a rename), hidden, and ends
    with the destination's name (``.tmp-<random>-steps.csv.gz``: writers that infer a format or a
    compression from the extension see the right one). After the block, the file is flushed to
    disk (``fsync``), given the destination's permissions (or the usual ones for a new file) and
    renamed over ``path``; a symbolic link at ``path`` is followed (its target is replaced). If
    the block raises, or the process is interrupted, the temporary file is removed and ``path`` is
    untouched. :class:`OSError`\\ s become :class:`OutputError` ("cannot write '...' (reason)").

    The folder must exist (see :func:`make_output_dir`).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.txt") as tmp:
    ...     _ = tmp.write_text("new")
    >>> (d / "x.txt").read_text(), [p.name for p in d.iterdir()]
    ('new', ['x.txt'])
    """
    shown = Path(path).expanduser()
    dest = Path(os.path.realpath(shown))
    if os.path.lexists(dest) and not dest.is_file():
        kind = "a folder" if dest.is_dir() else "not a regular file"
        raise OutputError(f"cannot write {_show(shown)}: it is {kind}; give the path of a file")
    if not dest.parent.is_dir():
        raise OutputError(f"cannot write {_show(shown)}: folder {_show(dest.parent)} does not exist")
    prefix, suffix = _temp_name(dest)
    try:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=dest.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write {_show(shown)} ({_reason(exc)})") from None
    tmp = Path(name)
    try:
        yield tmp
        try:
            mode = stat.S_IMODE(dest.stat().st_mode) if dest.exists() else 0o666 & ~_umask()
            os.chmod(tmp, mode)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, dest)
        except OSError as exc:
            raise OutputError(f"cannot write {_show(shown)} ({_reason(exc)})") from None
        with contextlib.suppress(OSError):  # make the rename itself durable (best effort)
            dfd = os.open(dest.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, SurgeguardError):
            raise OutputError(f"cannot write {_show(shown)} ({_reason(exc)})") from exc
        raise


def atomic_write_text(path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (:func:`atomic_path`); returns ``path`` as a Path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`); returns ``path`` as a Path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _strict(obj):
    """``obj`` with NaN and infinities (Python or NumPy) as None, NumPy scalars and arrays as Python."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return _strict(obj.item())
    if isinstance(obj, np.ndarray):
        return _strict(obj.tolist())
    if isinstance(obj, dict):
        return {(k if isinstance(k, (str, int, float, bool)) or k is None else str(k)): _strict(v)
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj


def json_text(obj, *, indent: int | None = None) -> str:
    """Strict JSON for ``obj``: NaN and infinities become ``null`` (``json.dumps`` would write
    ``NaN``/``Infinity``, which JSON readers refuse); other objects (timestamps, paths) their ``str``.

    >>> json_text({"mlu": float("inf"), "gap": float("nan"), "n": np.int64(3)})
    '{"mlu": null, "gap": null, "n": 3}'
    """
    return json.dumps(_strict(obj), indent=indent, default=str, allow_nan=False)


def atomic_write_json(path, obj, *, indent: int | None = 2) -> Path:
    """Write :func:`json_text` of ``obj`` to ``path`` atomically; returns ``path`` as a Path."""
    return atomic_write_text(path, json_text(obj, indent=indent))
