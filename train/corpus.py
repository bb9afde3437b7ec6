"""The training corpus: Python 3.11 standard library sources as Debian installs them.

A fixed, hash-based split holds out about 1 in 25 modules for validation, so the split does not
depend on which packages happen to be installed beside them.
"""
import hashlib
import os

STDLIB_ROOT = "/usr/lib/python3.11"
SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__", "lib2to3/tests/data", "config-3.11-x86_64-linux-gnu"}


def _is_validation(rel_path: str) -> bool:
    digest = hashlib.sha1(rel_path.encode()).digest()
    return digest[0] % 25 == 0


def list_modules(root: str = STDLIB_ROOT):
    """Sorted relative paths of every .py file under root."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and os.path.join(rel_dir, d).lstrip("./") not in SKIP_DIRS)
        for f in sorted(filenames):
            if f.endswith(".py"):
                out.append(os.path.normpath(os.path.join(rel_dir, f)))
    return sorted(out)


def split(root: str = STDLIB_ROOT):
    """(train, validation) lists of relative paths."""
    mods = list_modules(root)
    return [m for m in mods if not _is_validation(m)], [m for m in mods if _is_validation(m)]


def read_text(rel_path: str, root: str = STDLIB_ROOT):
    """File text, or None for files that are not valid UTF-8 (a few test fixtures are not)."""
    try:
        with open(os.path.join(root, rel_path), "rb") as fh:
            return fh.read().decode("utf-8")
    except UnicodeDecodeError:
        return None
