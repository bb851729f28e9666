"""Files as bytes: helpers that the runner, the manifest and the reports share.

Nothing here knows about reports or notebooks, so any layer may import it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["sha256_file"]


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes.

    Parameters
    ----------
    path
        The file to hash.
    chunk
        Bytes read at a time, so a large input is never held in memory whole.

    Returns
    -------
    str
        The 64-character lowercase hex digest.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
