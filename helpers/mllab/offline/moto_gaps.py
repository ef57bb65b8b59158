"""Small gaps in moto's control plane that the guard and the labs rely on.

Each handler fills one documented AWS behaviour that moto (5.2) skips; the bigger offline
services live in their own modules.
"""

from __future__ import annotations

from mllab.offline.registry import OfflineCall, handles


@handles("kinesis", "CreateStream", "after")
def _kinesis_create_stream_tags(call: OfflineCall) -> None:
    """CreateStream's ``Tags`` (AWS applies them; moto ignores them)."""
    tags = call.params.get("Tags")
    if not tags:
        return
    from moto.kinesis.models import kinesis_backends

    backend = kinesis_backends[call.account_id][call.region]
    backend.add_tags_to_stream(
        stream_arn=None, stream_name=call.params["StreamName"], tags=dict(tags)
    )
