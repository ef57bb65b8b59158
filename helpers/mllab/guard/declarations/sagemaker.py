"""Admission of SageMaker: what labs 00-04 call (and the SDK v3, waiters, teardown call).

Introduced in lab 00. Reads are the generated list in :mod:`._reads`; free writes are listed
one by one; billable operations name their estimator (:mod:`mllab.guard.estimate`) and the
deleter kind registered below, which teardown and ``mllab sweep`` use. Refusals with a
reason are in :mod:`.refused` (anything not declared is refused anyway).
"""

from __future__ import annotations

from typing import Any

from mllab.guard import admission as a
from mllab.guard import estimate as e
from mllab.guard.declarations._reads import READS
from mllab.guard.declarations._util import paginate, quietly, sagemaker_find, sagemaker_stop

SM = "sagemaker"

a.read(SM, *READS["sagemaker"], "QueryLineage", note="describe / list / get / search")

a.free(
    SM,
    # models, registry, experiments, lineage: records, nothing runs
    "CreateModel",
    "DeleteModel",
    "CreateModelPackageGroup",
    "DeleteModelPackageGroup",
    "CreateModelPackage",
    "UpdateModelPackage",
    "DeleteModelPackage",
    "PutModelPackageGroupPolicy",
    "DeleteModelPackageGroupPolicy",
    "CreateExperiment",
    "UpdateExperiment",
    "DeleteExperiment",
    "CreateTrial",
    "UpdateTrial",
    "DeleteTrial",
    "CreateTrialComponent",
    "UpdateTrialComponent",
    "DeleteTrialComponent",
    "AssociateTrialComponent",
    "DisassociateTrialComponent",
    "CreateAction",
    "DeleteAction",
    "CreateArtifact",
    "DeleteArtifact",
    "CreateContext",
    "DeleteContext",
    "AddAssociation",
    "DeleteAssociation",
    "AddTags",
    "DeleteTags",
    # deletes and stops: they end billing
    "DeleteEndpoint",
    "DeleteEndpointConfig",
    "DeleteInferenceComponent",
    "DeleteMonitoringSchedule",
    "StopMonitoringSchedule",
    "StartMonitoringSchedule",
    "DeleteDataQualityJobDefinition",
    "DeleteModelQualityJobDefinition",
    "DeleteModelBiasJobDefinition",
    "DeleteModelExplainabilityJobDefinition",
    "DeletePipeline",
    "StopTrainingJob",
    "StopProcessingJob",
    "StopTransformJob",
    "StopHyperParameterTuningJob",
    "StopPipelineExecution",
    "StopCompilationJob",
    "DeleteCompilationJob",
    "SendPipelineExecutionStepSuccess",
    "SendPipelineExecutionStepFailure",
    "UpdatePipelineExecution",
    note="records, deletes and stops: nothing starts",
)

a.read("sagemaker-runtime", "InvokeEndpoint", "InvokeEndpointWithResponseStream")
a.free(
    "sagemaker-runtime",
    "InvokeEndpointAsync",
    note="the endpoint bills by the hour (priced at CreateEndpoint), not per request",
)
a.free("sagemaker-metrics", "BatchPutMetrics", note="training metrics, no charge")
a.read("sagemaker-metrics", "BatchGetMetrics")

