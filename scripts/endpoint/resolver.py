"""The small part of CloudFormation's intrinsic functions a template like ours uses:
``TemplateResolver`` resolves Ref, Fn::Sub, Fn::If, Fn::Join, ... against parameter values,
with fixed pseudo parameters and placeholders for resources' attributes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..core.errors import UserError
from ..template.overrides import validate_parameter

_NO_VALUE = object()
_PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "preview",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/preview/0",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}
_RESOURCE_REF = re.compile(r"^<<resource:([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?>>$")


def _resource_placeholder(name: str, attr: str | None = None) -> str:
    return f"<<resource:{name}{'.' + attr if attr else ''}>>"


def referenced_resource(value: Any) -> str | None:
    """Logical id behind a resolved Ref/GetAtt placeholder, else None."""
    m = _RESOURCE_REF.match(value) if isinstance(value, str) else None
    return m.group(1) if m else None


class TemplateResolver:
    """Resolves Ref/Fn::* against parameter values (defaults unless overridden)."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None):
        self.template = template
        declared = template.get("Parameters", {}) or {}
        overrides = {k: v for k, v in (parameters or {}).items() if v is not None}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise UserError(
                f"the template has no parameter {', '.join(unknown)} "
                f"(it has: {', '.join(sorted(declared)) or 'none'})"
            )
        self.values: dict[str, Any] = {}
        for name, decl in declared.items():
            if name in overrides:
                raw = overrides[name]
            elif "Default" in decl:
                raw = decl["Default"]
            else:
                raise UserError(f"parameter {name} has no default; pass --parameter {name}=VALUE")
            self.values[name] = self._check_parameter(name, decl, raw)
        self.conditions = template.get("Conditions", {}) or {}
        self._condition_cache: dict[str, bool] = {}

    @staticmethod
    def _check_parameter(name: str, decl: Mapping[str, Any], raw: Any) -> Any:
        if isinstance(raw, (list, tuple)):
            text = ",".join(str(x) for x in raw)
        elif isinstance(raw, bool):
            text = str(raw).lower()
        else:
            text = str(raw)
        # The same checks, and sentences, as a deploy with that value would give.
        validate_parameter(name, text, dict(decl))
        ptype = decl.get("Type", "String")
        if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
            return [item.strip() for item in text.split(",")]
        return text

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            if name not in self.conditions:
                raise UserError(f"the template has no condition {name}")
            self._condition_cache[name] = bool(self.resolve(self.conditions[name]))
        return self._condition_cache[name]

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.values:
            return self.values[name]
        if name in _PSEUDO:
            return _PSEUDO[name]
        if name in (self.template.get("Resources") or {}):
            return _resource_placeholder(name)
        raise UserError(f"the template refers to {name}, which it does not declare")

    def _sub(self, text: str, local: Mapping[str, Any]) -> str:
        def repl(m: re.Match[str]) -> str:
            expr = m.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"
            if expr in local:
                value = local[expr]
            elif "." in expr and expr.split(".", 1)[0] in (self.template.get("Resources") or {}):
                res, attr = expr.split(".", 1)
                value = _resource_placeholder(res, attr)
            else:
                value = self._ref(expr)
            if isinstance(value, list):
                value = ",".join(value)
            return str(value)

        return re.sub(r"\$\{([^}]*)\}", repl, text)

    def resolve(self, node: Any) -> Any:  # noqa: C901 - a plain dispatcher
        if isinstance(node, list):
            return [v for v in (self.resolve(x) for x in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                res, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return _resource_placeholder(res, attr)
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self._sub(arg, {})
                text, local = arg
                return self._sub(text, {k: self.resolve(v) for k, v in local.items()})
            if key == "Fn::Join":
                sep, items = arg
                items = self.resolve(items)
                return str(sep).join(str(x) for x in items)
            if key == "Fn::Select":
                index, items = self.resolve(arg)
                return items[int(index)]
            if key == "Fn::Split":
                sep, text = self.resolve(arg)
                return str(text).split(sep)
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                a, b = self.resolve(arg)
                return str(a) == str(b) if not isinstance(a, list) else a == b
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if key == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::FindInMap":
                m, k1, k2 = self.resolve(arg)
                return self.template["Mappings"][m][k1][k2]
            if key == "Fn::Base64":
                return self.resolve(arg)
            if key == "Fn::GetAZs":
                return ["us-east-1a", "us-east-1b", "us-east-1c"]
            if key == "Fn::ImportValue":
                return f"<<import:{self.resolve(arg)}>>"
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in node.items()) if v is not _NO_VALUE}


