"""Offline Amazon Athena: SQL over the Glue catalog's S3 data, run by DuckDB (lab 01).

* :mod:`mllab.offline.athena.service`: the API handlers (StartQueryExecution, ...).
* :mod:`mllab.offline.athena.engine`: how a SELECT is resolved, authorised, pruned,
  billed (``DataScannedInBytes``) and run.
* :mod:`mllab.offline.athena.ddl`: DDL, CTAS, INSERT, SHOW, DESCRIBE.
* :mod:`mllab.offline.athena.catalog` / :mod:`~mllab.offline.athena.infer`: moto access
  and schema inference shared with the Glue crawler.

``run_as(principal_arn)`` runs the Athena calls in its block as that principal, for Lake
Formation (see :mod:`mllab.offline.lakeformation`).
"""

from mllab.offline.athena import service as service
from mllab.offline.lakeformation import run_as as run_as

__all__ = ["run_as", "service"]
