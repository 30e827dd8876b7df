"""The ``surgeguard`` command line: one Typer app per command group, joined here.

Each ``cmd_<group>.py`` module holds a ``typer.Typer()`` with its commands; :data:`app` joins them
with ``add_typer`` (without a name, so their commands stay top-level: ``surgeguard solve``), except
``bench``, a named group (``surgeguard bench te``). Every command reads its inputs through
:mod:`surgeguard.serve.loaders` and checks its options and outputs with
:mod:`surgeguard.serve.options` before the work starts.

Errors are handled in one place, :class:`SurgeguardGroup`, and always end in one line on stderr:

* expected failures, exit code 2: any :class:`~surgeguard.SurgeguardError` (bad file, unknown node,
  negative demand, unknown policy, infeasible or failed solve, an option out of range, an output
  that cannot be written, ...), option parsing errors, unreadable or unwritable files (the
  :class:`OSError` family), a file that is not text, running out of memory;
* Ctrl-C: exit code 130;
* anything else (a bug): ``error: <type>: <message> (run with --debug for the traceback)``, exit
  code 1.

``surgeguard --debug COMMAND ...`` (or ``SURGEGUARD_DEBUG=1``) prints the traceback first. Warnings
raised while a command runs are shown when it succeeds, and dropped when it fails (they would only
precede the error line).
"""

from __future__ import annotations

import errno
import os
import re
import traceback
import warnings
from pathlib import Path

import typer
from typer.core import TyperGroup

from ..exceptions import SurgeguardError
from ..io.output import OutputExistsError
from ..routing.learned import ModelMismatchError
from . import (cmd_bench, cmd_demo, cmd_detect, cmd_estimate, cmd_forecast, cmd_info, cmd_learn, cmd_plan,
               cmd_route, cmd_run, cmd_serve, cmd_simulate, cmd_sweep, cmd_whatif)
from . import cmd_export, cmd_metrics
from .options import claimed_outputs, option_message, remove_empty_outputs, reset_outputs

__all__ = ["app", "main", "SurgeguardGroup", "CLI_HINTS", "error_line"]

#: What to add to a library error, by its type, to say which options fix it (library messages speak
#: of parameters and never of the command line's flags).
CLI_HINTS = {
    ModelMismatchError: "on the command line: the same --network and --paths/--k as for `surgeguard train`",
    OutputExistsError: "to overwrite: add --force",
}
#: The library's one message form for a bad parameter (:func:`surgeguard.validation.check_param`).
_PARAMETER_ERROR = re.compile(r"^The '(\w+)' parameter of ")
#: exit codes: an expected failure (bad input, options, files), and an interrupt (Ctrl-C)
EXIT_ERROR, EXIT_INTERRUPTED, EXIT_BUG = 2, 130, 1


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", "; ", str(text).strip())


def _below(path: str, roots) -> bool:
    try:
        p = Path(os.path.abspath(path))
    except (TypeError, ValueError):
        return False
    for r in roots:
        r = Path(os.path.abspath(r))
        if p == r or r in p.parents:
            return True
    return False


