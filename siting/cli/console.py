"""What every ``siting`` command shares: the consoles, the step display and clean error exits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from siting.errors import SitingError

__all__ = ["console", "err_console", "fail", "steps"]

console = Console()
err_console = Console(stderr=True)
log = logging.getLogger("siting")


@contextmanager
def steps(title: str) -> Iterator[Callable[[str], None]]:
    """Show a rich progress display; yields a callback that starts the next named step."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        current: list[Any] = []

        def step(message: str) -> None:
            if current:
                progress.update(current[-1], completed=1, total=1)
            current.append(progress.add_task(f"{title}: {message}", total=None))

        yield step
        if current:
            progress.update(current[-1], completed=1, total=1)


def fail(exc: BaseException, *, code: int = 1) -> typer.Exit:
    """Print an error as a clean message (no traceback) and return the exit to raise."""
    if isinstance(exc, SitingError):
        # the message is plain text: "pip install 'siting[api]'" must not be read as rich markup
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    else:
        log.exception("unexpected error")
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
            "This is a bug in siting, not in your input; please report it with the command you ran.",
            highlight=False,
        )
        code = 2
    return typer.Exit(code)
