"""Offline Amazon OpenSearch Serverless (``opensearchserverless``): policies, collections, indexes.

Introduced in the knowledge-base lab. :mod:`.service` answers the control plane,
:mod:`.engine` is the in-process index, :mod:`.http` serves it to ``opensearch-py``.
Importing this package registers the handlers.
"""

from mllab.offline.opensearchserverless import service as service