def _kind_of_parse_error(exc) -> tuple[str, object]:
    """(what was expected, the value given) from a Typer parsing error (a pydantic error inside)."""
    cause = exc.__cause__
    kind, value = "", None
    errors = getattr(cause, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            value = first.get("input")
            kind = str(first.get("type", ""))
        except Exception:  # noqa: BLE001 - wording only
            pass
    need = "an int" if kind.startswith("int") else "a number" if kind.startswith("float") else ""
    return need, value


def error_line(exc: BaseException, *, hint: str = "") -> tuple[int, str]:
    """The exit code and the one line for ``exc`` (see the module's docstring)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "error: interrupted"
    if isinstance(exc, typer.BadParameter) and getattr(exc, "param", None) is not None \
            and type(exc).__name__ != "MissingParameter":
        param = exc.param
        flag = next((o for o in param.opts if o.startswith("--")), param.opts[0] if param.opts else param.name)
        constraint = getattr(getattr(param, "callback", None), "constraint", None)
        need, value = _kind_of_parse_error(exc)
        if constraint is not None:
            need = constraint.describe()
        if need and value is not None:
            return EXIT_ERROR, f"error: {option_message(flag, need, value)}"
        return EXIT_ERROR, f"error: option {flag}: {_one_line(exc.message)}"
    if isinstance(exc, typer.TyperException):  # usage errors: no such option, missing option, ...
        fmt = getattr(exc, "format_message", None)
        text = fmt() if callable(fmt) else str(exc)
        ctx = getattr(exc, "ctx", None)
        see = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        return EXIT_ERROR, f"error: {_one_line(text)}{see}"
    if isinstance(exc, SurgeguardError):
        return EXIT_ERROR, f"error: {_one_line(exc)}{hint}"
    if isinstance(exc, UnicodeDecodeError):
        return EXIT_ERROR, (f"error: cannot read an input file: it is not {exc.encoding} text (byte "
                            f"{exc.object[exc.start:exc.start + 1]!r} at position {exc.start}); "
                            "check that each path names the right file")
    if isinstance(exc, OSError):
        name = exc.filename if exc.filename is not None else exc.filename2
        reason = exc.strerror or _one_line(exc) or type(exc).__name__
        if name is None:
            return EXIT_ERROR, f"error: {reason}"
        if _below(os.fsdecode(name) if isinstance(name, bytes) else str(name), claimed_outputs()):
            return EXIT_ERROR, f"error: cannot write {str(name)!r} ({reason}); check the output path"
        return EXIT_ERROR, f"error: cannot read {str(name)!r} ({reason}); check the path"
    if isinstance(exc, MemoryError):
        return EXIT_ERROR, ("error: out of memory: the inputs and options need more memory than this machine has; "
                            "use a smaller network, fewer candidate paths (--k), a shorter horizon or fewer steps")
    msg = _one_line(exc)
    return EXIT_BUG, f"error: {type(exc).__name__}{': ' + msg if msg else ''} (run with --debug for the traceback)"


class SurgeguardGroup(TyperGroup):
    """The command group that turns every failure of its commands, sub-groups included, into one
    line on stderr: exit code 2 for expected failures, 130 for Ctrl-C, 1 for anything else.

    A library error about a parameter that the command sets from an option names the option too
    (``... Got 1.5 instead. (option --target-util)``); the types in :data:`CLI_HINTS` get their hint.
    Outputs the command claimed (:func:`~surgeguard.serve.options.claim_output_dir`) and created
    empty are removed when it fails.
    """

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except typer.TyperException as exc:  # the top level's own options (surgeguard --bogus)
            if type(exc).__name__ == "NoArgsIsHelpError" or parent is not None:
                raise
            code, line = error_line(exc)
            typer.echo(line, err=True)
            raise typer.Exit(code) from None

    def invoke(self, ctx):
        if ctx.parent is not None:  # a nested group: the top level handles everything
            return super().invoke(ctx)
        reset_outputs()
        debug = bool(ctx.params.get("debug")) or os.environ.get("SURGEGUARD_DEBUG", "") not in ("", "0")
        with warnings.catch_warnings(record=True) as caught:
            try:
                result = super().invoke(ctx)
            except (typer.Exit, typer.Abort, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - every failure ends in one line
                if type(exc).__name__ == "NoArgsIsHelpError":
                    raise
                if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                    raise  # stdout closed (| head): Typer exits quietly
                if debug:
                    traceback.print_exc()
                hint = self.hint(ctx, exc) if isinstance(exc, SurgeguardError) else ""
                code, line = error_line(exc, hint=hint)
                remove_empty_outputs()
                typer.echo(line, err=True)
                raise typer.Exit(code) from None
        for w in caught:  # the command succeeded: show its warnings now
            warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)
        return result

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


@app.callback()
def root(debug: bool = typer.Option(False, "--debug", help="on an error, print the traceback before the one-line "
                                                          "message (also SURGEGUARD_DEBUG=1)")):
    """surgeguard: traffic surges, routing and resilience for telecom backbones."""


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
app.add_typer(cmd_simulate.app, name="simulate")  # simulate telemetry
app.add_typer(cmd_estimate.app)     # estimate
app.add_typer(cmd_export.app, name="export")  # export sr
app.add_typer(cmd_metrics.app)      # optimise-metrics
app.add_typer(cmd_run.app)          # run (the controller)
app.add_typer(cmd_serve.app)        # serve (the REST API and the dashboard)


def main():  # console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
