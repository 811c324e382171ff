"""Deploy ``infra/template.yaml`` onto the embedded moto server through boto3.

moto's CloudFormation cannot deploy SAM templates, so this small deployer creates what the
transformed template declares — buckets, tables (the template's own key schemas), IAM roles,
functions and state machines (``DefinitionSubstitutions`` filled in) — and reports the HTTP API
routes for the local API bridge. Unknown resource types are listed, never silently dropped.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analystack.localcloud.template import (
    StackContext,
    default_template_path,
    load_template,
    parameter_defaults,
    resolve,
    transform_sam,
)

# Resource types that need nothing locally: served in-process or not emulated.
_SKIPPED_TYPES = {
    "AWS::Lambda::Permission",
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::EventSourceMapping",  # no stream pollers locally
    "AWS::ApiGatewayV2::Api",  # the HTTP API is served by the local bridge
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Deployment",
    "AWS::Events::Rule",  # schedules do not fire locally; the cloud refreshes the registry at start
}

_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::IAM::Role": "RoleName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
}


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_size: int = 128


@dataclass(frozen=True)
class Route:
    method: str  # GET, POST, ... or ANY
    path: str  # API Gateway path template, e.g. /jobs/{job_id} or /a2a/quality/{proxy+}
    function: str  # logical id

    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\{([A-Za-z0-9_]+)\+\}", r"(?P<\1>.+)", self.path)
        regex = re.sub(r"\{([A-Za-z0-9_]+)\}", r"(?P<\1>[^/]+)", regex)
        return re.compile(f"^{regex}$")


@dataclass
class DeployedStack:
    stack_name: str
    region: str
    account_id: str
    tables: dict[str, str] = field(default_factory=dict)
    log_groups: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    alarms: dict[str, str] = field(default_factory=dict)
    dashboards: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def shared_environment(self) -> dict[str, str]:
        """Environment every function agrees on (per-function values such as service names left out)."""
        specs = list(self.functions.values())
        if not specs:
            return {}
        common = dict(specs[0].environment)
        for spec in specs[1:]:
            common = {k: v for k, v in common.items() if spec.environment.get(k) == v}
        return common

    def function_by_name(self, name_or_arn: str) -> FunctionSpec | None:
        name = name_or_arn.rsplit(":function:", 1)[-1].split(":", 1)[0]
        return next((f for f in self.functions.values() if f.name == name), None)


def _arn(ctx: StackContext, resource_type: str, name: str) -> str:
    return {
        "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{ctx.region}:{ctx.account_id}:table/{name}",
        "AWS::Lambda::Function": f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:function:{name}",
        "AWS::StepFunctions::StateMachine": f"arn:aws:states:{ctx.region}:{ctx.account_id}:stateMachine:{name}",
        "AWS::IAM::Role": f"arn:aws:iam::{ctx.account_id}:role/{name}",
        "AWS::SNS::Topic": f"arn:aws:sns:{ctx.region}:{ctx.account_id}:{name}",
        "AWS::Logs::LogGroup": f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{name}:*",
    }.get(resource_type, f"arn:aws:local:{ctx.region}:{ctx.account_id}:{name}")


def _name_context(cfn: dict[str, Any], ctx: StackContext) -> None:
    """First pass: physical names and ARNs, which only depend on parameters and pseudo-params."""
    for logical_id, resource in cfn["Resources"].items():
        rtype = resource["Type"]
        prop = _NAME_PROPERTY.get(rtype)
        raw_name = resource.get("Properties", {}).get(prop) if prop else None
        name = str(resolve(raw_name, ctx)) if raw_name is not None else f"{ctx.stack_name}-{logical_id}"[:64]
        ctx.attributes[(logical_id, "Name")] = name
        if rtype in {"AWS::StepFunctions::StateMachine", "AWS::SNS::Topic"}:
            arn = _arn(ctx, rtype, name)
            ctx.physical_ids[logical_id] = arn  # Ref of a state machine or a topic is its ARN
        else:
            ctx.physical_ids[logical_id] = name
            arn = _arn(ctx, rtype, name)
        ctx.attributes[(logical_id, "Arn")] = arn


def _minimal_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Code runs in-process in the embedded local cloud.\n")
    return buffer.getvalue()


def deploy(
    clients: Any,
    *,
    stack_name: str = "analystack",
    region: str = "us-east-1",
    template_path: Path | None = None,
    parameters: dict[str, str] | None = None,
) -> DeployedStack:
    """Create the template's resources through ``clients`` (a ``client(service)`` callable)."""
    template_path = template_path or default_template_path()
    sam = load_template(template_path)
    cfn = transform_sam(sam, region=region)
    ctx = StackContext(
        stack_name=stack_name,
        region=region,
        parameters={**parameter_defaults(sam), **(parameters or {})},
    )
    ctx.evaluate_conditions(cfn.get("Conditions", {}))
    _name_context(cfn, ctx)
    stack = DeployedStack(stack_name=stack_name, region=region, account_id=ctx.account_id)
    resources = cfn["Resources"]
    order = [
        "AWS::IAM::Role",
        "AWS::S3::Bucket",
        "AWS::DynamoDB::Table",
        "AWS::Logs::LogGroup",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::Lambda::Function",
        "AWS::StepFunctions::StateMachine",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
    ]
    for rtype in order:
        for logical_id, resource in resources.items():
            if resource["Type"] != rtype:
                continue
            if "Condition" in resource and not ctx.conditions[resource["Condition"]]:
                stack.skipped[logical_id] = f"{rtype} (condition {resource['Condition']} is false)"
                continue
            properties = resolve(resource.get("Properties", {}), ctx)
            name = (
                ctx.physical_ids[logical_id]
                if rtype not in {"AWS::StepFunctions::StateMachine", "AWS::SNS::Topic"}
                else ctx.attributes[(logical_id, "Name")]
            )
            if rtype == "AWS::IAM::Role":
                _create_role(clients("iam"), name, properties)
                stack.roles[logical_id] = ctx.attributes[(logical_id, "Arn")]
            elif rtype == "AWS::S3::Bucket":
                _create_bucket(clients("s3"), name, properties, region)
                stack.buckets[logical_id] = name
            elif rtype == "AWS::DynamoDB::Table":
                _create_table(clients("dynamodb"), name, properties)
                stack.tables[logical_id] = name
            elif rtype == "AWS::Lambda::Function":
                stack.functions[logical_id] = _create_function(
                    clients("lambda"), logical_id, name, properties, ctx
                )
            elif rtype == "AWS::StepFunctions::StateMachine":
                source = sam["Resources"][logical_id]["Properties"]["DefinitionUri"]
                stack.state_machines[logical_id] = _create_state_machine(
                    clients("stepfunctions"), name, properties, template_path.parent / source
                )
            elif rtype == "AWS::Logs::LogGroup":
                logs = clients("logs")
                with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                    logs.create_log_group(logGroupName=name)
                if "RetentionInDays" in properties:
                    logs.put_retention_policy(
                        logGroupName=name, retentionInDays=int(properties["RetentionInDays"])
                    )
                stack.log_groups[logical_id] = name
            elif rtype == "AWS::SNS::Topic":
                stack.topics[logical_id] = clients("sns").create_topic(Name=name)["TopicArn"]
            elif rtype == "AWS::SNS::Subscription":
                clients("sns").subscribe(
                    TopicArn=properties["TopicArn"],
                    Protocol=properties["Protocol"],
                    Endpoint=properties["Endpoint"],
                )
            elif rtype == "AWS::CloudWatch::Alarm":
                clients("cloudwatch").put_metric_alarm(**_alarm_arguments(name, properties))
                stack.alarms[logical_id] = name
            elif rtype == "AWS::CloudWatch::Dashboard":
                json.loads(properties["DashboardBody"])  # a broken body fails the deploy, as on AWS
                clients("cloudwatch").put_dashboard(
                    DashboardName=name, DashboardBody=properties["DashboardBody"]
                )
                stack.dashboards[logical_id] = name
    for logical_id, resource in resources.items():
        if resource["Type"] not in order:
            stack.skipped[logical_id] = resource["Type"]
            if resource["Type"] not in _SKIPPED_TYPES:
                raise ValueError(f"The local cloud cannot deploy {logical_id} ({resource['Type']})")
    stack.routes = _routes(sam)
    return stack


