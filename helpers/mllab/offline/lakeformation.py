"""Offline AWS Lake Formation: grants and data cells filters, enforced by the offline Athena (lab 01).

moto keeps ``GrantPermissions`` / ``RevokePermissions`` / ``ListPermissions`` and
``RegisterResource``; this module adds data cells filters (``CreateDataCellsFilter``,
``GetDataCellsFilter``, ``ListDataCellsFilter``, ``UpdateDataCellsFilter``,
``DeleteDataCellsFilter``, which moto lacks) and :func:`access_for`, which the offline
Athena asks before it reads a table.

Who is asking (the principal):

* the role of an assumed-role session: a client built from ``sts.assume_role``
  credentials is mapped back to the role ARN through moto's STS backend (IAM user keys
  map to the user ARN);
* or :func:`run_as` around the calls (``with run_as(role_arn): athena.start_query_execution(...)``);
* otherwise the lab's own identity, which is treated as the lab's administrator and
  is not restricted (a documented simplification).

When a table is governed: Lake Formation grants exist on it (table, table with columns,
table wildcard or a data cells filter, to anyone but ``IAM_ALLOWED_PRINCIPALS``) or its
location is registered with ``RegisterResource``. A governed table that grants
``IAM_ALLOWED_PRINCIPALS`` SELECT/ALL is open to everyone (IAM-only mode); an ungoverned
table is open to everyone too. Otherwise the principal sees only the columns it was
granted (``SELECT *`` returns them; naming another fails with ``COLUMN_NOT_FOUND ...
requester is not authorized``), only the rows its filters' ``RowFilter`` keeps, and a cell
only when a filter that includes that column keeps that row (cell-level security: NULL
otherwise). No grant at all fails with Athena's "Insufficient Lake Formation permission(s)".
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mllab.offline.registry import AwsError, OfflineCall, handles

if TYPE_CHECKING:  # pragma: no cover
    from mllab.offline.athena.engine import Source

IAM_ALLOWED = "IAM_ALLOWED_PRINCIPALS"
_READ = {"SELECT", "ALL"}
_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mllab_lf_principal", default=None
)


@contextlib.contextmanager
def run_as(principal_arn: str) -> Iterator[str]:
    """Run the Athena calls inside the block as ``principal_arn`` (introduced in lab 01).

    Args:
        principal_arn: an IAM role or user ARN, as used in Lake Formation grants.

    Returns:
        A context manager; costs nothing, deletes nothing.
    """
    token = _principal.set(principal_arn)
    try:
        yield principal_arn
    finally:
        _principal.reset(token)


def caller(call: OfflineCall) -> str | None:
    """Return the principal ARN a call runs as (run_as, assumed role, IAM user), or None."""
    explicit = _principal.get()
    if explicit:
        return explicit
    key = call.access_key
    if not key or key == "testing":
        return None
    try:
        from moto.sts.models import sts_backends

        for role in sts_backends[call.account_id]["global"].assumed_roles:
            if role.access_key_id == key:
                return str(role.role_arn)
    except Exception:  # noqa: BLE001 - no STS state
        pass
    try:
        from moto.iam.models import iam_backends

        for user in iam_backends[call.account_id]["global"].users.values():
            for ak in getattr(user, "access_keys", []):
                if ak.access_key_id == key:
                    return str(user.arn)
    except Exception:  # noqa: BLE001 - no IAM state
        pass
    return None


# --------------------------------------------------------------------------- state


def _backend(account_id: str, region: str) -> Any:
    from moto.lakeformation.models import lakeformation_backends

    return lakeformation_backends[account_id][region]


def _filters(account_id: str, region: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    be = _backend(account_id, region)
    store = getattr(be, "_mllab_cells_filters", None)
    if store is None:
        store = {}
        be._mllab_cells_filters = store
    return store


def _grants(account_id: str, region: str) -> list[dict[str, Any]]:
    be = _backend(account_id, region)
    out = []
    for catalog in list(be.grants.values()):
        for p in list(catalog.permissions):
            out.append(p.to_external_form())
    return out


# --------------------------------------------------------------------------- default grant, revoke


def _norm_resource(resource: dict[str, Any], account_id: str) -> dict[str, Any]:
    """The resource as Lake Formation stores it: CatalogId filled in, names lower-case."""
    out: dict[str, Any] = {}
    for kind, body in (resource or {}).items():
        if isinstance(body, dict):
            b = dict(body)
            if kind in ("Database", "Table", "TableWithColumns", "DataCellsFilter"):
                b.setdefault(
                    "CatalogId" if kind != "DataCellsFilter" else "TableCatalogId", account_id
                )
            for key in ("DatabaseName", "Name", "TableName"):
                if isinstance(b.get(key), str):
                    b[key] = b[key].lower()
            out[kind] = b
        else:
            out[kind] = body
    return out


def grant_default_permissions(account_id: str, region: str, database: str, table: str) -> None:
    """Give a new table the data lake's ``CreateTableDefaultPermissions`` (lab 01).

    A new account's default is ``IAM_ALLOWED_PRINCIPALS`` with ALL on every new table: IAM
    alone decides access until that grant is revoked. AWS adds the grant when a table is
    created (by Glue, a crawler or Athena); moto does not, so it is added here.
    """
    be = _backend(account_id, region)
    try:
        settings = be.get_data_lake_settings(account_id)
    except Exception:  # noqa: BLE001 - no settings: AWS's defaults
        settings = {}
    defaults = settings.get(
        "CreateTableDefaultPermissions",
        [{"Principal": {"DataLakePrincipalIdentifier": IAM_ALLOWED}, "Permissions": ["ALL"]}],
    )
    resource = {
        "Table": {"CatalogId": account_id, "DatabaseName": database.lower(), "Name": table.lower()}
    }
    for d in defaults or []:
        be.grant_permissions(
            account_id, dict(d["Principal"]), resource, list(d.get("Permissions") or []), []
        )


def _install_default_grant() -> None:
    from moto.glue.models import GlueBackend

    original = GlueBackend.create_table
    if getattr(original, "_mllab_default_grant", False):
        return

    def create_table(
        self: Any, database_name: str, table_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        table = original(self, database_name, table_name, *args, **kwargs)
        try:
            grant_default_permissions(self.account_id, self.region_name, database_name, table_name)
        except Exception:  # noqa: BLE001 - the table exists either way
            pass
        return table

    create_table._mllab_default_grant = True  # type: ignore[attr-defined]
    GlueBackend.create_table = create_table  # type: ignore[method-assign]


_install_default_grant()


@handles("lakeformation", "RevokePermissions")
def revoke_permissions(call: OfflineCall) -> dict[str, Any]:
    """Revoke a grant, matching its resource as Lake Formation does (CatalogId optional)."""
    p = call.params
    catalog = p.get("CatalogId") or call.account_id
    be = _backend(call.account_id, call.region)
    want = _norm_resource(p.get("Resource") or {}, call.account_id)
    principal = dict(p.get("Principal") or {})
    for perm in list(be.grants.get(catalog).permissions if catalog in be.grants else []):
        if perm.principal == principal and _norm_resource(perm.resource, call.account_id) == want:
            be.revoke_permissions(
                catalog,
                principal,
                perm.resource,
                list(p.get("Permissions") or []),
                list(p.get("PermissionsWithGrantOption") or []),
            )
            return {}
    raise AwsError(
        "InvalidInputException",
        "Grantee has no permissions and no grantable permissions on resource",
    )


@handles("lakeformation", "ListPermissions", "after")
def _list_permissions_table_columns(call: OfflineCall) -> None:
    """Listing a table's permissions also lists its column grants (TableWithColumns)."""
    res = (call.params.get("Resource") or {}).get("Table")
    if not res or not res.get("Name") or call.response is None:
        return
    db, name = str(res.get("DatabaseName", "")).lower(), str(res["Name"]).lower()
    listed = call.response.setdefault("PrincipalResourcePermissions", [])
    principal = call.params.get("Principal")
    for g in _grants(call.account_id, call.region):
        twc = (g.get("Resource") or {}).get("TableWithColumns")
        if not twc or str(twc.get("DatabaseName", "")).lower() != db:
            continue
        if str(twc.get("Name", "")).lower() != name or g in listed:
            continue
        if principal and g.get("Principal") != principal:
            continue
        listed.append(g)


