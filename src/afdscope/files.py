"""Writing output files: the overwrite check (`--force`) and atomic writes, so no reader sees half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from afdscope.errors import AfdscopeError


def check_writable(paths, force: bool) -> None:
    """Refuse to replace existing files unless asked: one error naming them, before anything is written."""
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing and not force:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        verb = "exists" if len(existing) == 1 else "exist"
        raise AfdscopeError(f"{shown} already {verb}; pass --force to overwrite")


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write via a temporary file in the same folder and rename, so no reader sees half a file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise AfdscopeError(f"cannot write '{path}': {exc.strerror}; choose a writable location") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