a.billable(SM, "CreateTrainingJob", estimator=e.training_job, deleter="sagemaker-training-job")
a.billable(
    SM, "UpdateTrainingJob", estimator=e.update_training_job, deleter="sagemaker-training-job"
)
a.billable(
    SM,
    "CreateHyperParameterTuningJob",
    estimator=e.tuning_job,
    deleter="sagemaker-tuning-job",
)
a.billable(
    SM, "CreateProcessingJob", estimator=e.processing_job, deleter="sagemaker-processing-job"
)
a.billable(SM, "CreateTransformJob", estimator=e.transform_job, deleter="sagemaker-transform-job")
a.billable(
    SM,
    "CreateEndpointConfig",
    estimator=e.endpoint_config,
    deleter="sagemaker-endpoint-config",
    note="checks the variants now; the endpoint is priced at CreateEndpoint",
)
a.billable(
    SM, "CreateEndpoint", "UpdateEndpoint", estimator=e.endpoint, deleter="sagemaker-endpoint"
)
a.billable(
    SM,
    "UpdateEndpointWeightsAndCapacities",
    estimator=e.update_endpoint_capacity,
    deleter="sagemaker-endpoint",
)
a.billable(
    SM,
    "CreateInferenceComponent",
    "UpdateInferenceComponent",
    estimator=e.inference_component,
    deleter="sagemaker-inference-component",
)
a.billable(
    SM,
    "CreateDataQualityJobDefinition",
    "CreateModelQualityJobDefinition",
    "CreateModelBiasJobDefinition",
    "CreateModelExplainabilityJobDefinition",
    estimator=e.monitoring_definition,
    deleter="sagemaker-monitoring-job-definition",
    note="checks the job's resources now; runs are priced at CreateMonitoringSchedule",
)
a.billable(
    SM,
    "CreateMonitoringSchedule",
    estimator=e.monitoring_schedule,
    deleter="sagemaker-monitoring-schedule",
)
a.billable(
    SM,
    "UpdateMonitoringSchedule",
    estimator=e.monitoring_schedule_update,
    deleter="sagemaker-monitoring-schedule",
)
a.billable(
    SM, "CreateCompilationJob", estimator=e.compilation_job, deleter="sagemaker-compilation-job"
)
a.billable(
    SM,
    "CreatePipeline",
    "UpdatePipeline",
    estimator=e.pipeline_definition,
    deleter="sagemaker-pipeline",
    note="every step is checked now; executions are priced at StartPipelineExecution",
)
a.billable(
    SM,
    "StartPipelineExecution",
    estimator=e.pipeline_execution,
    deleter="sagemaker-pipeline-execution",
)


# --------------------------------------------------------------------------- deleters


def _sm(session: Any, region: str) -> Any:
    return session.client("sagemaker", region_name=region)


def _delete(op: str, key: str) -> Any:
    def delete(session: Any, region: str, name: str) -> str | None:
        return quietly(lambda: getattr(_sm(session, region), op)(**{key: name}))

    return delete


_JOBS = {
    # kind: (list op, list key, name key, arn key, describe, stop, status key, creators, order)
    "sagemaker-tuning-job": (
        "list_hyper_parameter_tuning_jobs",
        "HyperParameterTuningJobSummaries",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobArn",
        "describe_hyper_parameter_tuning_job",
        "stop_hyper_parameter_tuning_job",
        "HyperParameterTuningJobStatus",
        ("CreateHyperParameterTuningJob",),
        5,  # before its training jobs, so that it starts no new trial
    ),
    "sagemaker-training-job": (
        "list_training_jobs",
        "TrainingJobSummaries",
        "TrainingJobName",
        "TrainingJobArn",
        "describe_training_job",
        "stop_training_job",
        "TrainingJobStatus",
        ("CreateTrainingJob", "UpdateTrainingJob"),
        30,
    ),
    "sagemaker-processing-job": (
        "list_processing_jobs",
        "ProcessingJobSummaries",
        "ProcessingJobName",
        "ProcessingJobArn",
        "describe_processing_job",
        "stop_processing_job",
        "ProcessingJobStatus",
        ("CreateProcessingJob",),
        30,
    ),
    "sagemaker-transform-job": (
        "list_transform_jobs",
        "TransformJobSummaries",
        "TransformJobName",
        "TransformJobArn",
        "describe_transform_job",
        "stop_transform_job",
        "TransformJobStatus",
        ("CreateTransformJob",),
        30,
    ),
    "sagemaker-compilation-job": (
        "list_compilation_jobs",
        "CompilationJobSummaries",
        "CompilationJobName",
        "CompilationJobArn",
        "describe_compilation_job",
        "stop_compilation_job",
        "CompilationJobStatus",
        ("CreateCompilationJob",),
        30,
    ),
}

for _kind, (_lop, _lkey, _nkey, _akey, _desc, _stop, _skey, _ops, _order) in _JOBS.items():
    a.deleter(
        _kind,
        created_by=[(SM, op) for op in _ops],
        delete=sagemaker_stop(_desc, _stop, _nkey, _skey),
        find=sagemaker_find(_lop, _lkey, _nkey, _akey, StatusEquals="InProgress"),
        order=_order,
    )


