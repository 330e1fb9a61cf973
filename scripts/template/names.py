"""The template's fixed names and values: what other modules (verify, the preview, the
switches, the tests) read from it, without building it. Why each is what it is:
docs/design.md, in the section named beside it."""

from ..core.inputs import UTC_TIME_PATTERN

DEFAULT_OBJECT_KEY = "maintenance.html"

# The problem document's detail (ProblemDetail). Why: docs/design.md#content-negotiation
DEFAULT_PROBLEM_DETAIL = "The service is down for planned maintenance. Please retry after the time given."
PROBLEM_DETAIL_MAX_LENGTH = 300

# Why: docs/design.md#error-codes
REMAPPED_ERROR_CODES = (400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504)

# Why: docs/design.md#allowed-methods
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]

# Managed cache policy "CachingOptimized". Why: docs/design.md#cache-policies
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"

# Managed cache policy "CachingDisabled", for the front door's app. Why: docs/design.md#cache-policies
CACHING_DISABLED_POLICY_ID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"

# Managed origin request policy "AllViewerExceptHostHeader". Why: docs/design.md#origin-request-policy
ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

# Origin ids: the bucket keeps the endpoint's id; the switch selects it by this id.
BUCKET_ORIGIN_ID = "MaintenanceBucket"
APP_ORIGIN_ID = "App"

# Where the page lives in front-door mode. Why: docs/design.md#reserved-prefix
RESERVED_PREFIX = ".maintenance-endpoint"

# Which of the app's errors become the 503 page. Why: docs/design.md#front-door-error-codes
FRONT_DOOR_ERROR_CODES = (502, 503, 504)

# How long CloudFront waits for the app. Why: docs/design.md#origin-read-timeout
APP_ORIGIN_READ_TIMEOUT = 60

# The one key the front-door functions read: a JSON document that
# `maintenance-endpoint switch --stack-name` (switch/edge.py) writes, e.g.
#   {"on":true,"allow":["203.0.113.0/24","2001:db8::/48"],"until":"2026-12-01T22:00:00Z"}
SWITCH_KEY = "maintenance"

# A self-contained page: inline CSS only, no scripts, fonts, frames or remote images.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

# MaintenanceEndsAt: empty, or a UTC time YYYY-MM-DDTHH:MM:SSZ in 2000-2099 whose month has
# that day (core/inputs.py's grammar, which the front door's switch uses for its end time too).
# Why only this form: docs/design.md#maintenance-ends-at
MAINTENANCE_ENDS_AT_PATTERN = rf"^$|^{UTC_TIME_PATTERN}$"

# The Retry-After countdown never goes below this (or RetryAfterSeconds if smaller); verify
# checks against the same floor. Why: docs/design.md#retry-after
COUNTDOWN_FLOOR_SECONDS = 60

# A CloudFront function's code may be at most 10 KB. Why: docs/design.md#function-size
FUNCTION_CODE_LIMIT_BYTES = 10 * 1024