# --------------------------------------------------------------------------- data cells filters


def _filter_key(d: dict[str, Any]) -> tuple[str, str, str]:
    return (
        str(d.get("DatabaseName", "")).lower(),
        str(d.get("TableName", "")).lower(),
        str(d.get("Name", "")),
    )


@handles("lakeformation", "CreateDataCellsFilter")
def create_data_cells_filter(call: OfflineCall) -> dict[str, Any]:
    """Create a data cells filter (row filter + columns) on a table (free)."""
    d = dict(call.params.get("TableData") or {})
    d.setdefault("TableCatalogId", call.account_id)
    key = _filter_key(d)
    if not all(key):
        raise AwsError("InvalidInputException", "TableData needs DatabaseName, TableName and Name")
    from mllab.offline.athena.catalog import get_fake_table

    if get_fake_table(call.account_id, call.region, key[0], key[1]) is None:
        raise AwsError("EntityNotFoundException", f"Table {key[1]} not found in database {key[0]}.")
    store = _filters(call.account_id, call.region)
    if key in store:
        raise AwsError("AlreadyExistsException", f"Data cells filter {key[2]} already exists.")
    if "ColumnNames" in d and "ColumnWildcard" in d:
        raise AwsError(
            "InvalidInputException", "Specify either ColumnNames or ColumnWildcard, not both"
        )
    if "RowFilter" not in d:
        raise AwsError(
            "InvalidInputException", "RowFilter is required (FilterExpression or AllRowsWildcard)"
        )
    d["VersionId"] = "1"
    store[key] = d
    return {}


