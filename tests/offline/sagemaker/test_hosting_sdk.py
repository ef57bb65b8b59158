"""SDK v3: ModelBuilder.build()/deploy() to an offline endpoint and Endpoint.invoke()."""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from .test_hosting import XGB_IMAGE, _booster, _upload_booster
except ImportError:  # rootdir-style import (no package __init__)
    from test_hosting import XGB_IMAGE, _booster, _upload_booster


def test_model_builder_deploys_and_invokes(lab: Any) -> None:
    import xgboost as xgb
    from sagemaker.serve import ModelBuilder
    from sagemaker.serve.mode.function_pointers import Mode

    booster = _booster(seed=4)
    url = _upload_booster(lab, "sdk/model.tar.gz", booster)
    mb = ModelBuilder(
        s3_model_data_url=url,
        image_uri=XGB_IMAGE,
        role_arn=lab.role_arn,
        sagemaker_session=lab.sm_session,
        instance_type="ml.m5.large",
        mode=Mode.SAGEMAKER_ENDPOINT,
    )
    mb.build(model_name="sdk-model")
    endpoint = mb.deploy(
        endpoint_name="sdk-ep", initial_instance_count=1, instance_type="ml.m5.large"
    )
    res = endpoint.invoke(body=b"0.5,-0.25,1.0,0.0", content_type="text/csv")
    assert res.invoked_production_variant == "AllTraffic"
    got = float(res.body.read())
    direct = booster.predict(xgb.DMatrix(np.array([[0.5, -0.25, 1.0, 0.0]])))[0]
    assert abs(got - float(direct)) < 1e-6
    desc = lab.client("sagemaker").describe_endpoint(EndpointName="sdk-ep")
    assert desc["EndpointStatus"] == "InService"
