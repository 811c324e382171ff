"""Read ``infra/template.yaml`` — the single source of truth for resources.

The SAM transform (``samtranslator``, offline) turns it into plain CloudFormation; a small
intrinsic-function resolver then gives physical names and ARNs for a local deployment. Only
the intrinsics the template uses are supported; anything else fails loudly rather than
deploying something that differs from AWS.
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_TAGS = {
    "!Ref": "Ref",
    "!Sub": "Fn::Sub",
    "!GetAtt": "Fn::GetAtt",
    "!Join": "Fn::Join",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!FindInMap": "Fn::FindInMap",
    "!GetAZs": "Fn::GetAZs",
    "!Base64": "Fn::Base64",
}


class _CfnLoader(yaml.SafeLoader):
    pass


def _construct(tag: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "Fn::GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {tag: value}

    return construct


for _short, _long in _TAGS.items():
    _CfnLoader.add_constructor(_short, _construct(_long))


def default_template_path() -> Path:
    """``infra/template.yaml`` of this checkout (or ``ANALYSTACK_TEMPLATE``)."""
    override = os.environ.get("ANALYSTACK_TEMPLATE")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[4] / "infra" / "template.yaml"


def load_template(path: Path | None = None) -> dict[str, Any]:
    path = path or default_template_path()
    with path.open(encoding="utf-8") as handle:
        return dict(yaml.load(handle, Loader=_CfnLoader))  # noqa: S506 - SafeLoader subclass


_LOCAL_URI_PROPERTIES = ("CodeUri", "ContentUri", "DefinitionUri")


def transform_sam(template: dict[str, Any], *, region: str) -> dict[str, Any]:
    """SAM -> CloudFormation, offline.

    Local code/definition paths are swapped for placeholder S3 URIs first, as ``sam package``
    would; the local cloud reads code and ASL from the checkout, not from those URIs.
    """
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    template = copy.deepcopy(template)
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for prop in _LOCAL_URI_PROPERTIES:
            if isinstance(properties.get(prop), str) and not properties[prop].startswith("s3://"):
                properties[prop] = "s3://local-artifacts/" + properties[prop].strip("./")
        if properties.get("PackageType") == "Image" and "ImageUri" not in properties:
            # `sam build` fills this from the Dockerfile in Metadata; locally the code runs in-process.
            properties["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/analystack-local:latest"
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.public.translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform

    class _OfflinePolicies(ManagedPolicyLoader):
        # The real loader lists IAM managed policies over the network; SAM policy templates
        # used here don't need it.
        def __init__(self) -> None:
            pass

        def load(self) -> dict[str, str]:
            return {}

    try:
        return dict(transform(copy.deepcopy(template), {}, _OfflinePolicies()))
    except InvalidDocumentException as exc:
        raise ValueError("; ".join(str(cause) for cause in exc.causes)) from exc


@dataclass
class StackContext:
    """Values intrinsics resolve against."""

    stack_name: str
    region: str
    account_id: str = "123456789012"
    parameters: dict[str, str] = field(default_factory=dict)
    physical_ids: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)

    def evaluate_conditions(self, definitions: dict[str, Any]) -> None:
        """Evaluate the template's ``Conditions`` (they may refer to each other)."""
        pending = dict(definitions)
        for _ in range(len(pending) + 1):
            for name, expression in list(pending.items()):
                try:
                    self.conditions[name] = bool(_condition(expression, self))
                except KeyError:
                    continue
                del pending[name]
        if pending:
            raise ValueError(f"Unresolvable conditions: {', '.join(sorted(pending))}")

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }.get(name, "")

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise KeyError(f"Unresolvable Ref: {name}")

    def get_att(self, resource: str, attribute: str) -> str:
        try:
            return self.attributes[(resource, attribute)]
        except KeyError:
            raise KeyError(f"Unresolvable GetAtt: {resource}.{attribute}") from None


_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")


class _NoValue:
    """``AWS::NoValue``: the property is removed, as CloudFormation does."""


NO_VALUE = _NoValue()


def _condition(expression: Any, ctx: StackContext) -> Any:
    if isinstance(expression, dict) and len(expression) == 1:
        ((key, arg),) = expression.items()
        if key == "Fn::Equals":
            left, right = (resolve(v, ctx) for v in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not _condition(arg[0], ctx)
        if key == "Fn::And":
            return all(_condition(a, ctx) for a in arg)
        if key == "Fn::Or":
            return any(_condition(a, ctx) for a in arg)
        if key == "Condition":
            return ctx.conditions[arg]
    return resolve(expression, ctx)


def resolve(value: Any, ctx: StackContext) -> Any:
    """Resolve intrinsics in ``value`` (recursively) against ``ctx``."""
    if isinstance(value, list):
        return [v for v in (resolve(v, ctx) for v in value) if v is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return NO_VALUE if arg == "AWS::NoValue" else ctx.ref(arg)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return resolve(when_true if ctx.conditions[name] else when_false, ctx)
        if key == "Fn::GetAtt":
            resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return ctx.get_att(resource, attribute)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], ctx))

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in variables:
                    return str(variables[name])
                if "." in name and not name.startswith("AWS::"):
                    return str(ctx.get_att(*name.split(".", 1)))
                return str(ctx.ref(name))

            return _SUB_VAR.sub(substitute, text)
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(str(v) for v in resolve(items, ctx))
        if key.startswith("Fn::"):
            raise ValueError(f"The local cloud does not support {key} (used in the template)")
    resolved = {k: resolve(v, ctx) for k, v in value.items()}
    return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