_ALARM_KEYS = (
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmActions",
    "OKActions",
)


def _alarm_arguments(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    arguments = {key: properties[key] for key in _ALARM_KEYS if key in properties}
    for numeric in ("Period", "EvaluationPeriods"):
        if numeric in arguments:
            arguments[numeric] = int(arguments[numeric])
    if "Threshold" in arguments:
        arguments["Threshold"] = float(arguments["Threshold"])
    return {"AlarmName": name, **arguments}


def _create_role(iam: Any, name: str, properties: dict[str, Any]) -> None:
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(properties["AssumeRolePolicyDocument"])
        )


def _create_bucket(s3: Any, name: str, properties: dict[str, Any], region: str) -> None:
    kwargs: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(**kwargs)
    versioning = properties.get("VersioningConfiguration", {}).get("Status")
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    rules = properties.get("LifecycleConfiguration", {}).get("Rules")
    if rules:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in rules]}
        )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape -> the S3 API's."""
    api: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "Transitions" in rule:
        api["Transitions"] = [
            {"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
            for t in rule["Transitions"]
        ]
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return api


def _create_table(ddb: Any, name: str, properties: dict[str, Any]) -> None:
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if properties.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    if properties.get("StreamSpecification"):
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": properties["StreamSpecification"]["StreamViewType"],
        }
    try:
        ddb.create_table(**kwargs)
    except ddb.exceptions.ResourceInUseException:
        return
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )


