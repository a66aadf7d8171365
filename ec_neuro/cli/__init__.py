"""`ecneuro`: a thin click layer over the public Python API; each subcommand is its own module, imported when run."""
from __future__ import annotations

import difflib
import errno
import importlib
import importlib.util
import os
import sys

import click

from .. import interrupt, registry
from ..errors import UserError
from ..validate import one_line

DEBUG_ENV = "ECNEURO_TRACEBACK"  # set: unexpected errors show their traceback

# Python argument / config key -> the flag a user types (errors name what the user can change)
FLAGS: dict[str, str] = {
    "task": "--task", "method": "--method", "backend": "--backend", "precision": "--precision",
    "population": "--population", "generations": "--generations", "seed": "--seed", "workers": "--workers",
    "episodes": "--episodes", "steps": "--steps", "neurons": "--neurons", "input_scale": "--input-scale",
    "stimulus": "--stimulus", "run_dir": "--run-dir", "out": "--out", "dt": "--dt", "substeps": "--substeps",
    "backend_options": "--backend-option", "ray_address": "--ray-address", "ray_local": "--ray-local",
    "verify": "--verify", "max_steps": "--max-steps", "random": "--random", "format": "--format",
    "output": "--output",
}


class LazyGroup(click.Group):
    """Subcommands resolved from registry.COMMANDS on demand, so `ecneuro train` never imports Lava or Brian2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in registry.COMMANDS if self._available(name)]

    @staticmethod
    def _available(name: str) -> bool:
        return importlib.util.find_spec(registry.COMMANDS[name].split(":")[0]) is not None

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in registry.COMMANDS or not self._available(name):
            return None
        return registry.load(registry.COMMANDS[name])

    def resolve_command(self, ctx, args):  # type: ignore[no-untyped-def]
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=2)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise UserError(f"no command {name!r}.{hint} Commands: {', '.join(self.list_commands(ctx))}")
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ec-neuro")
def cli() -> None:
    """Evolving Connectivity: evolve 1-bit E/I spiking networks and deploy them to neuromorphic chips."""


def _usage_line(e: click.UsageError) -> str:
    """Click's usage error in one line, naming the command and where its help is."""
    cmd = e.ctx.command_path if e.ctx is not None else "ecneuro"
    return f"{one_line(e.format_message())} (see `{cmd} --help`)"


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {one_line(message)}", err=True)
    sys.exit(code)


def main() -> None:
    """Entry point: user mistakes become one line on stderr and exit status 2, never a traceback; Ctrl-C and
    SIGTERM end the command within seconds with one line (exit 130 / 143)."""
    interrupt.install()
    try:
        cli.main(prog_name="ecneuro", standalone_mode=False)
    except UserError as e:
        _fail(e.for_cli(FLAGS), e.exit_code)
    except click.UsageError as e:
        _fail(_usage_line(e))
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except interrupt.Interrupted as e:
        click.echo(one_line(str(e)), err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        _fail(e.format_message())
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except MemoryError:
        _fail("ran out of memory; use a smaller population, network (network.n_neurons), episode count or "
              "number of steps")
    except OSError as e:
        if e.errno == errno.ENOSPC:
            _fail(f"{e.filename or 'a file'}: no space left on device; free some space and run the command again")
        if os.environ.get(DEBUG_ENV):
            raise
        where = f"{e.filename}: " if e.filename else ""
        _fail(f"{where}{e.strerror or e} (set {DEBUG_ENV}=1 to see where)")
    except Exception as e:
        if os.environ.get(DEBUG_ENV):
            raise
        _fail(f"internal error, please report it: {type(e).__name__}: {e} (set {DEBUG_ENV}=1 for the traceback)", 1)
