"""Lake Formation grants enforced by the offline Athena: columns, wildcard exclusions, cells."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest


def _query(lab: Any, client: Any, sql: str) -> tuple[dict[str, Any], list[list[str | None]]]:
    qid = client.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": "hr"},
        ResultConfiguration={"OutputLocation": f"s3://{lab.bucket}/athena/"},
    )["QueryExecutionId"]
    for _ in range(500):
        qe = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if qe["Status"]["State"] not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.02)
    rows: list[list[str | None]] = []
    if qe["Status"]["State"] == "SUCCEEDED":
        res = client.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
        rows = [[d.get("VarCharValue") for d in r["Data"]] for r in res]
    return qe, rows


@pytest.fixture
def people(lab: Any) -> str:
    s3, glue, iam = lab.client("s3"), lab.client("glue"), lab.client("iam")
    body = "id,name,email,country,salary\n1,ann,a@x.com,US,100\n2,bob,b@x.com,FR,200\n3,cy,c@x.com,US,300\n"
    s3.put_object(Bucket=lab.bucket, Key="hr/people/p.csv", Body=body.encode())
    glue.create_database(DatabaseInput={"Name": "hr"})
    glue.create_table(
        DatabaseName="hr",
        TableInput={
            "Name": "people",
            "StorageDescriptor": {
                "Columns": [
                    {"Name": "id", "Type": "bigint"},
                    {"Name": "name", "Type": "string"},
                    {"Name": "email", "Type": "string"},
                    {"Name": "country", "Type": "string"},
                    {"Name": "salary", "Type": "bigint"},
                ],
                "Location": f"s3://{lab.bucket}/hr/people/",
                "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "Parameters": {"field.delim": ",", "skip.header.line.count": "1"},
                },
            },
            "TableType": "EXTERNAL_TABLE",
        },
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    arn = str(
        iam.create_role(RoleName="Analyst", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
    )
    iam.put_role_policy(
        RoleName="Analyst", PolicyName="analyst", PolicyDocument=json.dumps(_analyst_policy(lab))
    )
    return arn


def _analyst_policy(lab: Any, read_data: bool = True, write_results: bool = True) -> dict[str, Any]:
    """What an analyst needs in IAM-only mode: read the table's data, write query results."""
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["athena:*", "glue:Get*"], "Resource": "*"},
    ]
    if read_data:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{lab.bucket}", f"arn:aws:s3:::{lab.bucket}/hr/*"],
            }
        )
    if write_results:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": f"arn:aws:s3:::{lab.bucket}/athena/*",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def test_role_without_s3_read_is_denied_the_table_data(lab: Any, people: str) -> None:
    lab.client("iam").put_role_policy(
        RoleName="Analyst",
        PolicyName="analyst",
        PolicyDocument=json.dumps(_analyst_policy(lab, read_data=False)),
    )
    qe, _ = _query(lab, _analyst_athena(lab, people), "SELECT id FROM people")
    assert qe["Status"]["State"] == "FAILED"
    assert (
        qe["Status"]["StateChangeReason"]
        == f"Permission denied on S3 path: s3://{lab.bucket}/hr/people/"
    )


def test_role_without_results_write_is_denied(lab: Any, people: str) -> None:
    lab.client("iam").put_role_policy(
        RoleName="Analyst",
        PolicyName="analyst",
        PolicyDocument=json.dumps(_analyst_policy(lab, write_results=False)),
    )
    qe, _ = _query(lab, _analyst_athena(lab, people), "SELECT id FROM people")
    assert qe["Status"]["State"] == "FAILED"
    assert qe["Status"]["StateChangeReason"].startswith("Access denied when writing output to url")


def test_lake_formation_location_needs_no_s3_rights(lab: Any, people: str) -> None:
    lab.client("iam").put_role_policy(
        RoleName="Analyst",
        PolicyName="analyst",
        PolicyDocument=json.dumps(_analyst_policy(lab, read_data=False)),
    )
    lab.client("lakeformation").register_resource(
        ResourceArn=f"arn:aws:s3:::{lab.bucket}/hr", UseServiceLinkedRole=True
    )
    _grant(lab, people, {"Table": {"DatabaseName": "hr", "Name": "people"}})
    qe, rows = _query(lab, _analyst_athena(lab, people), "SELECT id FROM people")
    assert qe["Status"]["State"] == "SUCCEEDED", qe["Status"]
    assert len(rows) == 4


def _analyst_athena(lab: Any, role_arn: str) -> Any:
    import boto3

    creds = lab.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="analyst")[
        "Credentials"
    ]
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=lab.region,
    )
    return session.client("athena")


def _grant(lab: Any, role: str, resource: dict[str, Any], perms: list[str] | None = None) -> None:
    _take_table_out_of_iam_only_mode(lab)
    lab.client("lakeformation").grant_permissions(
        Principal={"DataLakePrincipalIdentifier": role},
        Resource=resource,
        Permissions=perms or ["SELECT"],
    )


def _take_table_out_of_iam_only_mode(lab: Any) -> None:
    """Revoke the default IAM_ALLOWED_PRINCIPALS grant (once), as on AWS before LF governs."""
    lf = lab.client("lakeformation")
    table = {"Table": {"DatabaseName": "hr", "Name": "people"}}
    iam_allowed = {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"}
    listed = lf.list_permissions(Resource=table)["PrincipalResourcePermissions"]
    if any(g["Principal"] == iam_allowed for g in listed):
        lf.revoke_permissions(Principal=iam_allowed, Resource=table, Permissions=["ALL"])


def test_new_table_gets_the_default_iam_allowed_principals_grant(lab: Any, people: str) -> None:
    lf = lab.client("lakeformation")
    table = {"Table": {"DatabaseName": "hr", "Name": "people"}}
    listed = lf.list_permissions(Resource=table)["PrincipalResourcePermissions"]
    assert [
        g["Permissions"]
        for g in listed
        if g["Principal"]["DataLakePrincipalIdentifier"] == "IAM_ALLOWED_PRINCIPALS"
    ] == [["ALL"]]
    # a column grant alone does not govern the table while the default grant stands
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": people},
        Resource={
            "TableWithColumns": {"DatabaseName": "hr", "Name": "people", "ColumnNames": ["id"]}
        },
        Permissions=["SELECT"],
    )
    qe, rows = _query(lab, _analyst_athena(lab, people), "SELECT email FROM people")
    assert qe["Status"]["State"] == "SUCCEEDED", qe["Status"]
    listed = lf.list_permissions(Resource=table)["PrincipalResourcePermissions"]
    assert any("TableWithColumns" in g["Resource"] for g in listed)  # column grants listed too


def test_revoking_a_grant_that_does_not_exist_fails(lab: Any, people: str) -> None:
    lf = lab.client("lakeformation")
    with pytest.raises(lf.exceptions.InvalidInputException, match="no permissions"):
        lf.revoke_permissions(
            Principal={"DataLakePrincipalIdentifier": people},
            Resource={"Table": {"DatabaseName": "hr", "Name": "people"}},
            Permissions=["SELECT"],
        )


def test_iam_only_mode_everyone_reads(lab: Any, people: str) -> None:
    qe, rows = _query(lab, _analyst_athena(lab, people), "SELECT * FROM people")
    assert qe["Status"]["State"] == "SUCCEEDED"
    assert rows[0] == ["id", "name", "email", "country", "salary"]


def test_column_grant_denies_other_columns(lab: Any, people: str) -> None:
    _grant(
        lab,
        people,
        {
            "TableWithColumns": {
                "DatabaseName": "hr",
                "Name": "people",
                "ColumnNames": ["id", "name"],
            }
        },
    )
    ath = _analyst_athena(lab, people)
    qe, rows = _query(lab, ath, "SELECT * FROM people ORDER BY id")
    assert qe["Status"]["State"] == "SUCCEEDED"
    assert rows == [["id", "name"], ["1", "ann"], ["2", "bob"], ["3", "cy"]]
    qe, _ = _query(lab, ath, "SELECT email FROM people")
    assert qe["Status"]["State"] == "FAILED"
    assert qe["Status"]["StateChangeReason"] == (
        "COLUMN_NOT_FOUND: line 1:8: Column 'email' cannot be resolved or requester is not "
        "authorized to access requested resources"
    )
    # the lab's own identity is the administrator: unrestricted
    qe, rows = _query(lab, lab.client("athena"), "SELECT email FROM people WHERE id = 1")
    assert rows[1] == ["a@x.com"]


def test_column_wildcard_exclusion_and_run_as(lab: Any, people: str) -> None:
    from mllab.offline.athena import run_as

    _grant(
        lab,
        people,
        {
            "TableWithColumns": {
                "DatabaseName": "hr",
                "Name": "people",
                "ColumnWildcard": {"ExcludedColumnNames": ["salary", "email"]},
            }
        },
    )
    with run_as(people):
        qe, rows = _query(lab, lab.client("athena"), "SELECT * FROM people WHERE id = 2")
    assert rows == [["id", "name", "country"], ["2", "bob", "FR"]]


def test_no_permission_at_all(lab: Any, people: str) -> None:
    _grant(
        lab,
        "arn:aws:iam::123456789012:role/Other",
        {"Table": {"DatabaseName": "hr", "Name": "people"}},
    )
    qe, _ = _query(lab, _analyst_athena(lab, people), "SELECT id FROM people")
    assert qe["Status"]["State"] == "FAILED"
    assert (
        "Insufficient Lake Formation permission(s) on people" in qe["Status"]["StateChangeReason"]
    )


def test_data_cells_filter_rows_and_columns(lab: Any, people: str) -> None:
    lf = lab.client("lakeformation")
    lf.create_data_cells_filter(
        TableData={
            "TableCatalogId": lab.account_id,
            "DatabaseName": "hr",
            "TableName": "people",
            "Name": "us_only",
            "RowFilter": {"FilterExpression": "country = 'US'"},
            "ColumnNames": ["id", "name", "country"],
        }
    )
    assert lf.list_data_cells_filter()["DataCellsFilters"][0]["Name"] == "us_only"
    _grant(
        lab,
        people,
        {
            "DataCellsFilter": {
                "TableCatalogId": lab.account_id,
                "DatabaseName": "hr",
                "TableName": "people",
                "Name": "us_only",
            }
        },
    )
    qe, rows = _query(lab, _analyst_athena(lab, people), "SELECT * FROM people ORDER BY id")
    assert qe["Status"]["State"] == "SUCCEEDED", qe["Status"]
    assert rows == [["id", "name", "country"], ["1", "ann", "US"], ["3", "cy", "US"]]


def test_revoke_returns_to_denied(lab: Any, people: str) -> None:
    res = {"Table": {"DatabaseName": "hr", "Name": "people"}}
    _grant(lab, people, res)
    _grant(lab, "arn:aws:iam::123456789012:role/Other", res)
    ath = _analyst_athena(lab, people)
    assert _query(lab, ath, "SELECT salary FROM people")[0]["Status"]["State"] == "SUCCEEDED"
    lab.client("lakeformation").revoke_permissions(
        Principal={"DataLakePrincipalIdentifier": people}, Resource=res, Permissions=["SELECT"]
    )
    listed = lab.client("lakeformation").list_permissions()["PrincipalResourcePermissions"]
    assert all(p["Principal"]["DataLakePrincipalIdentifier"] != people for p in listed)
    assert _query(lab, ath, "SELECT salary FROM people")[0]["Status"]["State"] == "FAILED"
