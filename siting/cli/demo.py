"""``siting demo``: rebuild, summarise and map the embedded demo study areas."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from siting.demo import DEMOS, GIS_DATA, build_central, build_jiangbei, demo_path, summarise
from siting.demo.plot import DETAIL, plot_study_area

__all__ = ["demo_app"]

demo_app = typer.Typer(
    help="Embedded demo study areas: Jiangbei New Area (OSM land + modelled layers) and central Nanjing.",
    no_args_is_help=True,
)
console = Console()

RawOpt = Annotated[Path, typer.Option("--raw-dir", help="Folder with the raw OSM files.")]


@demo_app.command("build")
def build(
    raw_dir: RawOpt = GIS_DATA / "raw",
    jiangbei_out: Annotated[Path, typer.Option(help="Output GeoPackage of the Jiangbei demo.")] = GIS_DATA
    / "jiangbei.gpkg",
    central_out: Annotated[
        Path, typer.Option(help="Output GeoPackage of the central Nanjing demo.")
    ] = GIS_DATA / "nanjing_central.gpkg",
    seed: Annotated[int, typer.Option(help="Seed of the Jiangbei population history.")] = 20190,
) -> None:
    """Rebuild both demo GeoPackages from the raw files (seeded, deterministic)."""
    if not raw_dir.is_dir():
        console.print(
            f"[red]raw folder not found: {raw_dir}[/red]. Fix: pass --raw-dir pointing at gis_data/raw."
        )
        raise typer.Exit(code=2)
    for name, func, out in (
        ("jiangbei", build_jiangbei, jiangbei_out),
        ("nanjing_central", build_central, central_out),
    ):
        t0 = time.perf_counter()
        counts = func(raw_dir, out, seed=seed) if name == "jiangbei" else func(raw_dir, out)
        dt = time.perf_counter() - t0
        text = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        console.print(f"[bold]{name}[/bold] -> {out} ({out.stat().st_size / 1e6:.2f} MB, {dt:.1f} s): {text}")


def _table(name: str, info: dict[str, Any]) -> Table:
    """Rich table of one demo's layers."""
    table = Table(title=f"{name}: {DEMOS.get(name, info['path'])}", title_justify="left")
    for col in ("layer", "features", "geometry", "source", "kind"):
        table.add_column(col, justify="right" if col == "features" else "left")
    for layer, li in info["layers"].items():
        if layer in info["real_layers"]:
            kind = "real"
        elif layer in info["proxy_layers"]:
            kind = "real (proxy)"
        else:
            kind = "modelled"
        table.add_row(layer, f"{li['count']:,}", li["geometry"], ", ".join(li["sources"]), kind)
    return table


@demo_app.command("info")
def info(
    path: Annotated[
        list[Path] | None, typer.Argument(help="GeoPackages to summarise (default: both committed demos).")
    ] = None,
) -> None:
    """Print each demo's layers, feature counts, residents, households, grids, and what is real or modelled."""
    targets = [(p.stem, p) for p in path] if path else [(n, demo_path(n)) for n in DEMOS]
    missing = [str(p) for _, p in targets if not p.exists()]
    if missing:
        console.print(f"[red]not found: {', '.join(missing)}[/red]. Fix: run `siting demo build` first.")
        raise typer.Exit(code=2)
    for name, p in targets:
        s = summarise(p)
        console.print(_table(name, s))
        cands = ", ".join(f"{k} {v:,}" for k, v in s["candidates"].items()) or "none"
        console.print(
            f"  residents {s['residents']:,.0f} · households {s['households']:,.0f} · grids {s['grids']:,} · "
            f"demand points {s['demand_points']:,} · candidates: {cands} · file {s['size_bytes'] / 1e6:.2f} MB"
        )
        console.print(
            f"  real: {', '.join(s['real_layers']) or '-'} | modelled: {', '.join(s['modelled_layers']) or '-'}"
            f" | proxy: {', '.join(s['proxy_layers']) or '-'}\n"
        )


@demo_app.command("map")
def map_(
    out_dir: Annotated[Path, typer.Option(help="Folder for the PNG maps.")] = GIS_DATA.parent / "docs",
    name: Annotated[list[str] | None, typer.Option(help="Demo(s) to map (default: all).")] = None,
) -> None:
    """Write a PNG map of each demo study area (layers coloured by kind)."""
    unknown = sorted(set(name or []) - set(DEMOS))
    if unknown:
        console.print(f"[red]unknown demo(s): {', '.join(unknown)}[/red]. Fix: use {', '.join(DEMOS)}.")
        raise typer.Exit(code=2)
    for key, title in DEMOS.items():
        if name and key not in name:
            continue
        src = demo_path(key)
        if not src.exists():
            console.print(f"[red]not found: {src}[/red]. Fix: run `siting demo build` first.")
            raise typer.Exit(code=2)
        out = plot_study_area(src, out_dir / f"demo_{key}.png", title=title, zoom=DETAIL[key])
        console.print(f"wrote {out}")
