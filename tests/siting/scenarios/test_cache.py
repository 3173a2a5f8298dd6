"""The file-identity cache of study areas and networks: load once, reload on change, never serve stale."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from testdata import STUDY_AREAS

from siting.scenarios import cache
from siting.scenarios.cache import FileCache, file_identity

#: A fixed modification time (2024-01-01 00:00:00 UTC), in nanoseconds.
T0 = 1_704_067_200 * 10**9
SECOND = 10**9


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def write(path: Path, text: str, mtime_ns: int) -> Path:
    """Write ``text`` (ASCII, so one byte a character) and set the file's times to ``mtime_ns``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("ascii"))
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


class CountingLoader:
    """A loader that counts its calls per path and returns a fresh object each time."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: Counter[Path] = Counter()
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self, path: Path) -> dict[str, object]:
        with self._lock:
            self.calls[path] += 1
        time.sleep(self.delay)
        return {"path": path, "text": path.read_text()}


# ---------------------------------------------------------------------------- file_identity


def test_identity_of_a_file_is_its_path_name_size_and_mtime(tmp_path: Path) -> None:
    f = write(tmp_path / "area.geojson", "abcd", T0)
    assert file_identity(f) == (str(f.resolve()), ("area.geojson", 4, T0))
    assert file_identity(str(f)) == file_identity(f)  # str or Path
    assert file_identity(f) == file_identity(f)  # stable while the file is unchanged


def test_identity_changes_with_size_or_mtime(tmp_path: Path) -> None:
    f = write(tmp_path / "a.txt", "abcd", T0)
    first = file_identity(f)

    write(f, "abcdef", T0)  # new content, new size, same mtime
    assert file_identity(f) == (str(f.resolve()), ("a.txt", 6, T0))
    assert file_identity(f) != first

    write(f, "ghijkl", T0 + SECOND)  # new content, same size, new mtime
    assert file_identity(f) == (str(f.resolve()), ("a.txt", 6, T0 + SECOND))

    os.utime(f, ns=(T0 + 2 * SECOND, T0 + 2 * SECOND))  # touched only
    assert file_identity(f) == (str(f.resolve()), ("a.txt", 6, T0 + 2 * SECOND))


def test_identity_resolves_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = write(tmp_path / "a.txt", "abc", T0)
    monkeypatch.chdir(tmp_path)
    assert file_identity("a.txt") == file_identity(f) == (str(f.resolve()), ("a.txt", 3, T0))


def test_identity_of_a_folder_stamps_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "area"
    write(folder / "demand.csv", "lon,lat\n", T0)
    write(folder / "sub" / "roads.geojson", "{}", T0 + SECOND)
    before = file_identity(folder)
    assert before == (
        str(folder.resolve()),
        ("demand.csv", 8, T0),
        ("sub/roads.geojson", 2, T0 + SECOND),
    )
    assert file_identity(folder) == before

    write(folder / "sub" / "roads.geojson", "{ }", T0 + 5 * SECOND)  # one file edited
    after = file_identity(folder)
    assert after != before
    assert after == (
        str(folder.resolve()),
        ("demand.csv", 8, T0),
        ("sub/roads.geojson", 3, T0 + 5 * SECOND),
    )

    write(folder / "grids.csv", "id\n", T0)  # a file added
    assert file_identity(folder)[1:] == (
        ("demand.csv", 8, T0),
        ("grids.csv", 3, T0),
        ("sub/roads.geojson", 3, T0 + 5 * SECOND),
    )


def test_identity_of_a_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        file_identity(tmp_path / "nowhere.gpkg")


# ---------------------------------------------------------------------------- FileCache


def test_get_loads_an_unchanged_file_once(tmp_path: Path) -> None:
    f = write(tmp_path / "a.txt", "one", T0)
    loader = CountingLoader()
    fc: FileCache[dict[str, object]] = FileCache(loader)
    first = fc.get(f)
    assert fc.get(f) is first
    assert fc.get(str(f)) is first
    assert loader.calls == Counter({f.resolve(): 1})
    assert first == {"path": f.resolve(), "text": "one"}
    assert len(fc) == 1


def test_get_reloads_a_changed_file_and_drops_the_stale_entry(tmp_path: Path) -> None:
    f = write(tmp_path / "a.txt", "one", T0)
    loader = CountingLoader()
    fc: FileCache[dict[str, object]] = FileCache(loader)
    old = fc.get(f)

    write(f, "two!", T0 + SECOND)
    new = fc.get(f)
    assert new is not old
    assert new["text"] == "two!"
    assert loader.calls[f.resolve()] == 2
    assert len(fc) == 1  # the entry of the old identity is gone
    assert fc.get(f) is new

    os.utime(f, ns=(T0 + 2 * SECOND, T0 + 2 * SECOND))  # touched: read again
    assert fc.get(f) is not new
    assert loader.calls[f.resolve()] == 3
    assert len(fc) == 1


def test_get_evicts_the_least_recently_used(tmp_path: Path) -> None:
    a, b, c = (write(tmp_path / f"{n}.txt", n, T0) for n in "abc")
    loader = CountingLoader()
    fc: FileCache[dict[str, object]] = FileCache(loader, maxsize=2)
    fc.get(a)
    fc.get(b)
    fc.get(a)  # a is now the most recently used
    fc.get(c)  # evicts b
    assert len(fc) == 2
    assert loader.calls == Counter({a.resolve(): 1, b.resolve(): 1, c.resolve(): 1})

    fc.get(a)
    fc.get(c)
    assert loader.calls == Counter({a.resolve(): 1, b.resolve(): 1, c.resolve(): 1})  # both kept
    fc.get(b)  # was evicted: loaded again, and evicts a (used before c)
    assert loader.calls == Counter({a.resolve(): 1, b.resolve(): 2, c.resolve(): 1})
    fc.get(a)
    assert loader.calls == Counter({a.resolve(): 2, b.resolve(): 2, c.resolve(): 1})
    assert len(fc) == 2


def test_get_of_a_missing_path_raises_without_loading(tmp_path: Path) -> None:
    loader = CountingLoader()
    fc: FileCache[dict[str, object]] = FileCache(loader)
    with pytest.raises(FileNotFoundError):
        fc.get(tmp_path / "missing.gpkg")
    assert not loader.calls
    assert len(fc) == 0


def test_a_failed_load_is_not_cached(tmp_path: Path) -> None:
    f = write(tmp_path / "a.txt", "x", T0)
    calls = []

    def flaky(path: Path) -> str:
        calls.append(path)
        if len(calls) == 1:
            raise ValueError("first read fails")
        return "ok"

    fc: FileCache[str] = FileCache(flaky)
    with pytest.raises(ValueError, match="first read fails"):
        fc.get(f)
    assert len(fc) == 0
    assert fc.get(f) == "ok"
    assert len(calls) == 2


def test_clear_forgets_everything(tmp_path: Path) -> None:
    f = write(tmp_path / "a.txt", "x", T0)
    loader = CountingLoader()
    fc: FileCache[dict[str, object]] = FileCache(loader)
    fc.get(f)
    fc.clear()
    assert len(fc) == 0
    fc.get(f)
    assert loader.calls[f.resolve()] == 2


def test_concurrent_gets_load_once(tmp_path: Path) -> None:
    f = write(tmp_path / "a.txt", "shared", T0)
    loader = CountingLoader(delay=0.05)  # a slow load, so the threads overlap inside get
    fc: FileCache[dict[str, object]] = FileCache(loader)
    n = 8
    start = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            start.wait(timeout=10)
            results[i] = fc.get(f)
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert not any(t.is_alive() for t in threads)
    assert loader.calls == Counter({f.resolve(): 1})
    assert all(r is results[0] for r in results)
    assert len(fc) == 1


# ---------------------------------------------------------------------------- study_area


@pytest.fixture
def area_dir(tmp_path: Path) -> Path:
    """A copy of the small valid study-area folder, every file at a fixed mtime."""
    folder = Path(shutil.copytree(STUDY_AREAS / "valid", tmp_path / "valid"))
    for f in folder.iterdir():
        os.utime(f, ns=(T0, T0))
    return folder


def test_different_files_load_side_by_side(tmp_path: Path) -> None:
    # the load of a.txt waits until b.txt has loaded: with one lock for every load it would time out
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("a")
    b.write_text("b")
    b_loaded = threading.Event()
    waited: list[bool] = []

    def loader(path: Path) -> str:
        if path.name == "a.txt":
            waited.append(b_loaded.wait(timeout=5))
        else:
            b_loaded.set()
        return path.read_text()

    fc: FileCache[str] = FileCache(loader)
    first = threading.Thread(target=fc.get, args=(a,))
    first.start()
    time.sleep(0.1)  # a.txt is loading now
    assert fc.get(b) == "b"
    first.join(timeout=10)
    assert waited == [True]
    assert fc.get(a) == "a"


def test_study_area_is_loaded_once_while_unchanged(area_dir: Path) -> None:
    first = cache.study_area(area_dir)
    assert cache.study_area(area_dir) is first
    assert cache.study_area(str(area_dir)) is first


def test_study_area_is_reloaded_after_a_layer_file_changes(area_dir: Path) -> None:
    demand_file = area_dir / "demand.geojson"
    n_demand = len(json.loads(demand_file.read_text(encoding="utf-8"))["features"])
    first = cache.study_area(area_dir)
    assert len(first.layer("demand")) == n_demand

    os.utime(area_dir / "roads.geojson", ns=(T0 + SECOND, T0 + SECOND))  # touched only
    touched = cache.study_area(area_dir)
    assert touched is not first
    assert cache.study_area(area_dir) is touched

    doc = json.loads(demand_file.read_text(encoding="utf-8"))
    doc["features"] = doc["features"][:-1]  # one demand point fewer
    demand_file.write_text(json.dumps(doc), encoding="utf-8")
    os.utime(demand_file, ns=(T0 + 2 * SECOND, T0 + 2 * SECOND))
    edited = cache.study_area(area_dir)
    assert edited is not touched
    assert len(edited.layer("demand")) == n_demand - 1


def test_clear_empties_the_study_area_cache(area_dir: Path) -> None:
    first = cache.study_area(area_dir)
    cache.clear()
    assert cache.study_area(area_dir) is not first