@handles("lakeformation", "GetDataCellsFilter")
def get_data_cells_filter(call: OfflineCall) -> dict[str, Any]:
    """Describe one data cells filter."""
    key = _filter_key(call.params)
    got = _filters(call.account_id, call.region).get(key)
    if got is None:
        raise AwsError("EntityNotFoundException", f"Data cells filter {key[2]} not found.")
    return {"DataCellsFilter": got}


@handles("lakeformation", "ListDataCellsFilter")
def list_data_cells_filter(call: OfflineCall) -> dict[str, Any]:
    """List data cells filters, optionally of one table."""
    table = call.params.get("Table") or {}
    db, name = str(table.get("DatabaseName", "")).lower(), str(table.get("Name", "")).lower()
    out = [
        f
        for (fdb, ft, _), f in _filters(call.account_id, call.region).items()
        if not table or (fdb == db and ft == name)
    ]
    return {"DataCellsFilters": out}


@handles("lakeformation", "UpdateDataCellsFilter")
def update_data_cells_filter(call: OfflineCall) -> dict[str, Any]:
    """Replace a data cells filter's definition."""
    d = dict(call.params.get("TableData") or {})
    key = _filter_key(d)
    store = _filters(call.account_id, call.region)
    if key not in store:
        raise AwsError("EntityNotFoundException", f"Data cells filter {key[2]} not found.")
    d.setdefault("TableCatalogId", call.account_id)
    d["VersionId"] = str(int(store[key].get("VersionId", "1")) + 1)
    store[key] = d
    return {}


@handles("lakeformation", "DeleteDataCellsFilter")
def delete_data_cells_filter(call: OfflineCall) -> dict[str, Any]:
    """Delete a data cells filter (its grants stop applying)."""
    key = _filter_key(call.params)
    if _filters(call.account_id, call.region).pop(key, None) is None:
        raise AwsError("EntityNotFoundException", f"Data cells filter {key[2]} not found.")
    return {}


# --------------------------------------------------------------------------- enforcement


@dataclass
class Access:
    """What a principal may read of one table.

    Attributes:
        columns: the visible columns (lowercase).
        row_condition: DuckDB SQL keeping the visible rows, or None for all rows.
        cell_conditions: per column, DuckDB SQL under which its cell is visible.
        filter_columns: columns the row filters read (they count as scanned).
    """

    columns: set[str]
    row_condition: str | None = None
    cell_conditions: dict[str, str] = field(default_factory=dict)
    filter_columns: set[str] = field(default_factory=set)


def _table_matches(res: dict[str, Any], db: str, name: str) -> bool:
    if str(res.get("DatabaseName", "")).lower() != db:
        return False
    if "TableWildcard" in res:
        return True
    return str(res.get("Name", "")).lower() == name


def _location_registered(account_id: str, region: str, location: str) -> bool:
    if not location.startswith("s3://"):
        return False
    path = location[len("s3://") :].rstrip("/")
    for arn in list(_backend(account_id, region).resources):
        reg = str(arn).split(":::", 1)[-1].rstrip("/")
        if path == reg or path.startswith(reg + "/"):
            return True
    return False