def _create_function(
    lam: Any, logical_id: str, name: str, properties: dict[str, Any], ctx: StackContext
) -> FunctionSpec:
    environment = {k: str(v) for k, v in properties.get("Environment", {}).get("Variables", {}).items()}
    is_image = properties.get("PackageType") == "Image"
    # Container-image functions name their handler in the image command, zip functions in Handler.
    handler = properties["ImageConfig"]["Command"][0] if is_image else properties["Handler"]
    code: dict[str, Any] = (
        {"ImageUri": properties["Code"]["ImageUri"]} if is_image else {"ZipFile": _minimal_zip()}
    )
    runtime: dict[str, Any] = (
        {"PackageType": "Image"}
        if is_image
        else {"Runtime": properties.get("Runtime", "python3.12"), "Handler": handler}
    )
    with contextlib.suppress(lam.exceptions.ResourceConflictException):
        lam.create_function(
            FunctionName=name,
            Role=properties["Role"],
            Code=code,
            Timeout=int(properties.get("Timeout", 3)),
            MemorySize=int(properties.get("MemorySize", 128)),
            Environment={"Variables": environment},
            **runtime,
        )
    return FunctionSpec(
        logical_id=logical_id,
        name=name,
        arn=ctx.attributes[(logical_id, "Arn")],
        handler=handler,
        environment=environment,
        timeout=int(properties.get("Timeout", 3)),
        memory_size=int(properties.get("MemorySize", 128)),
    )


_DEFINITION_VAR = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def _create_state_machine(sfn: Any, name: str, properties: dict[str, Any], definition_file: Path) -> str:
    substitutions = {k: str(v) for k, v in properties.get("DefinitionSubstitutions", {}).items()}
    text = definition_file.read_text(encoding="utf-8")
    missing = sorted(set(_DEFINITION_VAR.findall(text)) - set(substitutions))
    if missing:
        raise ValueError(f"{definition_file.name}: no DefinitionSubstitutions for {', '.join(missing)}")
    definition = _DEFINITION_VAR.sub(lambda m: substitutions[m.group(1)], text)
    json.loads(definition)  # fail here, with the file name, rather than inside moto
    try:
        response = sfn.create_state_machine(
            name=name,
            definition=definition,
            roleArn=properties["RoleArn"],
            type=properties.get("StateMachineType", "STANDARD"),
        )
        return str(response["stateMachineArn"])
    except sfn.exceptions.StateMachineAlreadyExists:
        arn = next(
            m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == name
        )
        sfn.update_state_machine(stateMachineArn=arn, definition=definition)
        return str(arn)


def _routes(sam: dict[str, Any]) -> list[Route]:
    routes: list[Route] = []
    for logical_id, resource in sam["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") == "HttpApi":
                props = event.get("Properties", {})
                routes.append(
                    Route(method=props.get("Method", "ANY").upper(), path=props["Path"], function=logical_id)
                )
    # Most specific first: literal paths before templated ones, longer before shorter.
    routes.sort(key=lambda r: (r.path.count("{"), -len(r.path)))
    return routes
