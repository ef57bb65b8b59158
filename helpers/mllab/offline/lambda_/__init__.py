"""Offline AWS Lambda: Python functions that really run (introduced in lab 06).

* :mod:`~mllab.offline.lambda_.service`: ``Invoke`` handlers, :func:`run` for offline
  services that invoke functions (Firehose transforms, AgentCore gateway targets), and
  :func:`zip_source` to package inline code.
* :mod:`~mllab.offline.lambda_.environment`: execution environments (warm reuse, timeout
  and memory limits, CloudWatch Logs in Lambda's format).
* :mod:`~mllab.offline.lambda_.worker`: the runtime inside an environment (event, context).
* :mod:`~mllab.offline.lambda_.bridge`: the function's boto3 calls answered by the lab.
"""

from mllab.offline.lambda_ import service
from mllab.offline.lambda_.service import Invocation, run, zip_source

__all__ = ["Invocation", "run", "service", "zip_source"]
