"""`ecneuro`: a thin click layer; each subcommand lives in its own module and is imported only when run."""
from __future__ import annotations

import importlib
import signal
import sys

import click

from ..errors import UserError

COMMANDS: dict[str, str] = {
    "train": "ec_neuro.cli.train:train",
    "eval": "ec_neuro.cli.train:evaluate",
    "bench": "ec_neuro.cli.bench:bench",
    "info": "ec_neuro.cli.info:info",
    "crosscheck": "ec_neuro.cli.crosscheck:crosscheck",
    "plot": "ec_neuro.cli.plot:plot",
    "export": "ec_neuro.cli.export:export",
    "import": "ec_neuro.cli.export:import_",
}


class LazyGroup(click.Group):
    """Subcommands resolved from COMMANDS on demand, so `ecneuro train` never imports Lava or Brian2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._available(name)]

    @staticmethod
    def _available(name: str) -> bool:
        return importlib.util.find_spec(COMMANDS[name].split(":")[0]) is not None

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not self._available(name):
            return None
        mod, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(mod), attr)

    def resolve_command(self, ctx, args):  # type: ignore[no-untyped-def]
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=2)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise click.UsageError(f"no command {name!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ec-neuro")
def cli() -> None:
    """Evolving Connectivity: evolve 1-bit E/I spiking networks and deploy them to neuromorphic chips."""


def main() -> None:
    """Entry point: user mistakes become one line on stderr and exit status 2, never a traceback."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed run shuts its workers down cleanly
    try:
        cli.main(standalone_mode=False)
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
