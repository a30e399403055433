"""Output folders the engine owns: it replaces only a folder it wrote itself, and cleans up after killed runs;
and single files written whole or not at all (atomic_file).

Every folder the engine builds (a run's output, a stage's output, a trained model, the work and
building folders beside them) holds a marker file. An existing folder is replaced only when it holds
the marker and none of the run's own inputs; anything else (a user's folder, `/`, a file, the folder
of the input or of the config) is refused before any work is done. Work and building folders carry
the pid of the process that made them, so the next run removes those whose process is gone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from curation.errors import CurationError

MARKER = ".curation-output"
WORK_PREFIX = ".curation-work-"


class OutputError(CurationError):
    """An output path the engine must not write to."""


def claim_folder(final: Path, keep: Iterable[str | Path] = ()) -> Path:
    """Make `final` the engine's folder, for outputs written file by file into it (a report): checked as
    by check_output_folder, created if absent, and marked."""
    check_output_folder(final, keep)
    try:
        final.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"output {final}: cannot create it: {error.strerror}") from None
    _mark(final)
    return final


def _mark(folder: Path) -> None:
    (folder / MARKER).write_text(json.dumps({"written_by": "curation", "pid": os.getpid()}) + "\n", encoding="utf-8")


def owned(folder: Path) -> bool:
    """Whether `folder` was written by the engine (it holds the marker)."""
    return (folder / MARKER).is_file()


def check_output_folder(final: Path, keep: Iterable[str | Path] = ()) -> None:
    """Raise OutputError unless `final` may be (re)placed: absent, an empty folder, or a folder the engine
    wrote, holding none of `keep` (the run's input files, its config, its rule packs...)."""
    final = Path(final)
    resolved = final.resolve()
    if resolved == Path(resolved.anchor):
        raise OutputError(f"output {final}: the filesystem root cannot be an output folder")
    if resolved == Path.home().resolve():
        raise OutputError(f"output {final}: your home folder cannot be an output folder")
    if os.path.exists(resolved) and not os.path.isdir(resolved):
        raise OutputError(f"output {final} is a file, not a folder: choose a folder name")
    for path in keep:
        held = Path(path).resolve()
        if os.path.exists(path) and (held == resolved or resolved in held.parents):
            raise OutputError(f"output {final} holds {path}, which the run reads: choose another output folder")
    if os.path.isdir(resolved) and _has_entries(resolved) and not owned(resolved):
        raise OutputError(f"output {final} exists and was not written by curation (it has no {MARKER} file): "
                          "choose a new folder, or empty or remove this one yourself")
    _check_writable(final)


def _has_entries(folder: Path) -> bool:
    try:
        return any(folder.iterdir())
    except OSError as error:
        raise OutputError(f"output {folder}: cannot read it: {error.strerror}") from None


def check_output_file(path: Path, keep: Iterable[str | Path] = ()) -> None:
    """Raise OutputError unless `path` may be written as a file: not a folder, not one of `keep`."""
    resolved = Path(path).resolve()
    if os.path.isdir(resolved):
        raise OutputError(f"output {path} is a folder: give a file name (records.parquet)")
    if any(os.path.exists(held) and Path(held).resolve() == resolved for held in keep):
        raise OutputError(f"output {path} is the file the command reads: choose another name")
    _check_writable(path)


def _check_writable(path: Path) -> None:
    resolved = Path(path).resolve()
    parent = next(folder for folder in resolved.parents if os.path.exists(folder))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output {path}: cannot write in {parent} (permission denied)")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def remove_stale(parent: Path) -> list[Path]:
    """Remove the work and building folders in `parent` that killed runs left behind (marked as the
    engine's, their process gone); returns what was removed."""
    stale = re.compile(rf"^(?:{re.escape(WORK_PREFIX)}|\..+\.(?:building|previous)-)(\d+)-")
    removed = []
    for entry in parent.iterdir() if parent.is_dir() else ():
        match = stale.match(entry.name)
        if match and entry.is_dir() and owned(entry) and not _process_alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _private_folder(prefix: str, parent: Path | None) -> Path:
    try:
        folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    except OSError as error:
        raise OutputError(f"cannot write in {parent or tempfile.gettempdir()}: {error.strerror}") from None
    _mark(folder)
    return folder


@contextmanager
def work_folder(parent: Path | None) -> Iterator[Path]:
    """A marked scratch folder in `parent` (else the system's temporary folder), removed at the end."""
    folder = _private_folder(WORK_PREFIX, parent)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def atomic_directory(final: Path, keep: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Build a folder beside `final` and move it into place only when complete: no partial output, and an
    existing folder is replaced only if the engine wrote it (see check_output_folder)."""
    keep = list(keep)
    check_output_folder(final, keep)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"output {final}: cannot create {final.parent}: {error.strerror}") from None
    remove_stale(final.parent)
    building = _private_folder(f".{final.name}.building-", final.parent)
    building.chmod(0o755)  # mkdtemp makes it private; the output is meant to be shared
    try:
        yield building
        check_output_folder(final, keep)  # the folder may have changed while the run worked
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    previous = final.with_name(f".{final.name}.previous-{os.getpid()}-")
    if final.exists() and not owned(final):
        final.rmdir()  # an empty folder the user made for the output
    elif final.exists():
        final.rename(previous)
    building.rename(final)
    shutil.rmtree(previous, ignore_errors=True)


@contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """A path beside `final` (same folder, so the same filesystem) to write the new file to: it replaces `final`
    only when the block ends without an error, so a failed or killed write leaves the previous file (or none),
    never half a file."""
    partial = final.with_name(f".{final.name}.partial")
    try:
        yield partial
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
