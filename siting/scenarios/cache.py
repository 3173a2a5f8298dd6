"""The process-wide cache of study areas and street networks, keyed on each file's identity.

The runner and the API load a study area or a network once and reuse it while its file is
unchanged: the key is the resolved path with the size and modification time of the file (of
every file, for a study-area folder), so an edited file is read again and never served stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Generic, TypeVar

from siting.geo.study_area import StudyArea, load_study_area
from siting.network.graph import WalkNetwork
from siting.network.osm import load_network

__all__ = ["FileCache", "clear", "file_identity", "street_network", "study_area"]

T = TypeVar("T")


def file_identity(path: str | Path) -> tuple[Hashable, ...]:
    """Identity of a file or folder: its resolved path, and (name, size, mtime_ns) of each file.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    """
    p = Path(path).resolve()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    stamps = []
    for f in files:
        st = f.stat()
        stamps.append((f.relative_to(p).as_posix() if p.is_dir() else f.name, st.st_size, st.st_mtime_ns))
    return (str(p), *stamps)


class FileCache(Generic[T]):
    """A thread-safe LRU cache of ``loader(path)`` keyed on :func:`file_identity`.

    Parameters
    ----------
    loader : callable
        Loads the object from a path.
    maxsize : int
        Objects kept (least recently used dropped first).
    """

    def __init__(self, loader: Callable[[Path], T], *, maxsize: int = 4) -> None:
        self._loader = loader
        self._maxsize = maxsize
        self._items: OrderedDict[tuple[Hashable, ...], T] = OrderedDict()
        self._lock = threading.Lock()  # guards the two dicts, never held while loading
        self._loading: dict[Hashable, threading.Lock] = {}  # one per path: a file loads once at a time

    def get(self, path: str | Path) -> T:
        """Return the object of ``path``, loading it when the file is new or has changed.

        Threads asking for the same file wait for one load; different files load side by side.
        """
        key = file_identity(path)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            loading = self._loading.setdefault(key[0], threading.Lock())
        with loading:
            with self._lock:
                if key in self._items:  # another thread loaded it meanwhile
                    return self._items[key]
            value = self._loader(Path(str(key[0])))
            with self._lock:
                for stale in [k for k in self._items if k[0] == key[0]]:
                    del self._items[stale]
                self._items[key] = value
                while len(self._items) > self._maxsize:
                    self._items.popitem(last=False)
            return value

    def clear(self) -> None:
        """Forget every object."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_AREAS: FileCache[StudyArea] = FileCache(load_study_area)
_NETWORKS: FileCache[WalkNetwork] = FileCache(load_network)


def study_area(path: str | Path) -> StudyArea:
    """Return the study area at ``path`` (GeoPackage or folder), loaded once while its files are unchanged."""
    return _AREAS.get(path)


def street_network(path: str | Path) -> WalkNetwork:
    """Return the walking network of the file at ``path``, loaded once while the file is unchanged."""
    return _NETWORKS.get(path)


def clear() -> None:
    """Empty both caches (tests, or to free memory)."""
    _AREAS.clear()
    _NETWORKS.clear()
