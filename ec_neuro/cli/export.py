"""`ecneuro export RUN_DIR --format nir|loihi|npz|netx --output FILE [--nir-consumer C] [--precision P] [--report]` and `ecneuro import FILE --output NET.npz`."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .. import registry
from ..errors import UserError


def _task(source: str, net) -> str | None:  # type: ignore[no-untyped-def]
    cfg = Path(source) / "config.json"
    if cfg.is_file():
        try:
            return json.loads(cfg.read_text()).get("task") or net.task
        except (OSError, ValueError):
            pass
    return net.task


@click.command()
@click.argument("run_dir", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(list(registry.FORMATS)), help="output format")
@click.option("--output", "-o", type=click.Path(), help="file to write")
@click.option("--nir-consumer", type=click.Choice(["exact", "snntorch", "norse"]),
              help="nir: who runs the file as written (default exact; docs/export.md)")
@click.option("--precision", type=click.Choice(["float", "fixed"]),
              help="nir: the network to describe (default: the run's precision, else float)")
@click.option("--report", is_flag=True, help="print the Loihi-2 resource report")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def export(run_dir: str, fmt: str | None, output: str | None, nir_consumer: str | None, precision: str | None,
           report: bool, as_json: bool) -> None:
    """Export the deployed network of RUN_DIR (or a deployed .npz) for chips and other simulators."""
    if not report and not (fmt and output):
        raise UserError("export needs --format and --output (or --report)")
    if bool(fmt) != bool(output):
        raise UserError("--format and --output go together")
    if (nir_consumer or precision) and fmt != "nir":
        raise UserError(f"--nir-consumer and --precision apply to --format nir, not {fmt or 'a report'}")
    from ..deploy.deployed import as_network
    from ..deploy.weights import require_ei
    net = require_ei(as_network(run_dir), "export")
    if fmt:
        from ..deploy import export as do_export
        opts = {"consumer": nir_consumer, "precision": precision} if fmt == "nir" else {}
        path = do_export(run_dir if Path(run_dir).is_dir() else net, fmt, output, **opts)
        click.echo(f"wrote {path} ({fmt}{', ' + nir_consumer if nir_consumer else ''})", err=True)
    if report:
        from ..deploy.resources import format_report, report as make
        r = make(net, task=_task(run_dir, net))
        click.echo(json.dumps(r, indent=2) if as_json else format_report(r))


@click.command("import")
@click.argument("file", type=click.Path())
@click.option("--output", "-o", type=click.Path(), required=True, help="deployed .npz to write")
@click.option("--dt", type=float, help="substep in ms, for NIR files that carry none in their metadata")
@click.option("--substeps", type=int, help="substeps per control step (default: the file's, else 1)")
def import_(file: str, output: str, dt: float | None, substeps: int | None) -> None:
    """Read a NIR graph (ours, or a recurrent CubaLIF/LIF graph from another tool) into a deployed .npz."""
    from .. import files
    from ..deploy import import_nir
    from ..deploy.deployed import save
    files.check_output(output)
    net = import_nir(file, dt=dt, substeps=substeps)
    save(output, net)
    spec = net.spec
    click.echo(f"wrote {output}: {spec.n_neurons} neurons ({spec.n_exc} E), {spec.n_obs} inputs, {spec.n_act} outputs, "
               f"dt {spec.neuron.dt} ms x {spec.neuron.substeps}", err=True)
