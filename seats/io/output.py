"""Writers: CSV files with fixed formatting, file digests, and all-or-nothing output folders."""

from __future__ import annotations

import contextlib
import csv
import errno
import glob
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from seats.io.tables import FORMULA_START

# Written with a byte-order mark: Excel, where officials open these files, reads UTF-8 without
# one as the local code page and garbles every Chinese name. Our own readers accept both. The
# mark is written by hand and the text as plain UTF-8: the same bytes as "utf-8-sig", through
# the C encoder instead of the Python-level one of utf-8-sig (a second per million rows).
CSV_ENCODING = "utf-8"
BOM = "\ufeff"
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def neutralise(cell):
    """A text cell that a spreadsheet would run as a formula (=, +, -, @, tab or carriage return
    first, and not a plain number) gets a leading apostrophe, so that it is shown as text."""
    if isinstance(cell, str) and cell[:1] in FORMULA_START and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def write_csv(path: Path, header: list[str], rows: Iterable[Iterable]) -> int:
    """Write UTF-8 CSV with a byte-order mark and '\\n' line ends (byte-identical everywhere),
    formula-like cells neutralised; returns the row count."""
    count = 0
    with open(path, "w", encoding=CSV_ENCODING, newline="") as handle:
        handle.write(BOM)
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([neutralise(cell) for cell in header])
        for row in rows:
            writer.writerow([neutralise(cell) for cell in row])
            count += 1
    return count


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Every folder this tool writes holds this file; --force replaces only a folder that has it, so
# a mistyped --out can never delete a folder of someone's own files.
MARKER = ".seats-output"
MARKER_TEXT = (
    "Written by seats. `--force` may replace this folder as a whole; delete this file to "
    "keep the folder from ever being replaced.\n"
)
_STAGE, _OLD, _LOCK = ".seats-stage-", ".seats-old-", ".seats-lock"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_folder(out_dir: Path, force: bool, protect: Iterable[Path] = ()) -> None:
    """The one guard of every command that writes a folder, before any work is done.

    Never replaces the working folder or one of its parents, a folder that holds an input of
    the command (`protect`: input files and folders), or a folder inside an input folder (a run
    folder read by `publish`, a district folder read by `gap`). A non-empty folder is replaced
    only with `force`, and only if this tool wrote it (it holds MARKER)."""
    out_dir = Path(out_dir)
    target = out_dir.resolve()
    if target == Path.cwd() or target in Path.cwd().parents:
        raise FileExistsError(f"{out_dir} is the current folder or holds it; choose a new folder")
    for path in protect:
        if path is None:
            continue
        source = Path(path).resolve()
        if _inside(source, target):
            raise FileExistsError(f"{out_dir} holds the input {path}; choose another folder")
        if source.is_dir() and _inside(target, source):
            raise FileExistsError(
                f"{out_dir} is inside the input folder {path}; choose a folder outside it"
            )
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise FileExistsError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not force:
            raise FileExistsError(f"{out_dir} is not empty; use --force to replace it")
        if not (out_dir / MARKER).is_file():
            raise FileExistsError(
                f"{out_dir} was not written by seats (it has no {MARKER} file), so --force "
                "does not replace it: choose a new folder, or empty this one yourself"
            )


def check_output_file(
    path: Path,
    force: bool,
    protect: Iterable[Path] = (),
    ours: Callable[[Path], bool] | None = None,
) -> None:
    """The guard of every command that writes one file: never an input of the command or a
    file inside an input folder; an existing file is replaced only with `force`, and only if
    `ours` says this tool wrote it."""
    path = Path(path)
    target = path.resolve()
    for source in protect:
        if source is None:
            continue
        source = Path(source).resolve()
        if target == source or (source.is_dir() and _inside(target, source)):
            where = "is" if target == source else "is inside"
            raise FileExistsError(f"{path} {where} the input {source}; write elsewhere")
    if path.is_dir():
        raise FileExistsError(f"{path} is a folder; give a file name")
    if path.exists() or path.is_symlink():
        if not force:
            raise FileExistsError(f"{path} exists; use --force to replace it")
        if path.is_symlink() or (ours is not None and not ours(path)):
            raise FileExistsError(
                f"{path} was not written by seats, so --force does not replace it: write elsewhere"
            )


