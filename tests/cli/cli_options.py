"""Every command's options as click declares them: flags, type, default, help.

`python tests/cli/cli_options.py > tests/cli/cli_options.json` writes the snapshot that
tests/cli/test_options_snapshot.py holds the commands to (taken before the shared option
decorators of geoseg/cli/options.py replaced per-command declarations).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from geoseg.cli.main import COMMANDS, LazyGroup, cli


def _describe(param: click.Parameter, ctx: click.Context) -> dict[str, Any]:
    """click's own description of `param` (flags, type, default, help ...), what it shows
    in --help, and what to_info_dict leaves out (show_default, metavar, expose_value)."""
    info = param.to_info_dict()
    info["expose_value"] = param.expose_value
    info["metavar"] = param.metavar
    if isinstance(param, click.Option):
        info["show_default"] = param.show_default
        info["help_record"] = param.get_help_record(ctx)
    return json.loads(json.dumps(info, default=repr, sort_keys=True))


def _commands(group: click.Group, ctx: click.Context, prefix: str):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        path = f"{prefix} {name}".strip()
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, ctx, path)


def snapshot() -> dict[str, Any]:
    """{command path: {"help": docstring, "params": [param, ...] in declaration order}}."""
    assert isinstance(cli, LazyGroup) and COMMANDS
    ctx = click.Context(cli)
    out = {}
    for path, command in _commands(cli, ctx, ""):
        sub = click.Context(command, info_name=path, parent=ctx)
        out[path] = {"help": command.help, "params": [_describe(p, sub) for p in command.params]}
    return out


if __name__ == "__main__":
    json.dump(snapshot(), sys.stdout, indent=1, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")
