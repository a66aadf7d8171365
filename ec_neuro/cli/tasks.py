"""`ecneuro tasks`: every task with its sizes, control period and defaults; `--check` runs the task checker."""
from __future__ import annotations

import json

import click

from ..errors import UserError


@click.command()
@click.option("--gym", "gym_ids", is_flag=True, help="also list every gymnasium id (any of them works as --task)")
@click.option("--check", "check_name", metavar="TASK", help="check a task (a name or pkg.module:Class) against the "
                                                              "task interface, one line per fault")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def tasks(gym_ids: bool, check_name: str | None, as_json: bool) -> None:
    """The tasks ec-neuro knows: observation/action sizes, control period, episode limit, run defaults."""
    from ..tasks.check import check, describe_all
    if check_name is not None:
        if not check_name.strip():
            raise UserError("--check needs a task: a name (`ecneuro tasks` lists ours), a gymnasium id or "
                            "pkg.module:Class")
        problems = check(check_name)
        if problems:
            raise UserError(f"task {check_name!r} violates the task interface ({len(problems)} fault"
                            f"{'s' * (len(problems) > 1)}): " + "; ".join(p.strip() for p in problems))
        click.echo(f"task {check_name!r} satisfies the task interface")
        return
    rows = describe_all()
    if as_json:
        click.echo(json.dumps(rows, indent=1))
    else:
        click.echo(f"{'task':16s} {'obs':>4s} {'act':>4s} {'period':>8s} {'steps':>6s} {'solved at':>9s}  defaults")
        for r in rows:
            if "error" in r:
                click.echo(f"{r['name']:16s} unavailable: {r['error']}")
                continue
            period = f"{r['control_period'] * 1000:.0f} ms" if r["control_period"] else "-"
            solved = f"{r['solved_threshold']:g}" if r["solved_threshold"] is not None else "-"
            defaults = ", ".join(f"{k}={v}" for k, v in r["defaults"].items())
            click.echo(f"{r['name']:16s} {r['n_obs']:4d} {r['n_act']:4d} {period:>8s} {r['max_steps']:6d} "
                       f"{solved:>9s}  {defaults}")
    if gym_ids:
        from ..tasks.resolve import _gym_ids
        click.echo("gymnasium ids: " + ", ".join(_gym_ids()))
    elif not as_json:
        click.echo("Any gymnasium id works as --task too (--gym lists them), and so does pkg.module:Class.")
