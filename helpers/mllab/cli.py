"""The ``mllab`` command line (introduced in lab 00).

``mllab doctor`` checks the setup, ``mllab cost`` reads the ledger, ``mllab sweep`` finds and
deletes mllab-tagged leftovers; the study commands (quiz, exam, audit, plan, progress, bank)
and ``mllab run`` (execute a lab headless) are added from their modules.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata as md
import platform
import re
import sys
from typing import Any

import click

from mllab import config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aws-ml-labs", prog_name="mllab")
def main() -> None:
    """aws-ml-labs: hands-on labs for the AWS ML certifications, offline by default."""


# --------------------------------------------------------------------------- doctor
def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "MISSING"


@main.command()
def doctor() -> None:
    """Check Python, packages, backend, credentials, budget and ledger; exit 1 with the fix."""
    problems: list[str] = []
    rows: list[tuple[str, str]] = [("python", platform.python_version())]
    if sys.version_info < (3, 11):  # noqa: UP036 - doctor runs on whatever Python is at hand
        problems.append("Python 3.11 or newer is needed: install it and rerun `make lab`.")
    for dist in (
        "boto3",
        "sagemaker",
        "moto",
        "pandas",
        "scikit-learn",
        "xgboost-cpu",
        "duckdb",
        "jupyterlab",
    ):
        v = _version(dist)
        rows.append((dist, v))
        if v == "MISSING":
            problems.append(f"{dist} is not installed: run `make lab` (or `pip install -e .`).")
    sm = _version("sagemaker")
    if sm != "MISSING" and not sm.startswith("3."):
        problems.append(
            f"sagemaker {sm} is installed; the labs need the v3 SDK: pip install 'sagemaker>=3.27,<4'."
        )
    try:
        backend = config.backend()
        budget = config.budget_usd()
    except ValueError as err:
        problems.append(str(err))
        backend, budget = "?", float("nan")
    rows += [
        ("backend", backend),
        ("region", config.region()),
        ("budget", f"${budget:,.2f} per lab run"),
        ("home", str(config.home())),
        ("ledger", str(config.home() / "ledger.sqlite")),
    ]
    if backend == "aws":
        from mllab.backends import aws as aws_backend

        try:
            allowed = config.allowed_accounts()
            aws_backend.require_allow_list(allowed)
            session = aws_backend.make_session(config.region())
            account = aws_backend.check_account(session, allowed)
            rows.append(("account", f"{account} (allowed)"))
            rows += _sandbox_rows(session, account)
        except aws_backend.BackendError as err:
            problems.append(str(err))
    else:
        rows.append(("sandbox", "offline: the in-process guard only (mllab sandbox is for aws)"))
    from mllab.guard import admission

    rows.append(("guard", "default-deny" if admission.enforcing() else "MLLAB_GUARD_ENFORCE=0"))
    for name, value in rows:
        click.echo(f"{name:<12} {value}")
    if problems:
        click.echo("")
        for p in problems:
            click.echo(f"PROBLEM: {p}", err=True)
        sys.exit(1)
    click.echo("\nAll good.")


def _sandbox_rows(session: object, account: str) -> list[tuple[str, str]]:
    """What ``mllab sandbox --apply`` put in place (read-only)."""
    import os

    from mllab import sandbox as sb

    try:
        st = sb.status(session, account)
    except Exception as err:  # noqa: BLE001 - no IAM/Budgets read access: say so
        return [("sandbox", f"could not read ({err})")]
    role = "in place" if st["role"] else "missing (run `mllab sandbox --apply`)"
    assumed = os.environ.get("MLLAB_SANDBOX_ROLE_ARN") or "not set (labs use your own credentials)"
    return [
        ("sandbox role", f"{sb.ROLE_NAME} {role}; boundary {st['boundary'] or 'none'}"),
        ("role policies", ", ".join(st["policies"]) or "none"),
        (
            "aws budget",
            f"{st['budget_usd']} USD/month, {st['notifications']} alerts"
            if st["budget_usd"]
            else "none",
        ),
        ("assumed role", assumed),
    ]


# --------------------------------------------------------------------------- cost
@main.command()
@click.option("--lab", "lab_name", help="Only this lab.")
@click.option("--run", "run_id", help="Only this run.")
@click.option("--detail", is_flag=True, help="One line per resource.")
@click.option(
    "--refresh",
    is_flag=True,
    help="aws backend: refresh SageMaker instance prices from the AWS Price List API.",
)
def cost(lab_name: str | None, run_id: str | None, detail: bool, refresh: bool) -> None:
    """Show the ledger: estimate vs actual per lab and resource, spent vs budget."""
    from mllab.guard.ledger import Ledger

    if refresh:
        _refresh_prices()

    ledger = Ledger(config.home() / "ledger.sqlite")
    rows = ledger.rows(lab=lab_name, run=run_id)
    if not rows:
        click.echo("The ledger is empty: no billable request has been made yet.")
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120, force_terminal=False, no_color=not sys.stdout.isatty())
    if detail:
        table = Table(title="Billable requests (estimate = worst case; actual when known)")
        for col in ("when", "lab", "backend", "operation", "resource", "estimate $", "actual $"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                dt.datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M"),
                r.lab,
                r.backend,
                f"{r.service}:{r.operation}",
                r.resource[:40],
                f"{r.estimate_usd:.4f}",
                "" if r.actual_usd is None else f"{r.actual_usd:.4f}",
            )
        console.print(table)
    summary: dict[tuple[str, str, str], list[Any]] = {}
    for r in rows:
        key = (r.lab, r.run, r.backend)
        s = summary.setdefault(key, [0, 0.0, 0.0])
        s[0] += 1
        s[1] += r.estimate_usd
        s[2] += r.charged_usd
    table = Table(title="Per lab run (charged = actual where known, else estimate)")
    for col in ("lab", "run", "backend", "requests", "estimate $", "charged $", "budget $"):
        table.add_column(col)
    budget = config.budget_usd()
    for (lab, run, backend), (n, est, charged) in summary.items():
        table.add_row(lab, run, backend, str(n), f"{est:.4f}", f"{charged:.4f}", f"{budget:.2f}")
    console.print(table)


def _refresh_prices() -> None:
    from mllab.guard import pricing

    if config.backend() != "aws":
        click.echo(
            f"Offline: prices come from the shipped {pricing.snapshot_label(config.region())}. "
            "--refresh reads the AWS Price List API and needs MLLAB_BACKEND=aws."
        )
        return
    from mllab.backends import aws as aws_backend

    try:
        allowed = config.allowed_accounts()
        aws_backend.require_allow_list(allowed)
        session = aws_backend.make_session(config.region())
        aws_backend.check_account(session, allowed)
    except aws_backend.BackendError as err:
        raise click.ClickException(str(err)) from None
    client = session.client("pricing", region_name="us-east-1")
    doc = pricing.refresh_from_price_list(client, config.region(), config.home())
    n = sum(len(v) for v in doc["usd_per_hour"].values())
    click.echo(f"Refreshed {n} SageMaker instance prices for {config.region()} ({doc['fetched']}).")


# --------------------------------------------------------------------------- sweep
def _duration(text: str | None) -> dt.timedelta | None:
    if not text:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if not m:
        raise click.BadParameter("use a number and a unit: 30m, 2h, 1d")
    n, unit = float(m.group(1)), m.group(2)
    return dt.timedelta(seconds=n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


@main.command()
@click.option("--lab", "lab_name", help="Only this lab's resources.")
@click.option("--older-than", help="Only resources created longer ago than this (30m, 2h, 1d).")
@click.option("--yes", is_flag=True, help="Delete them (default: list only).")
def sweep(lab_name: str | None, older_than: str | None, yes: bool) -> None:
    """List (and with --yes delete) billable resources tagged by mllab, across all labs.

    Every kind the cost guard can admit is listed (the admission table's deleters: SageMaker
    jobs, tuning jobs, pipeline executions, endpoints, monitoring schedules, streams, Bedrock
    and vector resources, ...), with pagination, and deleted through its deleter.
    """
    from mllab.teardown import delete_tagged, find_tagged

    age = _duration(older_than)
    backend = config.backend()
    if backend == "offline":
        from mllab import Lab

        click.echo(
            "Offline backend: the offline account lives inside one Python process, so a new "
            "process starts empty; sweep is the safety net for MLLAB_BACKEND=aws."
        )
        lab = Lab("mllab-sweep", backend="offline")
        session = lab.session
    else:
        from mllab.backends import aws as aws_backend

        try:
            allowed = config.allowed_accounts()
            aws_backend.require_allow_list(allowed)
            session = aws_backend.make_session(config.region())
            aws_backend.check_account(session, allowed)
        except aws_backend.BackendError as err:
            raise click.ClickException(str(err)) from None
        lab = None
    try:
        region = session.region_name or config.region()
        found = find_tagged(session, region, lab=lab_name, older_than=age)
        if not found:
            click.echo("No mllab-tagged billable resources found.")
            return
        for r in found:
            click.echo(f"{r.kind:<16} {r.name:<40} lab={r.lab} run={r.run} created={r.created}")
        if not yes:
            click.echo(
                f"\n{len(found)} resource(s). Dry run: nothing deleted. Rerun with --yes to delete."
            )
            return
        for d in delete_tagged(session, found):
            click.echo(f"{d['action']:<12} {d['kind']:<16} {d['name']}")
    finally:
        if lab is not None:
            lab.close()


@main.command()
@click.option("--apply", "do_apply", is_flag=True, help="Create the role, policies and budget.")
@click.option("--budget", "budget_usd", type=float, default=None, help="Monthly budget in USD.")
@click.option("--email", default=None, help="Where AWS Budgets sends alerts.")
@click.option("--budget-action", is_flag=True, help="Deny everything to the role at 100%.")
@click.option("--execution-role-arn", default=None, help="Role AWS Budgets assumes for the action.")
def sandbox(
    do_apply: bool,
    budget_usd: float | None,
    email: str | None,
    budget_action: bool,
    execution_role_arn: str | None,
) -> None:
    """Build the aws backend's boundary outside the kernel (dry run unless --apply).

    From the cost guard's admission table: an IAM role the lab assumes (set
    MLLAB_SANDBOX_ROLE_ARN to it), identity policies allowing only admitted operations, a
    permissions boundary with sagemaker:InstanceTypes / sagemaker:MaxRuntimeInSeconds /
    ec2:InstanceType conditions and denies of refused operations, and an AWS Budgets budget.
    """
    from mllab import sandbox as sb

    budget = budget_usd if budget_usd is not None else config.budget_usd()
    if do_apply:
        from mllab.backends import aws as aws_backend

        try:
            allowed = config.allowed_accounts()
            aws_backend.require_allow_list(allowed)
            session = aws_backend.make_session(config.region())
            account = aws_backend.check_account(session, allowed)
        except aws_backend.BackendError as err:
            raise click.ClickException(str(err)) from None
    else:
        accounts = config.allowed_accounts()
        account = accounts[0] if accounts else "111122223333"
    try:
        p = sb.plan(account, budget_usd=budget, email=email, budget_action=budget_action)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    if not do_apply:
        click.echo(p.to_json())
        click.echo("\nDry run: nothing was created. Rerun with --apply (MLLAB_BACKEND=aws).")
        return
    for line in sb.apply(session, p, execution_role_arn=execution_role_arn):
        click.echo(line)
    click.echo(f"Set MLLAB_SANDBOX_ROLE_ARN=arn:aws:iam::{account}:role/{sb.ROLE_NAME}")


def _add_commands() -> None:
    from mllab.study.cli import COMMANDS
    from mllab.workbook.cli import run

    for command in [*COMMANDS, run]:
        main.add_command(command)


_add_commands()
