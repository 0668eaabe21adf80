"""Replace a file all at once, so a job killed while writing its checkpoint leaves the last one whole.

A resumable job (a compression search, a timing campaign) is killed by a scheduler or an OOM
killer at any instant, including in the middle of writing its checkpoint; the rerun must find
either the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; on success it replaces `path` at once
    (os.replace is atomic within a file system), on failure it is removed and `path` is untouched."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
