"""Operations the guard refuses with a reason: always-on, unbounded, bought up front, or
launched on the account's behalf where no parser can price what they launch.

Introduced in lab 00. The guard is default-deny, so every operation not declared anywhere is
refused already (with a message naming the declarations module to add it to); the ones here
get a specific reason. No lab needs any of them.
"""

from __future__ import annotations

from mllab.guard import admission as a

# --------------------------------------------------------------------------- SageMaker
for _op, _why in {
    "CreateNotebookInstance": "notebook instances bill every hour until stopped",
    "StartNotebookInstance": "notebook instances bill every hour until stopped",
    "UpdateNotebookInstance": "notebook instances bill every hour until stopped",
    "CreateDomain": "Studio domains create always-on storage and apps",
    "CreateUserProfile": "Studio user profiles belong to a Studio domain",
    "CreateSpace": "Studio spaces bill while their apps run",
    "CreateApp": "Studio apps bill every hour until deleted",
    "CreateCluster": "HyperPod clusters are provisioned, always-on capacity",
    "UpdateCluster": "HyperPod clusters are provisioned, always-on capacity",
    "BatchAddClusterNodes": "HyperPod nodes are provisioned, always-on capacity",
    "UpdateClusterSoftware": "HyperPod clusters are provisioned, always-on capacity",
    "CreateLabelingJob": "Ground Truth labeling jobs pay human workers per object",
    "CreateInferenceRecommendationsJob": (
        "Inference Recommender load-tests many instance types at once"
    ),
    "CreateAutoMLJob": "Autopilot runs many training jobs with no lab-set bound",
    "CreateAutoMLJobV2": "Autopilot runs many training jobs with no lab-set bound",
    # MLflow Apps and tracking servers: declared (priced, with deleters) in declarations/mlflow.py
    "CreateOptimizationJob": "optimization jobs run on accelerated instances",
    "CreateTrainingPlan": "training plans buy reserved capacity up front",
    "CreateEdgePackagingJob": "edge packaging is outside every lab",
    "CreateFeatureGroup": "an online feature store bills for storage and capacity until deleted",
    "CreateFlowDefinition": "human review workflows pay human workers",
    "CreateHub": "private hubs are outside every lab",
    "CreatePartnerApp": "partner apps bill every hour",
    "CreateStudioLifecycleConfig": "Studio is outside every lab",
    "CreateNotebookInstanceLifecycleConfig": "notebook instances are outside every lab",
    "RetryPipelineExecution": (
        "a retry re-runs failed steps outside the execution's estimate; start a new execution"
    ),
    "StartEdgeDeploymentStage": "edge deployments are outside every lab",
}.items():
    a.refuse("sagemaker", _op, note=_why)