def _sql_condition(expr: str) -> tuple[str, set[str]]:
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(expr, read="trino")
    cols = {c.name.lower() for c in tree.find_all(exp.Column)}
    return "(" + tree.sql(dialect="duckdb") + ")", cols


def access_for(
    account_id: str, region: str, principal: str | None, src: Source, sql: str = ""
) -> Access | None:
    """Return what ``principal`` may read of a table, or None when it may read everything.

    Args:
        account_id: the offline account.
        region: the region.
        principal: the caller's role/user ARN (None: the lab's own identity, unrestricted).
        src: the table (an :class:`mllab.offline.athena.engine.Source`).
        sql: the query (for the error message).

    Returns:
        None (no restriction) or an :class:`Access`.

    Raises:
        QueryError: the principal has no Lake Formation permission on the table.
    """
    from mllab.offline.athena.engine import QueryError

    db, name = src.db, src.name
    all_cols = [c for c, _ in src.columns + src.keys]
    grants = _grants(account_id, region)
    filters = {k: v for k, v in _filters(account_id, region).items() if k[0] == db and k[1] == name}

    def on_table(g: dict[str, Any]) -> dict[str, Any] | None:
        res = g.get("Resource") or {}
        for kind in ("Table", "TableWithColumns"):
            if kind in res and _table_matches(res[kind], db, name):
                return {"kind": kind, **res[kind]}
        if "DataCellsFilter" in res:
            f = res["DataCellsFilter"]
            if (
                str(f.get("DatabaseName", "")).lower() == db
                and str(f.get("TableName", "")).lower() == name
            ):
                return {"kind": "DataCellsFilter", **f}
        return None

    relevant = [(g, r) for g in grants if (r := on_table(g)) is not None]
    governed = (
        bool(filters)
        or any(
            (g.get("Principal") or {}).get("DataLakePrincipalIdentifier") != IAM_ALLOWED
            for g, _ in relevant
        )
        or _location_registered(account_id, region, src.location)
    )
    if not governed:
        return None
    for g, r in relevant:
        who = (g.get("Principal") or {}).get("DataLakePrincipalIdentifier")
        if who == IAM_ALLOWED and set(g.get("Permissions") or []) & _READ and r["kind"] == "Table":
            return None
    if principal is None:
        return None
    units: list[tuple[set[str], str | None, set[str]]] = []
    for g, r in relevant:
        if (g.get("Principal") or {}).get("DataLakePrincipalIdentifier") != principal:
            continue
        if not set(g.get("Permissions") or []) & _READ:
            continue
        if r["kind"] == "Table":
            units.append((set(all_cols), None, set()))
        elif r["kind"] == "TableWithColumns":
            if "ColumnNames" in r:
                cols = {c.lower() for c in r["ColumnNames"]}
            else:
                excl = {
                    c.lower()
                    for c in (r.get("ColumnWildcard") or {}).get("ExcludedColumnNames") or []
                }
                cols = set(all_cols) - excl
            units.append((cols, None, set()))
        else:
            f = filters.get((db, name, str(r.get("Name", ""))))
            if f is None:
                continue
            if "ColumnNames" in f and f["ColumnNames"]:
                cols = {c.lower() for c in f["ColumnNames"]}
            else:
                excl = {
                    c.lower()
                    for c in (f.get("ColumnWildcard") or {}).get("ExcludedColumnNames") or []
                }
                cols = set(all_cols) - excl
            rf = f.get("RowFilter") or {}
            if rf.get("FilterExpression") and "AllRowsWildcard" not in rf:
                cond, fcols = _sql_condition(str(rf["FilterExpression"]))
                units.append((cols, cond, fcols))
            else:
                units.append((cols, None, set()))
    if not units:
        raise QueryError(
            "Insufficient permissions to execute the query. Insufficient Lake Formation "
            f"permission(s) on {name}",
            2,
            1006,
        )
    visible = set().union(*(u[0] for u in units))
    if any(u[1] is None for u in units):
        row = None
    else:
        row = " OR ".join(sorted({u[1] for u in units if u[1]}))
    cells: dict[str, str] = {}
    for c in visible:
        conds = [u[1] for u in units if c in u[0]]
        if any(x is None for x in conds):
            continue
        joined = " OR ".join(sorted({x for x in conds if x}))
        if joined != row:
            cells[c] = joined
    fcols = set().union(*(u[2] for u in units))
    return Access(columns=visible, row_condition=row, cell_conditions=cells, filter_columns=fcols)
