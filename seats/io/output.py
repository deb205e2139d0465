"""Writers: CSV files with fixed formatting, file digests, and all-or-nothing output folders."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


def write_csv(path: Path, header: list[str], rows: Iterable[Iterable]) -> int:
    """Write UTF-8 CSV with '\\n' line ends (byte-identical everywhere); returns the row count."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_output_folder(out_dir: Path, force: bool, protect: Iterable[Path] = ()) -> None:
    """Refuse to overwrite a non-empty folder unless forced (before any work is done), and
    never replace the working folder, one of its parents, or a folder holding an input."""
    target = Path(out_dir).resolve()
    if target == Path.cwd() or target in Path.cwd().parents:
        raise FileExistsError(f"{out_dir} is the current folder or holds it; choose a new folder")
    for path in protect:
        if path is not None and target in Path(path).resolve().parents:
            raise FileExistsError(f"{out_dir} holds the input {path}; choose another folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise FileExistsError(f"{out_dir} is not empty; use --force to replace it")


@contextlib.contextmanager
def staged_output(
    out_dir: Path | str, force: bool = False, protect: Iterable[Path] = ()
) -> Iterator[Path]:
    """Yield a temporary folder beside `out_dir`; move it into place only if the block succeeds,
    so a failed run leaves nothing half-written."""
    out_dir = Path(out_dir)
    check_output_folder(out_dir, force, protect)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        yield stage
        stage.chmod(0o755)  # mkdtemp makes it private; a run folder is meant to be shared
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(stage, out_dir)
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
