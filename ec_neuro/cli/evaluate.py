"""`ecneuro eval`: fresh episodes of a run's deployed network, on one backend or several side by side."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..compilers.common import PRECISIONS
from .options import backend_help, backend_option, parse_pairs


@click.command(name="eval")
@click.argument("source", metavar="RUN_DIR|NETWORK.npz", type=click.Path())
@click.option("--episodes", type=int, default=20, show_default=True, help="fresh episodes, run at once")
@click.option("--backend", "backends", multiple=True, help=f"one of {backend_help()}; repeat for a table  "
                                                            "[default: numpy]")
@click.option("--precision", type=click.Choice(PRECISIONS), default=None, help="[default: the run's precision]")
@click.option("--seed", type=int, default=12345, show_default=True, help="seed of the episodes")
@click.option("--task", default=None, help="another task with the same sizes  [default: the run's]")
@click.option("--max-steps", type=int, default=None, help="episode limit  [default: the task's]")
@click.option("--data", type=click.Path(), default=None, help="a classification task's data folder (N-MNIST)  "
                                                              "[default: the run's]")
@backend_option
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="also write the full reports here")
def evaluate(source, episodes, backends, precision, seed, task, max_steps, data, backend_options,
             json_file) -> None:  # type: ignore[no-untyped-def]
    """Evaluate the run's best deterministic network: mean ± std, range, lengths, solved or not.

    On a classification task (digits-events, nmnist): validation and test accuracy, and the test confusion
    matrix as RUN_DIR/confusion.png."""
    from .. import files
    from ..deploy.deployed import as_network
    from ..host.evaluate import evaluate as run, summary
    if json_file:
        files.check_output(json_file)
    from .. import registry
    options = parse_pairs(backend_options, "--backend-option")
    for b in backends or ("numpy",):  # every backend checked before the first one runs
        registry.backend_options(b, options)
    net = as_network(source)
    data = os.path.abspath(data) if data else None
    reports = [run(net, episodes, b, precision, seed, task, options, max_steps, data) for b in (backends or ("numpy",))]
    if reports[0].get("kind") == "classify":
        _classify(reports, source)
    elif len(reports) == 1:
        click.echo(summary(reports[0]))
    else:
        click.echo(f"{'backend':18s} {'mean':>10s} {'std':>9s} {'min':>9s} {'max':>9s} {'length':>8s}  solved")
        for r in reports:
            solved = "-" if r["solved"] is None else ("yes" if r["solved"] else "no")
            click.echo(f"{r['backend'] + '/' + r['precision']:18s} {r['mean']:10.2f} {r['std']:9.2f} "
                       f"{r['min']:9.2f} {r['max']:9.2f} {r['mean_length']:8.1f}  {solved}")
    if json_file:
        files.atomic_write(json_file, json.dumps(reports if len(reports) > 1 else reports[0], indent=1))
        click.echo(f"reports written to {json_file}", err=True)


def _classify(reports: list, source: str) -> None:
    """Print val/test accuracy per backend; a run directory gets the (first backend's) confusion.png."""
    from ..host.classify_eval import summary, write_confusion
    if len(reports) == 1:
        click.echo(summary(reports[0]))
    else:
        click.echo(f"{'backend':18s} {'val acc':>8s} {'test acc':>9s}")
        for r in reports:
            click.echo(f"{r['backend'] + '/' + r['precision']:18s} {r['val_accuracy']:8.4f} {r['accuracy']:9.4f}")
    if Path(source).is_dir():
        click.echo(f"confusion matrix: {write_confusion(reports[0], Path(source) / 'confusion.png')}", err=True)
