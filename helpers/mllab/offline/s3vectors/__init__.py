"""Offline Amazon S3 Vectors (``s3vectors``): vector buckets, indexes and exact search.

Introduced in the knowledge-base lab. :mod:`.store` holds the vectors and the filter
language, :mod:`.service` answers the API. Importing this package registers the handlers.
"""

from mllab.offline.s3vectors import service as service
from mllab.offline.s3vectors import store as store
