"""Writing files and directories so that a crash leaves the old one or none, never a half-written one."""

import contextlib
import os
import shutil
import zipfile
from pathlib import Path


def write_atomic(path, write):
    """Calls `write(binary_file)` on a temporary sibling of `path`, fsyncs it and renames it onto `path`."""
    path = Path(path)

    def write_to(temporary):
        with open(temporary, "wb") as file:
            write(file)

    # Not `tempfile.mkstemp`: its files are private (0600), and data directories are often shared.
    return _write_through(path.with_name(f".{path.name}.tmp-{os.getpid()}"), path, write_to)


def save_model_atomic(model, path):
    """`model.save(path)` through a temporary sibling (still named `.keras`, as Keras requires), fsynced
    and renamed onto `path`."""
    path = Path(path)
    return _write_through(path.with_name(f".{path.stem}.tmp-{os.getpid()}.keras"), path, model.save)


def _write_through(temporary, path, write_to):
    """`write_to(temporary)`, fsync, rename onto `path`; on any error the temporary file goes.

    An OS error (disk full, no permission) is re-raised naming `path`, the file that was not written: a
    failing `write()` names no file, and the temporary file's name would mean nothing to the reader.
    """
    try:
        write_to(temporary)
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.errno is not None and error.strerror:  # else str(error) would not show a file name
            error.filename, error.filename2 = str(path), None
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def check_keras_file(path):
    """Raises ValueError naming `path` when it is there but not a complete `.keras` file (a zip archive).

    Keras reports a truncated `.keras` file as "File not found"; a missing file is left to the caller.
    """
    path = Path(path)
    if path.is_file() and not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not a complete .keras file ({path.stat().st_size:,} bytes, not a zip archive: truncated "
            "by an interrupted copy or download?)"
        )


@contextlib.contextmanager
def atomic_directory(path):
    """Yields a temporary sibling of the directory `path` to fill. When the block completes it is renamed
    onto `path` (absent or empty); on any error it is removed. So `path` is complete or absent."""
    path = Path(path)
    temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    created_parents = [parent for parent in path.parents if not parent.exists()]  # deepest first
    temporary.mkdir(parents=True)
    try:
        yield temporary
        if path.exists():
            path.rmdir()
        os.replace(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        for parent in created_parents:  # folders made only for `path` go too
            try:
                parent.rmdir()
            except OSError:
                break
        raise
