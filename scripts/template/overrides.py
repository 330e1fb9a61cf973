"""The template's parameters: one loader, one validator, one NAME=VALUE parser, and the
arithmetic of what a deploy sends (override, previous value or default)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..core.errors import ExitCode, UserError
from ..core.files import read_bytes
from ..core.inputs import is_hostname
from .build import build_template

# CLI flags for the template parameters they set (for error messages).
FLAG_FOR_PARAMETER = {
    "DomainNames": "--domain-name",
    "CertificateArn": "--certificate-arn",
    "RetryAfterSeconds": "--retry-after",
}

# A CloudFormation template is at most 1 MB (TemplateURL; a TemplateBody 51,200 bytes).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
MAX_TEMPLATE_BYTES = 1024 * 1024

ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):(\d{12}):certificate/(.+)$")


def load_template(path: str | Path | None = None) -> dict:
    """The endpoint's template as a dict: synthesized in-process (``build_template()``), or
    read from a template JSON file ``path`` (e.g. one printed earlier)."""
    if path is None:
        return json.loads(build_template().to_json())
    data = read_bytes(path, "Template file", max_bytes=MAX_TEMPLATE_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"Template file {path} is not UTF-8 text.", ExitCode.USAGE) from None
    try:
        template = json.loads(text)
    except ValueError as exc:
        raise UserError(f"Template file {path} is not JSON ({exc}).", ExitCode.USAGE) from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise UserError(f"Template file {path} is not a CloudFormation template.",
                        ExitCode.USAGE)
    return template


def parse_assignment(text: str, what: str = "--parameter") -> tuple[str, str]:
    """NAME=VALUE, NAME a template parameter name; ``UserError`` otherwise."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,254}", name):
        raise UserError(f"{what} {text!r} is not NAME=VALUE.", ExitCode.USAGE)
    return name, value


def template_body(template: dict) -> str:
    return json.dumps(template, indent=1, sort_keys=True)


def flag_for(name: str) -> str:
    return FLAG_FOR_PARAMETER.get(name, f"--parameter {name}=")


def validate_parameter(name: str, value: str, spec: dict) -> None:
    """Check ``value`` against the template's own constraints for parameter ``name``
    (AllowedPattern, AllowedValues, MinValue/MaxValue, MinLength/MaxLength)."""
    flag = flag_for(name)
    shown = f"{flag} {value!r}" if flag.startswith("--") and not flag.endswith("=") \
        else f"{flag}{value}"
    if name == "CertificateArn" and value:
        m = ACM_ARN.match(value)
        if m and m.group(1) != "us-east-1":
            raise UserError(f"{shown} is an ACM certificate in {m.group(1)}, but CloudFront "
                            "only uses certificates from us-east-1: request or import it "
                            "there.", ExitCode.USAGE)
        if not m:
            raise UserError(f"{shown} is not an ACM certificate ARN (arn:aws:acm:us-east-1:"
                            "ACCOUNT:certificate/ID).", ExitCode.USAGE)
    ptype = spec.get("Type", "String")
    items = [v.strip() for v in value.split(",")] if ptype.startswith("CommaDelimitedList") \
        or ptype.startswith("List<") else [value]
    why = spec.get("ConstraintDescription")
    if ptype == "Number":
        # A plain decimal only: float() would take nan, inf, 1e3 and "1_0".
        if not re.fullmatch(r"-?[0-9]{1,15}(\.[0-9]{1,15})?", value):
            raise UserError(f"{shown} is not a number.", ExitCode.USAGE)
        number = float(value)
        low, high = spec.get("MinValue"), spec.get("MaxValue")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            raise UserError(f"{shown} is out of range: {name} must be between {low} and "
                            f"{high}.", ExitCode.USAGE)
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        raise UserError(f"{shown} is not allowed: {name} must be one of "
                        f"{', '.join(map(str, allowed))}.", ExitCode.USAGE)
    pattern = spec.get("AllowedPattern")
    if pattern is not None:
        for item in items:
            if not re.fullmatch(pattern, item):
                raise UserError(f"{shown} is invalid: {name} {why or 'must match ' + pattern}.",
                                ExitCode.USAGE)
    for item in items:
        if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
            raise UserError(f"{shown} is too long: at most {spec['MaxLength']} characters.",
                            ExitCode.USAGE)
        if "MinLength" in spec and len(item) < int(spec["MinLength"]):
            raise UserError(f"{shown} is too short: at least {spec['MinLength']} characters.",
                            ExitCode.USAGE)
    if name == "DomainNames":
        for item in items:
            if item and not is_hostname(item, wildcard=True):
                raise UserError(f"--domain-name {item!r} is not a valid host name.", ExitCode.USAGE)


def validate_overrides(template: dict, overrides: dict[str, str]) -> dict[str, str]:
    """Normalised overrides (lists without spaces); ``UserError`` for unknown names and
    values the template's constraints reject."""
    params = template.get("Parameters", {})
    result = {}
    for name, value in overrides.items():
        if name not in params:
            raise UserError(f"The template has no parameter {name!r}; it has "
                            f"{', '.join(sorted(params))}.", ExitCode.USAGE)
        value = str(value)
        if params[name].get("Type", "String") == "CommaDelimitedList":
            value = _normalise(value, params[name])
        validate_parameter(name, value, params[name])
        result[name] = value
    return result


def _normalise(value: str, spec: dict) -> str:
    if spec.get("Type") == "CommaDelimitedList":
        return ",".join(v.strip() for v in value.split(",") if v.strip())
    if spec.get("Type") == "Number" and re.fullmatch(r"-?[0-9]{1,15}(\.[0-9]{1,15})?", value):
        return repr(float(value))
    return value


def effective_parameters(template: dict, overrides: dict[str, str],
                         previous: dict[str, str] | None) -> dict[str, str]:
    """What each parameter will be: override, else deployed value, else default."""
    result = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in overrides:
            result[name] = overrides[name]
        elif previous is not None and name in previous:
            result[name] = previous[name]
        else:
            result[name] = str(spec.get("Default", ""))
    return result


def api_parameters(template: dict, overrides: dict[str, str],
                   previous: dict[str, str] | None) -> list[dict]:
    """The Parameters argument for create_change_set."""
    result = []
    for name in template.get("Parameters", {}):
        if name in overrides:
            result.append({"ParameterKey": name, "ParameterValue": overrides[name]})
        elif previous is not None and name in previous:
            result.append({"ParameterKey": name, "UsePreviousValue": True})
    return result


def parameters_unchanged(template: dict, overrides: dict[str, str],
                         previous: dict[str, str]) -> bool:
    params = template.get("Parameters", {})
    if set(previous) != set(params):
        return False
    return all(_normalise(v, params[k]) == _normalise(previous[k], params[k])
               for k, v in overrides.items())


def check_rules(effective: dict[str, str]) -> None:
    """The template's Rules, checked before any write (CloudFormation would only say so
    in a FAILED change set)."""
    domains = [d for d in effective.get("DomainNames", "").split(",") if d.strip()]
    certificate = effective.get("CertificateArn", "")
    if domains and not certificate:
        raise UserError(f"--domain-name {','.join(domains)} needs --certificate-arn: an ACM "
                        "certificate in us-east-1 that covers it.", ExitCode.USAGE)
    if certificate and not domains:
        raise UserError("--certificate-arn needs --domain-name: the domain names the "
                        "certificate covers.", ExitCode.USAGE)
