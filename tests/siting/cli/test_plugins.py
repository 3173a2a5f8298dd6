"""Commands other packages add to ``siting`` (entry-point group ``siting.commands``).

Fake plugins are modules put in ``sys.modules`` (or written to a temporary folder on ``sys.path``) and
mounted on a fresh typer app; their entry points belong to the installed ``siting`` distribution,
whose metadata lists ``fastapi ...; extra == "api"``.
"""

from __future__ import annotations

import re
import sys
import types
from collections import Counter
from importlib.metadata import EntryPoint, distribution
from pathlib import Path

import pytest
import typer
from typer.main import get_command_name
from typer.testing import CliRunner

import siting.cli.main as cli
from siting.cli.main import COMMANDS_GROUP, _extra_for, _mount_subcommands, _unavailable, app

runner = CliRunner()
SITING = distribution("siting")
PLUGIN = "siting_test_plugin"
#: Wide enough that rich does not wrap a help line (typer ignores click's terminal_width).
WIDE = {"COLUMNS": "200"}


def entry_point(name: str, value: str, *, dist: bool = True) -> EntryPoint:
    """An entry point of group ``siting.commands``, of the installed ``siting`` distribution."""
    ep = EntryPoint(name=name, value=value, group=COMMANDS_GROUP)
    # importlib.metadata sets .dist this way on the entry points it finds (EntryPoint is immutable)
    return ep._for(SITING) if dist else ep


def fresh_app() -> typer.Typer:
    """A small core app: a callback, a command named by its function, one named explicitly."""
    target = typer.Typer(
        name="siting", no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False
    )

    @target.callback()
    def main() -> None:
        """Test core."""

    @target.command()
    def hello() -> None:
        """Core hello."""
        typer.echo("hello from the core")

    @target.command("serve-reports")
    def serve_reports() -> None:
        """Core reports."""
        typer.echo("core reports")

    return target


def registered_names(target: typer.Typer) -> list[str]:
    """Every command and group name of ``target``, as typer resolves them (duplicates kept)."""
    names = [
        c.name or get_command_name(c.callback.__name__)
        for c in target.registered_commands
        if c.callback is not None
    ]
    return names + [str(g.name) for g in target.registered_groups]


def listed_commands(help_text: str) -> list[str]:
    """Command names in the rich "Commands" panel of a --help text."""
    panel = help_text.split("─ Commands ", 1)[1]
    return re.findall(r"^│ ([a-z][a-z0-9-]*) ", panel, flags=re.MULTILINE)


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A plugin module with a typer app (``group``) and two plain functions."""
    module = types.ModuleType(PLUGIN)
    group = typer.Typer(help="Plugin group.", no_args_is_help=True)

    @group.command()
    def ping() -> None:
        """Answer pong."""
        typer.echo("pong")

    @group.command()
    def add(a: int, b: int) -> None:
        """Add two numbers."""
        typer.echo(str(a + b))

    def shout(word: str) -> None:
        """Shout a word."""
        typer.echo(word.upper())

    def whisper() -> None:
        """Whisper."""
        typer.echo("psst")

    module.group = group  # type: ignore[attr-defined]
    module.shout = shout  # type: ignore[attr-defined]
    module.whisper = whisper  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, PLUGIN, module)
    return module


@pytest.fixture
def no_fastapi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A plugin module that imports fastapi, on a machine where fastapi is "not installed"."""
    name = "siting_test_needs_fastapi"
    (tmp_path / f"{name}.py").write_text("import fastapi\n\n\ndef serve() -> None:\n    pass\n")
    monkeypatch.syspath_prepend(tmp_path)
    monkeypatch.setitem(sys.modules, "fastapi", None)  # `import fastapi` raises ModuleNotFoundError
    return name


# ---------------------------------------------------------------------------- mounting


def test_a_typer_app_becomes_a_command_group(plugin: types.ModuleType) -> None:
    target = fresh_app()
    _mount_subcommands(target, [entry_point("tools", f"{PLUGIN}:group")])
    assert runner.invoke(target, ["tools", "ping"]).output == "pong\n"
    result = runner.invoke(target, ["tools", "add", "2", "3"])
    assert result.exit_code == 0 and result.output == "5\n"
    assert set(listed_commands(runner.invoke(target, ["tools", "--help"]).output)) == {"ping", "add"}


def test_a_function_becomes_a_command(plugin: types.ModuleType) -> None:
    target = fresh_app()
    _mount_subcommands(target, [entry_point("shout", f"{PLUGIN}:shout")])
    result = runner.invoke(target, ["shout", "jiangbei"])
    assert result.exit_code == 0 and result.output == "JIANGBEI\n"


def test_mounting_adds_demo_and_every_plugin_once(plugin: types.ModuleType) -> None:
    target = fresh_app()
    eps = [entry_point("shout", f"{PLUGIN}:shout"), entry_point("tools", f"{PLUGIN}:group")]
    _mount_subcommands(target, eps)
    help_text = runner.invoke(target, ["--help"]).output
    assert sorted(listed_commands(help_text)) == ["demo", "hello", "serve-reports", "shout", "tools"]
    assert sorted(registered_names(target)) == ["demo", "hello", "serve-reports", "shout", "tools"]


