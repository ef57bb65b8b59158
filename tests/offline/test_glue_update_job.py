"""Offline Glue UpdateJob (moto lacks it): the whole definition is overwritten, as AWS says."""

from __future__ import annotations

from typing import Any

import pytest

from mllab.guard.errors import CostGuardError


def _job(lab: Any) -> Any:
    glue = lab.client("glue")
    glue.create_job(
        Name="j",
        Role=lab.role_arn,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{lab.bucket}/s.py"},
        DefaultArguments={"--raw_prefix": "wrong/", "--bucket": lab.bucket},
        MaxCapacity=0.0625,
        Timeout=5,
        Description="before",
    )
    return glue


def test_update_job_copied_from_get_job_changes_one_argument(lab: Any) -> None:
    glue = _job(lab)
    job = glue.get_job(JobName="j")["Job"]
    update = {
        k: v
        for k, v in job.items()
        if k not in ("Name", "CreatedOn", "LastModifiedOn", "AllocatedCapacity")
    }
    update["DefaultArguments"] = {**job["DefaultArguments"], "--raw_prefix": "right/"}
    assert glue.update_job(JobName="j", JobUpdate=update)["JobName"] == "j"
    after = glue.get_job(JobName="j")["Job"]
    assert after["DefaultArguments"] == {"--raw_prefix": "right/", "--bucket": lab.bucket}
    assert (after["Timeout"], after["MaxCapacity"], after["Description"]) == (5, 0.0625, "before")
    assert after["LastModifiedOn"] >= job["LastModifiedOn"]


def test_members_left_out_return_to_their_defaults(lab: Any) -> None:
    glue = _job(lab)
    job = glue.get_job(JobName="j")["Job"]
    glue.update_job(JobName="j", JobUpdate={"Role": job["Role"], "Command": job["Command"]})
    after = glue.get_job(JobName="j")["Job"]
    assert not after.get("DefaultArguments") and after.get("Timeout") is None
    assert after.get("Description") is None
    # Glue's default Timeout is 2,880 minutes: the guard refuses to start such a run
    with pytest.raises(CostGuardError, match="Timeout"):
        glue.start_job_run(JobName="j")


def test_update_job_errors_in_aws_words(lab: Any) -> None:
    glue = _job(lab)
    job = glue.get_job(JobName="j")["Job"]
    with pytest.raises(
        glue.exceptions.InvalidInputException, match="JobUpdate.Command is required"
    ):
        glue.update_job(JobName="j", JobUpdate={"Role": job["Role"]})
    with pytest.raises(glue.exceptions.EntityNotFoundException, match="Job with name: nope"):
        glue.update_job(JobName="nope", JobUpdate={"Role": job["Role"], "Command": job["Command"]})


def test_job_run_arguments_are_the_runs_own_as_on_aws(lab: Any) -> None:
    """GetJobRun's Arguments are what StartJobRun passed; the script sees them over the defaults."""
    import time

    from tests.hang import HANG_GUARD_S

    lab.client("s3").put_object(
        Bucket=lab.bucket,
        Key="s.py",
        Body=b"import sys\nfrom awsglue.utils import getResolvedOptions\n"
        b"print(getResolvedOptions(sys.argv, ['raw_prefix'])['raw_prefix'])\n",
    )
    glue = _job(lab)
    plain = glue.start_job_run(JobName="j")["JobRunId"]
    deadline = time.time() + HANG_GUARD_S
    while glue.get_job_run(JobName="j", RunId=plain)["JobRun"]["JobRunState"] in (
        "STARTING",
        "RUNNING",
    ):
        assert time.time() < deadline, "the job run did not end"
        time.sleep(0.1)
    override = glue.start_job_run(JobName="j", Arguments={"--raw_prefix": "right/"})["JobRunId"]
    assert glue.get_job_run(JobName="j", RunId=plain)["JobRun"]["Arguments"] == {}
    assert glue.get_job_run(JobName="j", RunId=override)["JobRun"]["Arguments"] == {
        "--raw_prefix": "right/"
    }
