"""The CloudFront Functions' code, read from the ``.js`` files in ``functions/`` (package data).

In those files, lines that start with ``//`` are notes for the reader and are dropped, as is
every line's indentation (it counts against the 10 KB code limit), a line
``// @include FILE`` is replaced by that file (the parts the functions share), and the
placeholders below are filled in. Placeholders are plain JavaScript identifiers, so
``node --check`` reads every file as it is. What each function does and why:
docs/design.md#cloudfront-functions.
"""

from importlib import resources

from ..core.inputs import EXEMPT_PATH
from .names import BUCKET_ORIGIN_ID, COUNTDOWN_FLOOR_SECONDS, RESERVED_PREFIX, SWITCH_KEY

FUNCTIONS_DIR = resources.files(__package__).joinpath("functions")

PLACEHOLDERS = {
    # Fn::Sub references: CloudFormation fills them in at deploy time; their AllowedPatterns
    # keep them a plain string or number in the code.
    "__MaintenanceObjectKey__": "${MaintenanceObjectKey}",
    "__RetryAfterSeconds__": "${RetryAfterSeconds}",
    "__MaintenanceEndsAt__": "${MaintenanceEndsAt}",
    "__ProblemDetail__": "${ProblemDetail}",
    "__EdgeSwitchId__": "${EdgeSwitch.Id}",
    # The template's own constants, filled in now.
    "__COUNTDOWN_FLOOR_SECONDS__": str(COUNTDOWN_FLOOR_SECONDS),
    "__RESERVED_PREFIX__": RESERVED_PREFIX,
    "__SWITCH_KEY__": SWITCH_KEY,
    "__BUCKET_ORIGIN_ID__": BUCKET_ORIGIN_ID,
    "__EXEMPT_PATH__": EXEMPT_PATH.pattern.replace("/", "\\/"),
}

INCLUDE = "// @include "


def source(name: str) -> str:
    """The file's code with its notes dropped and its includes expanded (placeholders left)."""
    parts = []
    for line in FUNCTIONS_DIR.joinpath(name).read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith(INCLUDE):
            parts.append(source(line[len(INCLUDE):].strip()))
        elif not line.lstrip().startswith("//"):
            parts.append(line.lstrip(" "))  # indentation costs bytes of the 10 KB and means nothing
    return "".join(parts)


def function_code(name: str) -> str:
    """The code of one function, as the template's Fn::Sub takes it."""
    code = source(name)
    for placeholder, value in PLACEHOLDERS.items():
        code = code.replace(placeholder, value)
    return code


VIEWER_REQUEST_CODE = function_code("viewer-request.js")
VIEWER_RESPONSE_CODE = function_code("viewer-response.js")
FRONT_DOOR_REQUEST_CODE = function_code("front-door-request.js")
FRONT_DOOR_RESPONSE_CODE = function_code("front-door-response.js")