# --------------------------------------------------------------------------- compute
for _service, _ops, _why in (
    (
        "ec2",
        (
            "RunInstances",
            "StartInstances",
            "CreateFleet",
            "RequestSpotFleet",
            "RequestSpotInstances",
            "ModifySpotFleetRequest",
            "ModifyFleet",
            "RunScheduledInstances",
            "PurchaseScheduledInstances",
            "CreateLaunchTemplate",
        ),
        "EC2 instances are outside every lab",
    ),
    (
        "ec2",
        (
            "CreateCapacityReservation",
            "CreateCapacityReservationFleet",
            "PurchaseCapacityBlock",
            "AllocateHosts",
            "PurchaseHostReservation",
            "PurchaseReservedInstancesOffering",
            "AcceptReservedInstancesExchangeQuote",
        ),
        "reserved capacity and dedicated hosts are bought up front",
    ),
    (
        "ec2",
        (
            "CreateNatGateway",
            "AllocateAddress",
            "CreateTransitGateway",
            "CreateVpnGateway",
            "CreateVpnConnection",
            "CreateClientVpnEndpoint",
            "CreateVolume",
            "CreateSnapshot",
            "CopySnapshot",
            "CreateImage",
            "CopyImage",
        ),
        "this bills every hour (or every GB-month) until deleted, and no lab needs it",
    ),
    (
        "auto-scaling",
        (
            "CreateAutoScalingGroup",
            "UpdateAutoScalingGroup",
            "SetDesiredCapacity",
            "CreateLaunchConfiguration",
            "PutScheduledUpdateGroupAction",
            "AttachInstances",
        ),
        "EC2 Auto Scaling groups launch instances on the account's behalf",
    ),
    (
        "ecs",
        (
            "CreateService",
            "UpdateService",
            "RunTask",
            "StartTask",
            "CreateCluster",
            "CreateCapacityProvider",
        ),
        "ECS tasks and services run containers that bill until stopped",
    ),
    (
        "eks",
        (
            "CreateCluster",
            "CreateNodegroup",
            "UpdateNodegroupConfig",
            "CreateFargateProfile",
            "CreateAddon",
        ),
        "EKS clusters bill every hour and node groups launch EC2 instances",
    ),
    (
        "batch",
        ("CreateComputeEnvironment", "UpdateComputeEnvironment", "SubmitJob", "CreateJobQueue"),
        "Batch compute environments launch EC2 instances up to maxvCpus",
    ),
    (
        "emr",
        (
            "RunJobFlow",
            "AddInstanceGroups",
            "AddInstanceFleet",
            "ModifyInstanceGroups",
            "AddJobFlowSteps",
        ),
        "EMR clusters are provisioned, always-on capacity",
    ),
    (
        "emr-serverless",
        ("CreateApplication", "StartApplication", "StartJobRun"),
        "EMR Serverless is outside every lab",
    ),
    ("lightsail", ("CreateInstances", "CreateContainerService"), "Lightsail is outside every lab"),
    ("apprunner", ("CreateService",), "App Runner services bill every hour"),
    ("gamelift", ("CreateFleet",), "GameLift fleets launch EC2 instances"),
):
    a.refuse(_service, *_ops, note=_why)

# --------------------------------------------------------------------------- databases, analytics
for _service, _ops, _why in (
    (
        "redshift",
        (
            "CreateCluster",
            "RestoreFromClusterSnapshot",
            "ResizeCluster",
            "ModifyCluster",
            "PurchaseReservedNodeOffering",
        ),
        "Redshift clusters are provisioned, always-on capacity",
    ),
    (
        "redshift-serverless",
        ("CreateWorkgroup", "CreateNamespace"),
        "Redshift Serverless bills per RPU-hour",
    ),
    (
        "rds",
        (
            "CreateDBInstance",
            "CreateDBCluster",
            "RestoreDBInstanceFromDBSnapshot",
            "RestoreDBClusterFromSnapshot",
            "CreateDBInstanceReadReplica",
            "PurchaseReservedDBInstancesOffering",
        ),
        "RDS databases are provisioned, always-on capacity",
    ),
    (
        "dynamodb",
        (
            "CreateTable",
            "UpdateTable",
            "RestoreTableFromBackup",
            "RestoreTableToPointInTime",
            "ImportTable",
        ),
        "DynamoDB tables are outside every lab",
    ),
    (
        "elasticache",
        ("CreateCacheCluster", "CreateReplicationGroup", "CreateServerlessCache"),
        "caches are always-on capacity",
    ),
    ("memorydb", ("CreateCluster",), "MemoryDB clusters are always-on capacity"),
    (
        "docdb",
        ("CreateDBCluster", "CreateDBInstance"),
        "DocumentDB clusters are always-on capacity",
    ),
    ("neptune", ("CreateDBCluster", "CreateDBInstance"), "Neptune clusters are always-on capacity"),
    (
        "kafka",
        ("CreateCluster", "CreateClusterV2", "UpdateBrokerCount", "UpdateBrokerType"),
        "MSK clusters are provisioned, always-on brokers",
    ),
    (
        "kinesis-analytics-v2",
        ("CreateApplication", "StartApplication"),
        "Managed Service for Apache Flink applications bill per KPU-hour while running",
    ),
    (
        "opensearch",
        ("CreateDomain", "UpdateDomainConfig", "PurchaseReservedInstanceOffering"),
        "OpenSearch domains are provisioned, always-on capacity",
    ),
    (
        "elasticsearch-service",
        (
            "CreateElasticsearchDomain",
            "UpdateElasticsearchDomainConfig",
            "PurchaseReservedElasticsearchInstanceOffering",
        ),
        "the legacy es API creates the same always-on OpenSearch domains",
    ),
    ("glue", ("CreateDevEndpoint",), "Glue development endpoints bill per DPU-hour until deleted"),
    ("glue", ("CreateSession", "RunStatement"), "Glue interactive sessions bill while idle"),
    (
        "glue",
        ("CreateTrigger", "UpdateTrigger", "StartTrigger"),
        "Glue triggers start jobs and crawlers on the account's behalf (on a schedule or an "
        "event, even after the lab closes), and the guard cannot price what they start; start "
        "them yourself with glue.start_job_run / glue.start_crawler (priced, bounded by Timeout)",
    ),
    (
        "glue",
        ("UpdateCrawlerSchedule", "StartCrawlerSchedule"),
        "a crawler schedule starts runs on the account's behalf",
    ),
    (
        "glue",
        ("CreateWorkflow", "StartWorkflowRun"),
        "Glue workflows start jobs on the account's behalf",
    ),
    (
        "glue",
        (
            "StartMLEvaluationTaskRun",
            "StartMLLabelingSetGenerationTaskRun",
            "CreateMLTransform",
        ),
        "ML transforms run on DPUs outside every lab",
    ),
    (
        "athena",
        ("CreateCapacityReservation", "StartSession", "StartCalculationExecution"),
        "provisioned capacity and Spark sessions bill per DPU-hour",
    ),
    ("quicksight", ("CreateAccountSubscription",), "QuickSight subscriptions bill monthly"),
    (
        "databrew",
        ("StartJobRun", "CreateProfileJob", "CreateRecipeJob"),
        "DataBrew jobs bill per node-hour",
    ),
):
    a.refuse(_service, *_ops, note=_why)

