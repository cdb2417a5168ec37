"""Writing files a command produces: whole or not at all, and never over what it reads.

A file is written beside its target under a hidden temporary name and renamed
over the target only once complete, so a run that fails or is stopped leaves
the previous file as it was (docs/security.md, "Output").  A target that is
one of the command's inputs, or inside an input folder, is refused before
anything is opened for writing.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from engine.deciding.errors import UserError


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def refuse_inputs(target: str | Path, option: str, inputs: Iterable[tuple[str | Path, str]],
                  written: str = "the records") -> None:
    """Refuse ``target`` when it is, or is inside, one of ``inputs`` ((path, what it is) pairs)."""
    target = Path(target)
    real = _real(target)
    for path, what in inputs:
        source = Path(path)
        same = real == _real(source)
        if not same and target.exists() and source.exists():
            same = os.path.samefile(target, source)  # a hard link
        if same and not source.is_dir():
            raise UserError(f"{option} {target}: this is the {what} ({source}): the run would overwrite what it "
                            f"reads; write {written} to another file")
        if source.is_dir() and (same or real.is_relative_to(_real(source))):
            raise UserError(f"{option} {target}: this is inside the {what} folder ({source}): the run would write "
                            f"where it reads; write {written} outside it")


def _in_place(target: Path) -> bool:
    """A device or a pipe (``/dev/stdout``, a FIFO): written as it is, since it cannot be replaced."""
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


class Replacement:
    """A text file written under a temporary name beside ``target``, put in its place by ``commit``.

    Leaving the block without ``commit`` (an error, a signal) removes the
    temporary file, or with ``set_aside`` keeps what was written under a
    name of its own; either way the target is as it was.
    """

    def __init__(self, target: str | Path, option: str):
        self.target = Path(target)
        self.option = option
        self.real = _real(self.target)
        self.temp: Path | None = None
        self.handle: IO[str] | None = None

    def __enter__(self) -> IO[str]:
        if self.real.is_dir():
            raise UserError(f"{self.option} {self.target}: this is a folder: give a file name")
        try:
            if _in_place(self.real):
                self.handle = open(self.real, "w", encoding="utf-8")  # noqa: SIM115 - closed in __exit__
                return self.handle
            fd, name = tempfile.mkstemp(prefix=f".{self.real.name}.", suffix=".tmp", dir=self.real.parent)
        except OSError as exc:
            raise UserError(f"{self.option} {self.target}: cannot write ({exc.strerror or exc}): check the path") from None
        self.temp = Path(name)
        self.handle = os.fdopen(fd, "w", encoding="utf-8")
        return self.handle

    def _close(self) -> None:
        if self.handle is not None and not self.handle.closed:
            self.handle.flush()
            if self.temp is not None:
                os.fsync(self.handle.fileno())
            self.handle.close()

    def commit(self) -> None:
        """Put the complete file in the target's place."""
        self._close()
        if self.temp is None:
            return
        try:
            os.chmod(self.temp, _mode(self.real))
            os.replace(self.temp, self.real)
        except OSError as exc:
            raise UserError(f"{self.option} {self.target}: cannot replace it ({exc.strerror or exc}); "
                            f"what was written is in {self.temp}") from None
        self.temp = None

    def set_aside(self, suffix: str = ".partial") -> Path | None:
        """Keep what was written as ``<target><suffix>``, the target untouched; its path (None for a device).

        When that name cannot be used (a folder has it), ``<target><suffix>.1`` to ``.9``, else the
        temporary file itself: what was written is never removed."""
        self._close()
        if self.temp is None:
            return None
        first = self.real.with_name(self.real.name + suffix)
        for kept in (first, *(first.with_name(f"{first.name}.{n}") for n in range(1, 10))):
            if kept.is_dir() or (kept != first and kept.exists()):
                continue  # a folder in the way is never replaced, nor an older numbered file
            try:
                os.replace(self.temp, kept)
            except OSError:
                continue
            self.temp = None
            return kept
        kept, self.temp = self.temp, None  # no name would do: what was written stays where it is
        return kept

    def __exit__(self, *exc: object) -> None:
        try:
            if self.handle is not None and not self.handle.closed:
                self.handle.close()
        finally:
            if self.temp is not None:
                self.temp.unlink(missing_ok=True)
                self.temp = None


def _mode(target: Path) -> int:
    """The target's permissions if it exists, else what the umask gives a new file."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_whole(path: Path, text: str) -> None:
    """``text`` in ``path``, whole or not at all."""
    replacement = Replacement(path, str(path))
    with replacement as handle:
        handle.write(text)
        replacement.commit()


def prepare_folder(folder: str | Path, option: str, inputs: Iterable[tuple[str | Path, str]]) -> Path:
    """A folder to write files into, checked before any work is done: not a file, not an input, writable."""
    folder = Path(folder)
    refuse_inputs(folder, option, inputs, "the case files")
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{option} {folder}: this is a file, not a folder: give a folder for the case files")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{option} {folder}: {existing} is a file, not a folder: give a folder for the case files")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{option} {folder}: {existing} cannot be written (permission denied): give another folder")
    return folder
