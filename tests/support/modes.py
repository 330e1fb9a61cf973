"""The template in one mode: its conditions taken with given parameter values (defaults
otherwise), so each mode can be compared and linted as the plain template CloudFormation
would see. Not a test file; tests import it (``tests/`` is on ``sys.path``).

Only Fn::If, Condition keys and AWS::NoValue are resolved (a NoValue left alone where its
Fn::If is left alone); Ref, Fn::Sub and the rest stay
as written, so the result can be compared with a template written before the modes existed.
"""

from __future__ import annotations

import copy

from scripts.endpoint.resolver import TemplateResolver

NO_VALUE = {"Ref": "AWS::NoValue"}
_DROP = object()

FRONT_DOOR = {"AppOriginDomainName": "app.example.com"}
# The conditions that choose between the endpoint and the front door.
MODE_CONDITIONS = ("IsEndpoint", "IsFrontDoor")


def in_mode(template: dict, parameters: dict | None = None, *, conditions=None) -> dict:
    """``template`` with its conditions decided for ``parameters`` (defaults otherwise):
    all of them, or only those named in ``conditions`` (the rest stay as written)."""
    resolver = TemplateResolver(template, parameters or {})
    holds = {name: resolver.condition(name) for name in template.get("Conditions", {})
             if conditions is None or name in conditions}

    def walk(node):
        if isinstance(node, list):
            return [v for v in (walk(x) for x in node) if v is not _DROP]
        if not isinstance(node, dict):
            return node
        if node == NO_VALUE:
            return _DROP
        if list(node) == ["Fn::If"]:
            name, yes, no = node["Fn::If"]
            if name in holds:
                return walk(yes if holds[name] else no)
            return {"Fn::If": [name] + [NO_VALUE if v is _DROP else v for v in (walk(yes), walk(no))]}
        return {k: v for k, v in ((k, walk(v)) for k, v in node.items()) if v is not _DROP}

    out = copy.deepcopy(template)
    for section in ("Resources", "Outputs"):
        kept = {}
        for name, item in out.get(section, {}).items():
            condition = item.get("Condition")
            if condition in holds:
                del item["Condition"]
            if condition not in holds or holds[condition]:
                kept[name] = walk(item)
        out[section] = kept
    return out