# --------------------------------------------------------------------------- launched on behalf
for _service, _ops, _why in (
    (
        "cloudformation",
        (
            "CreateStack",
            "UpdateStack",
            "CreateStackSet",
            "CreateStackInstances",
            "ExecuteChangeSet",
            "CreateChangeSet",
        ),
        "a stack creates whatever its template names; create the resources with their own "
        "(priced) API calls instead",
    ),
    (
        "sfn",
        ("CreateStateMachine", "UpdateStateMachine", "StartExecution", "StartSyncExecution"),
        "a state machine starts what its definition names on the account's behalf, which the "
        "guard does not price; make the steps' calls from the notebook (each is priced) or use "
        "a SageMaker Pipeline (StartPipelineExecution is priced step by step)",
    ),
    (
        "scheduler",
        ("CreateSchedule", "UpdateSchedule"),
        "schedules start their targets on the account's behalf again and again, even after the "
        "lab closes, and the guard cannot price them; call the target once from the notebook "
        "(priced) instead",
    ),
    ("codebuild", ("StartBuild", "CreateProject"), "CodeBuild builds bill per build-minute"),
    ("mwaa", ("CreateEnvironment",), "Managed Airflow environments bill every hour"),
    ("datazone", ("CreateDomain",), "DataZone is outside every lab"),
    (
        "ssm",
        ("SendCommand", "StartAutomationExecution", "CreateAssociation"),
        "SSM runs commands on instances on the account's behalf",
    ),
):
    a.refuse(_service, *_ops, note=_why)

# --------------------------------------------------------------------------- AI services, commitments
for _service, _ops, _why in (
    ("comprehend", ("CreateEndpoint",), "Comprehend custom endpoints bill every hour"),
    ("rekognition", ("StartProjectVersion",), "a running Custom Labels model bills every hour"),
    ("savingsplans", ("CreateSavingsPlan",), "a Savings Plan is a one- or three-year commitment"),
    ("marketplace-catalog", ("StartChangeSet",), "Marketplace is outside every lab"),
    ("outposts", ("CreateOrder",), "Outposts are bought hardware"),
    ("braket", ("CreateQuantumTask", "CreateJob"), "quantum tasks bill per shot"),
    ("route-53", ("CreateHostedZone",), "hosted zones bill monthly"),
    ("elastic-load-balancing-v2", ("CreateLoadBalancer",), "load balancers bill every hour"),
    ("elastic-load-balancing", ("CreateLoadBalancer",), "load balancers bill every hour"),
):
    a.refuse(_service, *_ops, note=_why)
