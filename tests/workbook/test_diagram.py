"""lab.diagram(): the live inventory as a Mermaid flowchart and a text tree."""

from __future__ import annotations

from typing import Any

from mllab.diagram import _prefix_of


def test_prefix_of() -> None:
    assert _prefix_of("raw/clicks/2025/03/01/part-1.gz") == "raw/clicks/"
    assert _prefix_of("raw/clicks/!{timestamp:yyyy}/") == "raw/clicks/"
    assert _prefix_of("curated/dt=2025-03-01/x.parquet") == "curated/"
    assert _prefix_of("file.csv") == ""


def test_pipeline_edges_from_live_state(lab: Any) -> None:
    k, fh, glue, sm = (lab.client(s) for s in ("kinesis", "firehose", "glue", "sagemaker"))
    k.create_stream(StreamName="clicks", ShardCount=1)
    arn = k.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
    fh.create_delivery_stream(
        DeliveryStreamName="clicks-to-s3",
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": arn, "RoleARN": lab.role_arn},
        ExtendedS3DestinationConfiguration={
            "RoleARN": lab.role_arn,
            "BucketARN": f"arn:aws:s3:::{lab.bucket}",
            "Prefix": "raw/clicks/!{timestamp:yyyy}/",
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
        },
    )
    glue.create_database(DatabaseInput={"Name": "clicks_db"})
    glue.create_crawler(
        Name="clicks-crawler",
        Role=lab.role_arn,
        DatabaseName="clicks_db",
        Targets={"S3Targets": [{"Path": f"s3://{lab.bucket}/raw/clicks"}]},
    )
    glue.create_table(
        DatabaseName="clicks_db",
        TableInput={
            "Name": "clicks",
            "StorageDescriptor": {"Columns": [], "Location": f"s3://{lab.bucket}/raw/clicks/"},
        },
    )
    sm.create_model(
        ModelName="fraud-xgb",
        ExecutionRoleArn=lab.role_arn,
        PrimaryContainer={
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "ModelDataUrl": f"s3://{lab.bucket}/models/job-1/output/model.tar.gz",
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName="fraud-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "fraud-xgb",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    d = lab.diagram()
    names = {label: nid for nid, (_, label) in d.nodes.items()}
    edges = {(d.nodes[a][1], d.nodes[b][1]) for a, b, _ in d.edges}
    assert ("clicks", "clicks-to-s3") in edges
    assert ("clicks-to-s3", "raw/clicks/") in edges
    assert ("raw/clicks/", "clicks-crawler") in edges
    assert ("raw/clicks/", "clicks_db.clicks") in edges
    assert ("clicks-crawler", "clicks_db") in edges
    assert ("models/job-1/model.tar.gz", "fraud-xgb") in edges
    assert ("fraud-xgb", "fraud-config") in edges
    md = d._repr_markdown_()
    assert md.startswith("```mermaid\nflowchart LR") and names["clicks"] in md
    text = str(d)
    assert "Kinesis streams" in text and "→ firehose delivery stream clicks-to-s3" in text
    bundle = d._repr_mimebundle_()
    assert set(bundle) == {"text/markdown", "text/plain"}


def test_empty_lab(lab: Any) -> None:
    d = lab.diagram()
    assert "nothing created yet" in str(d) or d.nodes
