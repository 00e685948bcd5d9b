"""Writing a file so that a crash leaves the old file or none, never a truncated one."""

import os
from pathlib import Path


def write_atomic(path, write):
    """Calls `write(binary_file)` on a temporary sibling of `path`, fsyncs it and renames it onto `path`."""
    path = Path(path)
    # Not `tempfile.mkstemp`: its files are private (0600), and data directories are often shared.
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