def test_the_default_is_the_siting_commands_group(
    plugin: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = []

    def fake_entry_points(**params: str) -> list[EntryPoint]:
        asked.append(params)
        return [entry_point("shout", f"{PLUGIN}:shout")]

    monkeypatch.setattr(cli, "entry_points", fake_entry_points)
    target = fresh_app()
    _mount_subcommands(target)
    assert asked == [{"group": "siting.commands"}]
    assert runner.invoke(target, ["shout", "a"]).output == "A\n"


@pytest.mark.parametrize("name", ["hello", "serve-reports", "demo"])
def test_an_entry_point_named_like_a_command_is_skipped(plugin: types.ModuleType, name: str) -> None:
    # "hello" is named by its function (CommandInfo.name is None), "serve-reports" explicitly,
    # "demo" is a group
    target = fresh_app()
    _mount_subcommands(target, [entry_point(name, f"{PLUGIN}:whisper")])
    names = registered_names(target)
    assert Counter(names)[name] == 1, names
    assert sorted(names) == ["demo", "hello", "serve-reports"]
    assert "psst" not in runner.invoke(target, [name]).output
    assert runner.invoke(target, ["hello"]).output == "hello from the core\n"


def test_of_two_entry_points_of_one_name_the_first_wins(plugin: types.ModuleType) -> None:
    target = fresh_app()
    eps = [entry_point("say", f"{PLUGIN}:whisper"), entry_point("say", f"{PLUGIN}:shout")]
    _mount_subcommands(target, eps)
    assert Counter(registered_names(target))["say"] == 1
    assert runner.invoke(target, ["say"]).output == "psst\n"


# ---------------------------------------------------------------------------- missing extras


def test_a_plugin_missing_fastapi_explains_which_extra_to_install(no_fastapi: str) -> None:
    target = fresh_app()
    _mount_subcommands(target, [entry_point("serve", f"{no_fastapi}:serve")])
    result = runner.invoke(target, ["serve"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a crash
    assert "Traceback" not in result.output
    assert "needs fastapi, which is not installed" in result.stderr
    assert "pip install 'siting[api]'" in result.stderr


def test_a_missing_extra_command_takes_any_arguments(no_fastapi: str) -> None:
    target = fresh_app()
    _mount_subcommands(target, [entry_point("serve", f"{no_fastapi}:serve")])
    for args in (["--port", "8001", "--demo"], ["--help"], ["anything", "-x"]):
        result = runner.invoke(target, ["serve", *args])
        assert result.exit_code == 1, args
        assert "pip install 'siting[api]'" in result.stderr, args


def test_a_missing_extra_command_is_listed_with_its_fix(no_fastapi: str) -> None:
    target = fresh_app()
    _mount_subcommands(target, [entry_point("serve", f"{no_fastapi}:serve")])
    help_text = runner.invoke(target, ["--help"], env=WIDE).output
    assert listed_commands(help_text).count("serve") == 1
    assert "Not available here: needs fastapi (pip install 'siting[api]')." in help_text


def test_an_import_error_naming_fastapi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # fastapi installed but too old: `from fastapi import X` fails with ImportError(name="fastapi")
    name = "siting_test_old_fastapi"
    (tmp_path / f"{name}.py").write_text("raise ImportError('cannot import name X', name='fastapi')\n")
    monkeypatch.syspath_prepend(tmp_path)
    target = fresh_app()
    _mount_subcommands(target, [entry_point("serve", f"{name}:serve")])
    result = runner.invoke(target, ["serve"])
    assert result.exit_code == 1
    assert "needs fastapi" in result.stderr and "pip install 'siting[api]'" in result.stderr


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("fastapi", "api"),
        ("fastapi.routing", "api"),  # a submodule: its top-level package
        ("pydantic_settings", "api"),  # module name with "_", distribution name with "-"
        ("sqlalchemy", "api"),
        ("psycopg", "api"),  # psycopg[binary]>=3.1
        ("dask", "dask"),
        ("jupyterlab", "notebooks"),
        ("spopt", "bench"),
        ("pulp", "bench"),
        ("numpy", None),  # a core dependency: no extra
        ("no_such_package", None),
    ],
)
def test_extra_for_reads_the_distribution_metadata(module: str, extra: str | None) -> None:
    # expected: [project.optional-dependencies] of pyproject.toml
    assert _extra_for(entry_point("serve", "x:y"), module) == extra


def test_without_a_distribution_the_fix_is_generic() -> None:
    ep = entry_point("serve", "x:y", dist=False)
    assert _extra_for(ep, "fastapi") is None
    command = _unavailable(ep, ImportError("no module", name="fastapi"))
    assert (
        command.__doc__ == "Not available here: needs fastapi (install the optional dependencies of siting)."
    )


def test_an_import_error_without_a_name_shows_its_message() -> None:
    ep = entry_point("serve", "x:y")
    command = _unavailable(ep, ImportError("libgdal.so.30: cannot open shared object file"))
    target = fresh_app()
    target.command("serve")(command)
    result = runner.invoke(target, ["serve"])
    assert result.exit_code == 1
    assert "needs libgdal.so.30: cannot open shared object file, which is not installed" in result.stderr
    assert "install the optional dependencies of siting" in result.stderr


# ---------------------------------------------------------------------------- the real app


def test_siting_help_lists_each_command_once() -> None:
    result = runner.invoke(app, ["--help"], env=WIDE)
    assert result.exit_code == 0
    listed = listed_commands(result.output)
    for name in ("serve", "api-key", "serve-reports", "demo", "run", "validate"):
        assert listed.count(name) == 1, (name, listed)
    assert len(listed) == len(set(listed))
    names = registered_names(app)
    assert len(names) == len(set(names)), names


def test_the_real_entry_points_are_mounted() -> None:
    found = {ep.name: ep.value for ep in SITING.entry_points if ep.group == COMMANDS_GROUP}
    assert found == {"serve": "siting_api.cli:serve_api", "api-key": "siting_api.cli:api_key_app"}
    result = runner.invoke(app, ["api-key", "--help"], env=WIDE)
    assert result.exit_code == 0
    assert set(listed_commands(result.output)) >= {"create", "revoke", "list"}
