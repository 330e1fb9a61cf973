"""The CloudFormation template: ``build_template()`` and the names others read from it.

``build.py`` assembles it from ``parameters.py``, ``resources.py`` and ``distribution.py``;
the CloudFront Functions are the ``.js`` files in ``functions/`` (``functions.py`` reads
them); ``names.py`` holds the fixed names and values; ``overrides.py`` reads a template and
checks deploy-time parameter values against it.
"""

from .build import build_template, parameters_help
from .functions import (
    FRONT_DOOR_REQUEST_CODE,
    FRONT_DOOR_RESPONSE_CODE,
    VIEWER_REQUEST_CODE,
    VIEWER_RESPONSE_CODE,
)
from .names import (
    ALL_METHODS,
    ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID,
    APP_ORIGIN_ID,
    APP_ORIGIN_READ_TIMEOUT,
    BUCKET_ORIGIN_ID,
    CACHING_DISABLED_POLICY_ID,
    CACHING_OPTIMIZED_POLICY_ID,
    CONTENT_SECURITY_POLICY,
    COUNTDOWN_FLOOR_SECONDS,
    DEFAULT_OBJECT_KEY,
    FRONT_DOOR_ERROR_CODES,
    FUNCTION_CODE_LIMIT_BYTES,
    MAINTENANCE_ENDS_AT_PATTERN,
    REMAPPED_ERROR_CODES,
    RESERVED_PREFIX,
    SWITCH_KEY,
)

__all__ = [
    "ALL_METHODS", "ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID", "APP_ORIGIN_ID", "APP_ORIGIN_READ_TIMEOUT",
    "BUCKET_ORIGIN_ID", "CACHING_DISABLED_POLICY_ID", "CACHING_OPTIMIZED_POLICY_ID",
    "CONTENT_SECURITY_POLICY", "COUNTDOWN_FLOOR_SECONDS", "DEFAULT_OBJECT_KEY", "FRONT_DOOR_ERROR_CODES",
    "FRONT_DOOR_REQUEST_CODE", "FRONT_DOOR_RESPONSE_CODE", "FUNCTION_CODE_LIMIT_BYTES",
    "MAINTENANCE_ENDS_AT_PATTERN", "REMAPPED_ERROR_CODES", "RESERVED_PREFIX", "SWITCH_KEY",
    "VIEWER_REQUEST_CODE", "VIEWER_RESPONSE_CODE", "build_template", "parameters_help",
]
