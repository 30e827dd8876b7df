"""The ``surgeguard`` command line: one Typer app per command group, joined here.

Each ``cmd_<group>.py`` module holds a ``typer.Typer()`` with its commands; :data:`app` joins them
with ``add_typer`` (without a name, so their commands stay top-level: ``surgeguard solve``), except
``bench``, a named group (``surgeguard bench te``). Every command reads its inputs through
:mod:`surgeguard.serve.loaders`. Errors are handled in one place, :class:`SurgeguardGroup`: any
:class:`~surgeguard.SurgeguardError` (bad file, unknown node, negative demand, unknown policy,
infeasible or failed solve, ...) and any unreadable file is printed as one line on stderr with exit
code 2 and no traceback.
"""

from __future__ import annotations

import re

import typer
from typer.core import TyperGroup

from ..exceptions import SurgeguardError
from ..routing.learned import ModelMismatchError
from . import (cmd_bench, cmd_demo, cmd_detect, cmd_forecast, cmd_info, cmd_learn, cmd_plan, cmd_route,
               cmd_sweep, cmd_whatif)

__all__ = ["app", "main", "SurgeguardGroup", "CLI_HINTS"]

#: What to add to a library error, by its type, to say which options fix it (library messages speak
#: of parameters and never of the command line's flags).
CLI_HINTS = {
    ModelMismatchError: "on the command line: the same --network and --paths/--k as for `surgeguard train`",
}
#: The library's one message form for a bad parameter (:func:`surgeguard.validation.check_param`).
_PARAMETER_ERROR = re.compile(r"^The '(\w+)' parameter of ")


class SurgeguardGroup(TyperGroup):
    """The command group that turns surgeguard errors (and unreadable files) raised by any of its
    commands, sub-groups included, into one line on stderr and exit code 2.

    A library error about a parameter that the command sets from an option names the option too
    (``... Got 1.5 instead. (option --target-util)``); the types in :data:`CLI_HINTS` get their hint.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SurgeguardError as exc:
            typer.echo(f"error: {exc}{self.hint(ctx, exc)}", err=True)
            raise typer.Exit(2)
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            typer.echo(f"error: cannot read {exc.filename!r} ({exc.strerror}); check the path", err=True)
            raise typer.Exit(2)

    def hint(self, ctx, exc: SurgeguardError) -> str:
        """The command-line hint appended to ``exc``'s message ("" when there is none)."""
        for kind, text in CLI_HINTS.items():
            if isinstance(exc, kind):
                return f" ({text})"
        match = _PARAMETER_ERROR.match(str(exc))
        command = self.get_command(ctx, ctx.invoked_subcommand) if ctx.invoked_subcommand else None
        if match is None or command is None:
            return ""
        for param in command.params:
            flags = [o for o in param.opts if o.startswith("--")]
            if param.name == match.group(1) and flags:
                return f" (option {flags[0]})"
        return ""


app = typer.Typer(cls=SurgeguardGroup, add_completion=False, no_args_is_help=True,
                  help="surgeguard: traffic surges, routing and resilience for telecom backbones.")

# the order here is the order of ``surgeguard --help``
app.add_typer(cmd_route.app)      # solve, replay
app.add_typer(cmd_demo.app)       # demo
app.add_typer(cmd_info.app)       # info
app.add_typer(cmd_forecast.app)   # forecast
app.add_typer(cmd_detect.app)     # detect
app.add_typer(cmd_learn.app)      # train
app.add_typer(cmd_whatif.app)     # whatif
app.add_typer(cmd_plan.app)       # plan, runout
app.add_typer(cmd_sweep.app)      # sweep
app.add_typer(cmd_bench.app, name="bench")  # bench te


def main():  # console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
