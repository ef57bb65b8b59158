"""Offline Amazon Athena: SQL over the Glue catalog's S3 data, run by DuckDB (lab 01).

See :mod:`mllab.offline.athena.service` for the API handlers and
:mod:`mllab.offline.athena.engine` for how a query is planned, pruned, billed and run.
"""
