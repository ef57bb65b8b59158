"""The run's tags reach resources whatever the service calls its tags member (issue 16 §5).

SageMaker says ``Tags`` (Key/Value list), Bedrock ``tags`` (key/value list), S3 Vectors ``tags``
(map). Teardown after a crash and ``mllab sweep`` find what a run created by these tags, so a
resource that misses them is a resource nobody deletes.
"""

from __future__ import annotations

from typing import Any

from mllab.guard import admission
from mllab.guard.core import TAG_LAB, TAG_RUN


def _found(kind: str, lab: Any) -> dict[str, dict[str, str]]:
    admission.load_all()
    finder = admission.DELETERS[kind].find
    assert finder is not None, f"{kind} has no find"
    return dict(finder(lab.session, lab.region))


def test_guardrail_gets_the_runs_tags_and_its_deleter_finds_it(lab: Any) -> None:
    bedrock = lab.client("bedrock")
    made = bedrock.create_guardrail(
        name="tagged-guardrail",
        blockedInputMessaging="no",
        blockedOutputsMessaging="no",
        wordPolicyConfig={"wordsConfig": [{"text": "forbidden"}]},
        tags=[{"key": "team", "value": "labs"}],
    )
    tags = {
        t["key"]: t["value"]
        for t in bedrock.list_tags_for_resource(resourceARN=made["guardrailArn"])["tags"]
    }
    assert tags["team"] == "labs"  # the learner's own tag is kept
    assert tags[TAG_LAB] == lab.guard.lab and tags[TAG_RUN] == lab.guard.run
    found = _found("bedrock-guardrail", lab)
    assert any(t.get(TAG_RUN) == lab.guard.run for t in found.values()), found


def test_vector_bucket_gets_the_runs_tags_as_a_map(lab: Any) -> None:
    s3v = lab.client("s3vectors")
    s3v.create_vector_bucket(vectorBucketName="tagged-vectors")
    arn = s3v.get_vector_bucket(vectorBucketName="tagged-vectors")["vectorBucket"][
        "vectorBucketArn"
    ]
    tags = s3v.list_tags_for_resource(resourceArn=arn)["tags"]
    assert tags[TAG_RUN] == lab.guard.run, tags
    found = _found("s3vectors-bucket", lab)
    assert any(t.get(TAG_RUN) == lab.guard.run for t in found.values()), found


def test_sagemaker_tags_are_still_a_key_value_list(lab: Any) -> None:
    sm = lab.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="tagged-group")
    arn = sm.describe_model_package_group(ModelPackageGroupName="tagged-group")[
        "ModelPackageGroupArn"
    ]
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert tags[TAG_RUN] == lab.guard.run, tags
