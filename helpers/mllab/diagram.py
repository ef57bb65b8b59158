"""Architecture diagrams drawn from the live inventory (``lab.diagram()``, every lab).

:func:`diagram` lists what exists in the lab's account and region through the lab session
(S3 prefixes of the lab bucket, Kinesis streams, Firehose delivery streams, Glue databases,
tables and crawlers, Athena workgroups, SageMaker training jobs, models, endpoint configs,
endpoints, transform jobs, pipelines, model package groups) and links them the way data
flows::

    stream -> delivery stream -> bucket prefix -> crawler -> table
    bucket prefix -> training job -> model artifact -> model -> endpoint config -> endpoint

The result renders as a Mermaid flowchart in JupyterLab 4 (Markdown with a ``mermaid``
block) and as a text tree in a terminal (``print(lab.diagram())``). It makes read-only list
and describe calls: it costs nothing and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: Display order and labels of node kinds.
KINDS = {
    "stream": "Kinesis stream",
    "delivery": "Firehose delivery stream",
    "prefix": "S3 prefix",
    "crawler": "Glue crawler",
    "database": "Glue database",
    "table": "Glue table",
    "workgroup": "Athena workgroup",
    "training": "Training job",
    "tuning": "Tuning job",
    "artifact": "Model artifact",
    "model": "Model",
    "endpoint-config": "Endpoint config",
    "endpoint": "Endpoint",
    "transform": "Transform job",
    "pipeline": "Pipeline",
    "package-group": "Model package group",
}
_SHAPES = {
    "stream": ("[[", "]]"),
    "delivery": ("[[", "]]"),
    "prefix": ("[(", ")]"),
    "artifact": ("[(", ")]"),
    "table": ("[/", "/]"),
    "database": ("[/", "/]"),
    "endpoint": ("([", "])"),
}


@dataclass
class Diagram:
    """Nodes and edges of a lab's architecture.

    Attributes:
        nodes: node id -> ``(kind, label)``.
        edges: ``(from id, to id, label)``.
        title: the lab's name.
        problems: inventory calls that failed (listed under the drawing).
    """

    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    title: str = ""
    problems: list[str] = field(default_factory=list)

    def add(self, kind: str, label: str) -> str:
        """Add a node (once) and return its id."""
        nid = re.sub(r"[^A-Za-z0-9_]", "_", f"{kind}__{label}")
        self.nodes.setdefault(nid, (kind, label))
        return nid

    def link(self, a: str, b: str, label: str = "") -> None:
        """Add an edge (once)."""
        if a != b and (a, b, label) not in self.edges:
            self.edges.append((a, b, label))

    def of_kind(self, kind: str) -> list[str]:
        """Labels of the nodes of one kind, sorted."""
        return sorted(label for k, label in self.nodes.values() if k == kind)

    def to_mermaid(self) -> str:
        """Return the Mermaid flowchart source."""
        lines = ["flowchart LR"]
        for kind in KINDS:
            ids = sorted(i for i, (k, _) in self.nodes.items() if k == kind)
            if not ids:
                continue
            lines.append(f'  subgraph {kind.replace("-", "_")}_group["{KINDS[kind]}s"]')
            for i in ids:
                left, right = _SHAPES.get(kind, ("[", "]"))
                label = self.nodes[i][1].replace('"', "'")
                lines.append(f'    {i}{left}"{label}"{right}')
            lines.append("  end")
        for a, b, label in self.edges:
            arrow = f" -- {label} --> " if label else " --> "
            lines.append(f"  {a}{arrow}{b}")
        if not self.nodes:
            lines.append('  empty["nothing created yet"]')
        return "\n".join(lines)

    def __str__(self) -> str:
        out = [f"Architecture of {self.title}" if self.title else "Architecture"]
        if not self.nodes:
            out.append("  (nothing created yet)")
        outgoing: dict[str, list[tuple[str, str]]] = {}
        for a, b, label in self.edges:
            outgoing.setdefault(a, []).append((b, label))
        for kind in KINDS:
            ids = sorted(i for i, (k, _) in self.nodes.items() if k == kind)
            if not ids:
                continue
            out.append(f"{KINDS[kind]}s")
            for n, i in enumerate(ids):
                last = n == len(ids) - 1
                out.append(f"  {'└─' if last else '├─'} {self.nodes[i][1]}")
                for b, label in outgoing.get(i, []):
                    via = f" ({label})" if label else ""
                    bk, bl = self.nodes[b]
                    out.append(f"  {'  ' if last else '│ '}   → {KINDS[bk].lower()} {bl}{via}")
        for p in self.problems:
            out.append(f"(not listed: {p})")
        return "\n".join(out)

    def _repr_markdown_(self) -> str:
        note = "".join(f"\n\n*not listed: {p}*" for p in self.problems)
        return f"```mermaid\n{self.to_mermaid()}\n```{note}"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/markdown": self._repr_markdown_(), "text/plain": str(self)}


def _prefix_of(key_or_prefix: str, depth: int = 2) -> str:
    """The first ``depth`` folders of a key or prefix, ending in ``/`` ("raw/clicks/").

    The part after a Firehose expression (``!{...}``) and Hive partition folders
    (``dt=...``) are left out; a key's last segment (the file name) too.
    """
    static = re.split(r"!\{|\$\{", key_or_prefix, maxsplit=1)[0]
    parts = static.split("/")
    if not static.endswith("/"):
        parts = parts[:-1]
    out: list[str] = []
    for part in parts:
        if not part or "=" in part:
            break
        out.append(part)
    return "/".join(out[:depth]) + "/" if out else ""


def _s3_parts(uri: str) -> tuple[str, str]:
    m = re.match(r"s3://([^/]+)/?(.*)", uri or "")
    return (m.group(1), m.group(2)) if m else ("", "")


def _safe(d: Diagram, what: str, fn: Callable[[], Iterable[Any]]) -> list[Any]:
    try:
        return list(fn())
    except Exception as err:  # noqa: BLE001 - a missing service must not hide the rest
        d.problems.append(f"{what} ({type(err).__name__})")
        return []


def _one(d: Diagram, what: str, fn: Callable[..., Any], **params: Any) -> dict[str, Any] | None:
    try:
        return dict(fn(**params))
    except Exception as err:  # noqa: BLE001 - a missing resource must not hide the rest
        d.problems.append(f"{what} ({type(err).__name__})")
        return None


def diagram(lab: Any, *, max_items: int = 50) -> Diagram:
    """Draw what exists in the lab's account now (``lab.diagram()``, introduced in lab 01).

    Args:
        lab: the open lab.
        max_items: at most this many resources of each kind.

    Returns:
        A :class:`Diagram` (Mermaid in JupyterLab, a text tree in a terminal). Read-only; free.
    """
    d = Diagram(title=getattr(lab, "name", ""))
    bucket = lab.bucket

    def prefix_node(uri_or_key: str, b: str | None = None, is_key: bool = False) -> str | None:
        if uri_or_key.startswith("s3://"):
            b, key = _s3_parts(uri_or_key)
        else:
            key = uri_or_key
        if not is_key and not key.endswith("/") and "!{" not in key:
            key += "/"
        p = _prefix_of(key)
        if not p:
            return None
        where = "" if b in (None, bucket) else f"s3://{b}/"
        return d.add("prefix", f"{where}{p}")

    s3 = lab.client("s3")
    keys = _safe(
        d,
        "S3 objects",
        lambda: [
            o["Key"] for o in s3.list_objects_v2(Bucket=bucket, MaxKeys=1000).get("Contents", [])
        ],
    )
    for key in keys:
        if "/" in key:
            prefix_node(key, is_key=True)

    kinesis = lab.client("kinesis")
    stream_ids: dict[str, str] = {}
    for name in _safe(d, "Kinesis streams", lambda: kinesis.list_streams()["StreamNames"])[
        :max_items
    ]:
        stream_ids[name] = d.add("stream", name)

    fh = lab.client("firehose")
    for name in _safe(d, "Firehose", lambda: fh.list_delivery_streams()["DeliveryStreamNames"])[
        :max_items
    ]:
        node = d.add("delivery", name)
        desc = _one(
            d, f"delivery stream {name}", fh.describe_delivery_stream, DeliveryStreamName=name
        )
        if not desc:
            continue
        dd = desc["DeliveryStreamDescription"]
        src = dd.get("Source", {}).get("KinesisStreamSourceDescription", {}).get("KinesisStreamARN")
        if src:
            sname = src.split("/")[-1]
            d.link(stream_ids.get(sname) or d.add("stream", sname), node)
        for dest in dd.get("Destinations", []):
            s3d = dest.get("ExtendedS3DestinationDescription") or dest.get(
                "S3DestinationDescription", {}
            )
            if s3d:
                b = str(s3d.get("BucketARN", "")).split(":::")[-1]
                p = prefix_node(s3d.get("Prefix") or "data/", b)
                if p:
                    fmt = s3d.get("DataFormatConversionConfiguration", {})
                    d.link(node, p, "parquet" if fmt.get("Enabled") else "")

    glue = lab.client("glue")
    for db in _safe(d, "Glue databases", lambda: glue.get_databases()["DatabaseList"])[:max_items]:
        dbn = db["Name"]
        dnode = d.add("database", dbn)
        for t in (_one(d, f"Glue tables of {dbn}", glue.get_tables, DatabaseName=dbn) or {}).get(
            "TableList", []
        )[:max_items]:
            tnode = d.add("table", f"{dbn}.{t['Name']}")
            d.link(dnode, tnode)
            loc = t.get("StorageDescriptor", {}).get("Location", "")
            if loc.startswith("s3://"):
                p = prefix_node(loc)
                if p:
                    d.link(p, tnode, "schema")
    for c in _safe(d, "Glue crawlers", lambda: glue.get_crawlers()["Crawlers"])[:max_items]:
        cnode = d.add("crawler", c["Name"])
        for target in c.get("Targets", {}).get("S3Targets", []):
            p = prefix_node(target.get("Path", ""))
            if p:
                d.link(p, cnode, "crawls")
        if c.get("DatabaseName"):
            d.link(cnode, d.add("database", c["DatabaseName"]), "writes")

    athena = lab.client("athena")
    for wg in _safe(d, "Athena workgroups", lambda: athena.list_work_groups()["WorkGroups"])[
        :max_items
    ]:
        d.add("workgroup", wg["Name"])

    sm = lab.client("sagemaker")
    artifacts: dict[str, str] = {}
    for j in _safe(
        d, "training jobs", lambda: sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    )[:max_items]:
        name = j["TrainingJobName"]
        jnode = d.add("training", f"{name} ({j.get('TrainingJobStatus', '')})")
        desc = _one(d, f"training job {name}", sm.describe_training_job, TrainingJobName=name)
        if not desc:
            continue
        for ch in desc.get("InputDataConfig", []):
            uri = ch.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", "")
            p = prefix_node(uri) if uri else None
            if p:
                d.link(p, jnode, ch.get("ChannelName", ""))
        art = desc.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
        if art:
            anode = d.add("artifact", _s3_parts(art)[1].split("/output/")[0] + "/model.tar.gz")
            artifacts[art] = anode
            d.link(jnode, anode)
    for t in _safe(
        d,
        "tuning jobs",
        lambda: sm.list_hyper_parameter_tuning_jobs(MaxResults=100)[
            "HyperParameterTuningJobSummaries"
        ],
    )[:max_items]:
        d.add("tuning", t["HyperParameterTuningJobName"])
    model_ids: dict[str, str] = {}
    for m in _safe(d, "models", lambda: sm.list_models(MaxResults=100)["Models"])[:max_items]:
        name = m["ModelName"]
        mnode = model_ids[name] = d.add("model", name)
        desc = _one(d, f"model {name}", sm.describe_model, ModelName=name)
        if desc:
            pc = desc.get("PrimaryContainer") or (desc.get("Containers") or [{}])[0]
            url = pc.get("ModelDataUrl", "")
            if url:
                anode = artifacts.get(url) or d.add(
                    "artifact", _s3_parts(url)[1].split("/output/")[0] + "/model.tar.gz"
                )
                d.link(anode, mnode)
    config_ids: dict[str, str] = {}
    for c in _safe(
        d, "endpoint configs", lambda: sm.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]
    )[:max_items]:
        name = c["EndpointConfigName"]
        cnode = config_ids[name] = d.add("endpoint-config", name)
        desc = _one(
            d, f"endpoint config {name}", sm.describe_endpoint_config, EndpointConfigName=name
        )
        for v in desc.get("ProductionVariants", []) if desc else []:
            mn = v.get("ModelName", "")
            if mn:
                d.link(model_ids.get(mn) or d.add("model", mn), cnode, v.get("VariantName", ""))
    for e in _safe(d, "endpoints", lambda: sm.list_endpoints(MaxResults=100)["Endpoints"])[
        :max_items
    ]:
        name = e["EndpointName"]
        enode = d.add("endpoint", f"{name} ({e.get('EndpointStatus', '')})")
        desc = _one(d, f"endpoint {name}", sm.describe_endpoint, EndpointName=name)
        if desc and desc.get("EndpointConfigName"):
            cn = desc["EndpointConfigName"]
            d.link(config_ids.get(cn) or d.add("endpoint-config", cn), enode)
    for t in _safe(
        d, "transform jobs", lambda: sm.list_transform_jobs(MaxResults=100)["TransformJobSummaries"]
    )[:max_items]:
        name = t["TransformJobName"]
        tnode = d.add("transform", f"{name} ({t.get('TransformJobStatus', '')})")
        desc = _one(d, f"transform job {name}", sm.describe_transform_job, TransformJobName=name)
        if desc:
            mn = desc.get("ModelName", "")
            if mn:
                d.link(model_ids.get(mn) or d.add("model", mn), tnode)
            src = desc.get("TransformInput", {}).get("DataSource", {}).get("S3DataSource", {})
            p = prefix_node(src.get("S3Uri", "")) if src.get("S3Uri") else None
            if p:
                d.link(p, tnode, "input")
            out = desc.get("TransformOutput", {}).get("S3OutputPath", "")
            q = prefix_node(out) if out else None
            if q:
                d.link(tnode, q, "output")
    for p in _safe(d, "pipelines", lambda: sm.list_pipelines()["PipelineSummaries"])[:max_items]:
        d.add("pipeline", p["PipelineName"])
    for g in _safe(
        d,
        "model package groups",
        lambda: sm.list_model_package_groups()["ModelPackageGroupSummaryList"],
    )[:max_items]:
        d.add("package-group", g["ModelPackageGroupName"])
    return d