def starts_with(prefix: bytes) -> Callable[[Path], bool]:
    """An `ours` test for check_output_file: the file begins with `prefix`."""

    def test(path: Path) -> bool:
        try:
            with open(path, "rb") as handle:
                return handle.read(len(prefix)) == prefix
        except OSError:
            return False

    return test


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on `out_dir`'s lock file: two commands writing one folder at once
    cannot both succeed (the second stops at once)."""
    try:
        import fcntl
    except ImportError:  # not on this platform: the no-replace rename still decides
        yield
        return
    lock_path = out_dir.parent / f".{out_dir.name}{_LOCK}"
    handle = open(lock_path, "a+b")  # noqa: SIM115 (held until the block ends)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise FileExistsError(
                f"another seats command is writing {out_dir} right now; wait for it or "
                "choose another folder"
            ) from None
        yield
        lock_path.unlink(missing_ok=True)
    finally:
        handle.close()


def _renameat2():
    """Linux renameat2(2), or None: RENAME_EXCHANGE swaps two folders in one step."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int

    def call(old: Path, new: Path, flags: int) -> int:
        AT_FDCWD = -100
        result = function(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags)
        return 0 if result == 0 else ctypes.get_errno()

    return call


RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def _move_into_place(stage: Path, out_dir: Path, old: Path) -> None:
    """Put `stage` at `out_dir` in one rename: swap it with an existing folder (which then
    stands at `stage` and is removed after), or move it where nothing is, never over a folder
    that appeared meanwhile. At no moment is there neither the old nor the new folder."""
    rename = _renameat2()
    if out_dir.exists():
        if rename is not None and rename(stage, out_dir, RENAME_EXCHANGE) == 0:
            shutil.rmtree(stage)
            return
        os.rename(out_dir, old)  # no exchange here: the old folder waits beside, whole
        os.rename(stage, out_dir)
        shutil.rmtree(old)
        return
    if rename is not None:
        error = rename(stage, out_dir, RENAME_NOREPLACE)
        if error == 0:
            return
        if error == errno.EEXIST:
            raise FileExistsError(f"{out_dir} was created by someone else meanwhile")
    os.rename(stage, out_dir)  # fails on a non-empty folder


def _clean_stale(out_dir: Path) -> None:
    """Remove staging and old folders left by an earlier command into `out_dir` that was killed
    (we hold the lock, so nobody else is writing them)."""
    for prefix in (_STAGE, _OLD):
        for leftover in out_dir.parent.glob(f".{glob.escape(out_dir.name)}{prefix}*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def staged_output(
    out_dir: Path | str, force: bool = False, protect: Iterable[Path] = ()
) -> Iterator[Path]:
    """Yield a temporary folder beside `out_dir`; move it into place only if the block succeeds
    (one rename), so a failed or killed run leaves nothing half-written. The folder gets the
    MARKER that lets a later --force replace it."""
    out_dir = Path(out_dir)
    check_output_folder(out_dir, force, protect)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with _locked(out_dir):
        _clean_stale(out_dir)
        stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}{_STAGE}", dir=out_dir.parent))
        try:
            yield stage
            (stage / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
            stage.chmod(0o755)  # mkdtemp makes it private; a run folder is meant to be shared
            check_output_folder(out_dir, force, protect)  # again: it may have changed meanwhile
            old = out_dir.parent / f".{out_dir.name}{_OLD}{os.getpid()}"
            _move_into_place(stage, out_dir, old)
        finally:
            if stage.exists():
                shutil.rmtree(stage)


def copy_input(source: Path, folder: Path, stem: str, run_dir: Path) -> str:
    """Copy an input byte for byte as `folder/stem.ext` (the run folder's own copy, so that the
    folder verifies on its own); returns its path relative to `run_dir`, as the audit log
    records it."""
    target = folder / f"{stem}{Path(source).suffix.lower()}"
    shutil.copyfile(source, target)
    return target.relative_to(run_dir).as_posix()