def _stop_execution(session: Any, region: str, arn: str) -> str | None:
    sm = _sm(session, region)
    try:
        status = sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
    except Exception as err:  # noqa: BLE001
        from mllab.guard.declarations._util import gone

        if gone(err):
            return None
        raise
    if status == "Executing":
        return quietly(lambda: sm.stop_pipeline_execution(PipelineExecutionArn=arn), "stopped")
    return None


def _find_executions(session: Any, region: str) -> Any:
    sm = _sm(session, region)
    from mllab.guard.declarations._util import tag_dict

    for p in paginate(sm, "list_pipelines", "PipelineSummaries"):
        tags = tag_dict(sm.list_tags(ResourceArn=p["PipelineArn"]).get("Tags"))
        for ex in paginate(
            sm,
            "list_pipeline_executions",
            "PipelineExecutionSummaries",
            PipelineName=p["PipelineName"],
        ):
            if ex.get("PipelineExecutionStatus") == "Executing":
                yield str(ex["PipelineExecutionArn"]), tags


a.deleter(
    "sagemaker-pipeline-execution",
    created_by=[(SM, "StartPipelineExecution")],
    delete=_stop_execution,
    find=_find_executions,
    order=2,  # before the jobs its steps started
)
a.deleter(
    "sagemaker-monitoring-schedule",
    created_by=[(SM, "CreateMonitoringSchedule"), (SM, "UpdateMonitoringSchedule")],
    delete=_delete("delete_monitoring_schedule", "MonitoringScheduleName"),
    find=sagemaker_find(
        "list_monitoring_schedules",
        "MonitoringScheduleSummaries",
        "MonitoringScheduleName",
        "MonitoringScheduleArn",
    ),
    order=10,
)
a.deleter(
    "sagemaker-inference-component",
    created_by=[(SM, "CreateInferenceComponent"), (SM, "UpdateInferenceComponent")],
    delete=_delete("delete_inference_component", "InferenceComponentName"),
    find=sagemaker_find(
        "list_inference_components",
        "InferenceComponents",
        "InferenceComponentName",
        "InferenceComponentArn",
    ),
    order=15,
)
a.deleter(
    "sagemaker-endpoint",
    created_by=[
        (SM, "CreateEndpoint"),
        (SM, "UpdateEndpoint"),
        (SM, "UpdateEndpointWeightsAndCapacities"),
    ],
    delete=_delete("delete_endpoint", "EndpointName"),
    find=sagemaker_find("list_endpoints", "Endpoints", "EndpointName", "EndpointArn"),
    order=20,
)
a.deleter(
    "sagemaker-endpoint-config",
    created_by=[(SM, "CreateEndpointConfig")],
    delete=_delete("delete_endpoint_config", "EndpointConfigName"),
    find=sagemaker_find(
        "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", "EndpointConfigArn"
    ),
    order=40,
)


def _delete_job_definition(session: Any, region: str, name: str) -> str | None:
    sm = _sm(session, region)
    for op in (
        "delete_data_quality_job_definition",
        "delete_model_quality_job_definition",
        "delete_model_bias_job_definition",
        "delete_model_explainability_job_definition",
    ):
        try:
            getattr(sm, op)(JobDefinitionName=name)
            return "deleted"
        except Exception:  # noqa: BLE001 - not this kind of definition; try the next
            continue
    return None


a.deleter(
    "sagemaker-monitoring-job-definition",
    created_by=[
        (SM, "CreateDataQualityJobDefinition"),
        (SM, "CreateModelQualityJobDefinition"),
        (SM, "CreateModelBiasJobDefinition"),
        (SM, "CreateModelExplainabilityJobDefinition"),
    ],
    delete=_delete_job_definition,
    order=45,
)
a.deleter(
    "sagemaker-pipeline",
    created_by=[(SM, "CreatePipeline"), (SM, "UpdatePipeline")],
    delete=_delete("delete_pipeline", "PipelineName"),
    order=60,
)
a.deleter(
    "sagemaker-model",
    created_by=[(SM, "CreateModel")],
    delete=_delete("delete_model", "ModelName"),
    find=sagemaker_find("list_models", "Models", "ModelName", "ModelArn"),
    order=50,
)
