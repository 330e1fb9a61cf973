"""The maintenance endpoint as a CloudFormation template.

    python stack.py > template.json      (from a checkout)
    maintenance-endpoint template > template.json

A private S3 bucket holds one maintenance file; a CloudFront distribution in front
of it (Origin Access Control) answers every path and every method with HTTP 503,
a Retry-After header and that file as the body:

- GET and HEAD, whatever the path and query: the viewer-request function rewrites
  the request to the page's key, so every one of them is a cache hit on one object
  per edge (S3 is asked only when an edge's copy expires, at most twice a day), and
  the viewer-response function turns that 200 into the 503 with Retry-After and
  Cache-Control: no-store.
  The page object's own Cache-Control (set by deploy: lib/page.py) carries
  stale-if-error, so an edge keeps serving it while S3 is down.
- Every other method goes to S3 as before and S3 answers an error (403 for a
  missing key, since the bucket policy grants no s3:ListBucket; 405 for POST; 5xx
  when S3 is unwell); the distribution's custom error responses turn every error
  code CloudFront accepts into a 503 whose body is the page. Viewer-response
  functions do not run for error responses, so the response headers policy adds
  Retry-After and Cache-Control there.

Front door (AppOriginDomainName set): the same template puts CloudFront in front of
your app instead. The app is the default origin (HTTPS only, every method, nothing
cached at the edge); only its 502/503/504 become the 503 page, which lives in the same
private bucket under the reserved prefix /.maintenance-endpoint/. A KeyValueStore
holds a switch (on/off, an allowlist of CIDRs, an optional end time) that the
front-door functions read on every request: while it is on, everyone outside the
allowlist gets the maintenance 503. See docs/front-door.md. With AppOriginDomainName
empty (the default) every resource is exactly the endpoint described above.

Per-deployment options are CloudFormation Parameters, so the printed template is
deployed unchanged with `aws cloudformation deploy --parameter-overrides ...`.
The output is deterministic: no environment reads, no timestamps.

Logical IDs, parameter names and output names are public API: renaming a
resource's logical ID replaces the resource on the next deploy.
"""

import argparse
import sys

from awacs import s3
from awacs.aws import (
    Allow,
    Bool,
    Condition,
    Deny,
    Everybody,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import (
    AWS_ACCOUNT_ID,
    AWS_NO_VALUE,
    AWS_PARTITION,
    AWS_STACK_ID,
    Equals,
    GetAtt,
    If,
    Join,
    Not,
    Output,
    Parameter,
    Ref,
    Select,
    Split,
    Sub,
    Template,
)
from troposphere import cloudfront as cf
from troposphere import s3 as s3r

from ..core.inputs import UTC_TIME_PATTERN

DEFAULT_OBJECT_KEY = "maintenance.html"

# Every ErrorCode that CustomErrorResponse accepts, all of which S3 or CloudFront can
# produce for this distribution; each is answered with 503 + the page.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HTTPStatusCodes.html
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-cloudfront-distribution-customerrorresponse.html
REMAPPED_ERROR_CODES = (400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504)

# AllowedMethods accepts three sets only; anything outside the set gets CloudFront's
# own 403, not the page: allow all seven.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-403-invalid-method.html
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]

# Managed cache policy "CachingOptimized" (gzip + brotli in the cache key, no query
# strings, cookies or headers). The page is invalidated on change.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"

# --- Front door (AppOriginDomainName set): choices the docs settle -------------------------

# The app's answers are not cached at the edge: managed cache policy CachingDisabled (TTLs
# 0, nothing in the cache key). Honouring the app's Cache-Control instead would take the
# managed UseOriginCacheControlHeaders(-QueryStrings) policy, whose cache key holds the Host
# header and every cookie; and what a cache key holds is also sent to the origin ("The
# headers, cookies, and query strings that are included in the cache key are also included
# in requests that CloudFront sends to the origin", CachePolicyConfig). The viewer's Host
# would then reach S3 on switched requests (S3 would look for another bucket) and the app
# would need a certificate for the distribution's own names. Viewers still get the app's
# own Cache-Control, so browsers cache exactly as the app says.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html
# https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CachePolicyConfig.html
CACHING_DISABLED_POLICY_ID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"

# Managed origin request policy AllViewerExceptHostHeader: every header, cookie and query
# string of the viewer except Host, which becomes the origin's own domain name. So the app
# gets Host = AppOriginDomainName (its certificate must cover that name), and the same
# behaviour can hand a request to the S3 origin (the switch) with S3's own Host. The viewer's
# Host reaches the app as X-Forwarded-Host, which the front-door request function sets
# (overwriting anything the viewer sent; not a header functions are barred from setting,
# edge-function-restrictions-all.html). AllViewer would send the viewer's Host to both
# origins: S3 would not find the bucket, and the app would have to present a certificate
# for the viewer's host name, which for *.cloudfront.net it cannot.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-function-restrictions-all.html
ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

# Origin ids: the bucket keeps the endpoint's id; the switch selects it by this id.
BUCKET_ORIGIN_ID = "MaintenanceBucket"
APP_ORIGIN_ID = "App"

# Where the page lives in front-door mode: a reserved path prefix with its own cache
# behaviour on the bucket. Cache behaviours are matched in order and the first match wins,
# so no request under the prefix ever reaches the app, and the app can never answer for the
# page. The S3 key is that same path, so the error page CloudFront fetches for a custom error
# response needs no function to find it (viewer functions are not documented to run there).
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesCacheBehavior.html#DownloadDistValuesPathPattern
RESERVED_PREFIX = ".maintenance-endpoint"

# Which of the app's errors become the 503 page. Custom error responses apply to the whole
# distribution, every behaviour (HTTPStatusCodes.html), so the list is as short as the job:
# 502 and 504 are CloudFront's own answers when it cannot reach or hear from the app
# (refused or failed connection, TLS failure, timeout); 503 is the app saying it is
# unavailable. 500 is left alone: it is the app answering, with its own diagnosis of one
# request (an API's error document, a bug on one page), and "down for maintenance" would
# hide it and mislead. The app's 4xx are its answers too. Viewer-response functions do not
# run for responses >= 400, so nothing is ever added to the app's own errors.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HTTPStatusCodes.html
FRONT_DOOR_ERROR_CODES = (502, 503, 504)

# How long CloudFront waits for the app (OriginReadTimeout: default 30 s, at most 60 s
# without a quota increase): the most patience CloudFront gives by default, so slow but
# healthy requests are not cut short; a hung app becomes a 504, i.e. the page.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesOrigin.html#DownloadDistValuesOriginResponseTimeout
APP_ORIGIN_READ_TIMEOUT = 60

# The one key the front-door functions read: a JSON document that
# `maintenance-endpoint switch --stack-name` (lib/edge_switch.py) writes, e.g.
#   {"on":true,"allow":["203.0.113.0/24","2001:db8::/48"],"until":"2026-12-01T22:00:00Z"}
SWITCH_KEY = "maintenance"

# A self-contained page: inline CSS only, no scripts, fonts, frames or remote images.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

# MaintenanceEndsAt: empty, or a UTC time YYYY-MM-DDTHH:MM:SSZ in 2000-2099 whose month
# has that day (see add_parameters for why only this form; the grammar is lib/inputs.py's,
# which the front door's switch uses for its end time too).
MAINTENANCE_ENDS_AT_PATTERN = rf"^$|^{UTC_TIME_PATTERN}$"

# Viewer request. Every GET and HEAD, whatever its path and query string, is rewritten
# to the one page key, so they all share one cache entry per edge: CloudFront runs a
# viewer-request function "before checking to see whether the requested object is in
# the CloudFront cache" and then "continues processing the returned request by
# checking the CloudFront cache for a cache hit, and sending the request to the origin
# if necessary" (function-code-choose-purpose.html). Changing the URI changes neither
# the cache behavior nor the origin (edge-function-restrictions-all.html, "URI").
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/function-code-choose-purpose.html
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-function-restrictions-all.html
# The query string is dropped too: CachingOptimized leaves it out of the cache key
# already, and S3 has no use for it.
# OPTIONS is NOT rewritten: CachedMethods is GET,HEAD, so CloudFront would still send it
# to S3, which answers an OPTIONS (a CORS preflight) with 403 without a CORS
# configuration; rewriting would gain no cache hit. It stays, with PUT, PATCH, POST and
# DELETE (never cached: RequestAndResponseBehaviorS3Origin.html), on the S3-error ->
# custom-error-response path.
# Conditional and Range headers are dropped for every method, so the page is never a
# 304 Not Modified or a 206 Partial Content.
# ${MaintenanceObjectKey} is filled in by Fn::Sub; its AllowedPattern (letters, digits,
# '.', '_', '-') keeps it a plain JavaScript string.
DROP_CONDITIONAL_AND_RANGE_JS = """\
  delete headers['if-none-match'];
  delete headers['if-modified-since'];
  delete headers['if-match'];
  delete headers['if-unmodified-since'];
  delete headers['if-range'];
  delete headers['range'];
"""
VIEWER_REQUEST_CODE = """\
var PAGE = '/${MaintenanceObjectKey}';

function handler(event) {
  var request = event.request;
  var headers = request.headers;
  if (request.method === 'GET' || request.method === 'HEAD') {
    request.uri = PAGE;
    request.querystring = {};
  }
""" + DROP_CONDITIONAL_AND_RANGE_JS + """\
  return request;
}
"""

# Viewer response: CloudFront "doesn't invoke edge functions for viewer response events
# when the origin returns HTTP status code 400 or higher" (edge-function-restrictions-all.html),
# and custom error responses never reach it either; it runs on cache hits and misses of
# the page, i.e. every GET and HEAD. It makes them the 503 and sets Retry-After and
# Cache-Control: no-store itself, so the main path does not depend on whether the
# response headers policy applies (the policy stays for the error path). no-store also
# hides the page object's Cache-Control, which is meant for the edge only.
#
# Retry-After counts down to MaintenanceEndsAt while that lies in the future: the whole
# seconds left, but never fewer than FLOOR (60 s, or RetryAfterSeconds if smaller), so
# clients are not invited to hammer the endpoint in the last seconds of an estimate.
# At and after the end time, or with the parameter empty, it is RetryAfterSeconds.
# Date.parse('') is NaN, and NaN > 0 is false: empty means no countdown. The end time is
# in the ES 5.1 Date Time String Format (its AllowedPattern guarantees that), which
# Date.parse must accept (ECMA-262 5.1, 15.9.1.15); cloudfront-js-2.0 is "compliant
# with ECMAScript (ES) version 5.1" (functions-javascript-runtime-20.html).
# https://262.ecma-international.org/5.1/#sec-15.9.1.15
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-javascript-runtime-20.html
# Date.now() is read per response, so a test can replace it; the code has no test hooks.
#
# No Refresh header: a timed reload is a documented accessibility failure (WCAG F41,
# "Failure of Success Criterion 2.2.1, 2.2.4, and 3.2.5 due to using meta refresh to
# reload the page"; the Refresh header does the same as that meta element), the
# function cannot tell whether someone is reading the page, and API clients ignore it.
# A reader reloads by hand (the reverse proxy serves the app again on the same URL); a
# page author who wants a timed reload anyway can put <meta http-equiv="refresh"> in it.
# https://www.w3.org/WAI/WCAG22/Techniques/failures/F41
#
# ${RetryAfterSeconds} and ${MaintenanceEndsAt} are filled in by Fn::Sub; their
# AllowedPatterns keep them a plain number and a plain string.
# The countdown rule, one copy for the endpoint and the front door: it reads RETRY_AFTER
# and ENDS_AT, which each function defines. verify checks against the same floor.
COUNTDOWN_FLOOR_SECONDS = 60
RETRY_AFTER_JS = f"var FLOOR = Math.min({COUNTDOWN_FLOOR_SECONDS}, RETRY_AFTER);\n" + """\

function retryAfter(now) {
  var left = Math.ceil((ENDS_AT - now) / 1000);
  return left > 0 ? Math.max(left, FLOOR) : RETRY_AFTER;
}
"""
VIEWER_RESPONSE_CODE = """\
var RETRY_AFTER = ${RetryAfterSeconds};
var ENDS_AT = Date.parse('${MaintenanceEndsAt}');
""" + RETRY_AFTER_JS + """
function handler(event) {
  var response = event.response;
  if (response.statusCode < 400) {
    response.statusCode = 503;
    response.statusDescription = 'Service Unavailable';
    response.headers['retry-after'] = { value: String(retryAfter(Date.now())) };
    response.headers['cache-control'] = { value: 'no-store' };
  }
  return response;
}
"""

# --- Front-door functions -----------------------------------------------------------------
# Both read the switch from the KeyValueStore (cloudfront-js-2.0 only; `import cf from
# 'cloudfront'` on the first line, `cf.kvs(id)` for the handle, `await handle.get(key)`,
# which rejects when the key does not exist), both decide the same way from the same inputs
# (the stored switch, event.viewer.ip, the method), so they share this code.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-custom-methods.html
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/kvs-with-functions-associate.html
#
# What the store may hold, and what the functions make of it (fail safe, see
# docs/front-door.md):
# - no key, or the store cannot be read: off. A store nobody has written (the stack as
#   created) is off, and the front door's default is the app.
# - exactly {"on": false, ...}: off.
# - anything else that is not {"on": true, ...} (not JSON, another type, "on": "yes"): ON,
#   with nobody let through. Someone wrote the switch and the functions cannot tell what
#   was meant; closing the site is visible and undone in seconds (`switch off --stack-name`),
#   opening a site under maintenance to the public is neither.
# - "allow" not a list: nobody is let through. An entry that is not exactly ADDRESS/BITS
#   (IPv4 dotted quad, IPv6 text, BITS without leading zeros and within the family; a
#   string, not a list that JavaScript would turn into one) matches nobody; the other
#   entries still count.
# - "until" not YYYY-MM-DDTHH:MM:SSZ: no countdown (Retry-After is RetryAfterSeconds).
# ENDS_AT is set from the switch right before retryAfter() reads it, with no await in
# between, so the shared countdown rule (RETRY_AFTER_JS) applies unchanged.
FRONT_DOOR_COMMON_JS = """\
import cf from 'cloudfront';

var kvs = cf.kvs('${EdgeSwitch.Id}');
var RESERVED = '/""" + RESERVED_PREFIX + """/';
var PAGE = RESERVED + '${MaintenanceObjectKey}';
var RETRY_AFTER = ${RetryAfterSeconds};
var ENDS_AT = NaN;
""" + RETRY_AFTER_JS + """
async function readSwitch() {
  var text, s = null;
  try {
    text = await kvs.get('""" + SWITCH_KEY + """');
  } catch (e) {
    return null;
  }
  try {
    s = JSON.parse(text);
  } catch (e) {}
  if (s && s.on === false) return null;
  if (!s || s.on !== true) return { allow: [], until: NaN };
  return {
    allow: Array.isArray(s.allow) ? s.allow : [],
    until: typeof s.until === 'string' && /^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$/.test(s.until)
      ? Date.parse(s.until) : NaN
  };
}

function words(ip) {
  if (typeof ip !== 'string') return null;
  var v4 = /^(0|[1-9]\\d{0,2})\\.(0|[1-9]\\d{0,2})\\.(0|[1-9]\\d{0,2})\\.(0|[1-9]\\d{0,2})$/.exec(ip);
  if (v4) {
    if (+v4[1] > 255 || +v4[2] > 255 || +v4[3] > 255 || +v4[4] > 255) return null;
    return [v4[1] * 256 + +v4[2], v4[3] * 256 + +v4[4]];
  }
  var dotted = /^(.*:)(\\d+\\.\\d+\\.\\d+\\.\\d+)$/.exec(ip);
  if (dotted) {
    var q = words(dotted[2]);
    if (!q) return null;
    ip = dotted[1] + q[0].toString(16) + ':' + q[1].toString(16);
  }
  if (!/^[0-9a-fA-F:]+$/.test(ip)) return null;
  var halves = ip.split('::');
  if (halves.length > 2) return null;
  var all = halves[0] ? halves[0].split(':') : [];
  var tail = halves[1] ? halves[1].split(':') : [];
  var gap = 8 - all.length - tail.length;
  if (halves.length === 2 ? gap < 1 : gap !== 0) return null;
  while (gap-- > 0) all.push('0');
  all = all.concat(tail);
  var out = [];
  for (var i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(all[i])) return null;
    out.push(parseInt(all[i], 16));
  }
  return out;
}

function inside(ip, cidr) {
  var m = typeof cidr === 'string' && /^([0-9a-fA-F:.]+)\\/(0|[1-9]\\d{0,2})$/.exec(cidr);
  var net = m && words(m[1]);
  if (!ip || !net || net.length !== ip.length || +m[2] > 16 * net.length) return false;
  for (var i = 0, bits = +m[2]; bits > 0; i++, bits -= 16) {
    var mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((ip[i] & mask) !== (net[i] & mask)) return false;
  }
  return true;
}

function allowed(event, sw) {
  var ip = words(event.viewer && event.viewer.ip);
  for (var i = 0; i < sw.allow.length; i++) {
    if (inside(ip, sw.allow[i])) return true;
  }
  return false;
}

function maintenance(sw, headers) {
  ENDS_AT = sw ? sw.until : NaN;
  headers['retry-after'] = { value: String(retryAfter(Date.now())) };
  headers['cache-control'] = { value: 'no-store' };
  return headers;
}
"""

# Viewer request on the app's behaviour. Switch off, or the viewer in the allowlist: the
# request goes to the app untouched but for X-Forwarded-Host (see
# ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID). Otherwise GET and HEAD go to the bucket for the
# page: cf.selectRequestOriginById picks an origin already in the distribution, with all its
# settings (OAC included); only a viewer-request function may change the origin
# (helper-functions-origin-modification.html). The URI and query become the page's, and
# conditional and Range headers go, as on the endpoint. The viewer-response function makes
# the page's 200 a 503. Other methods cannot be answered from S3 (405/403 there, and the
# app's error codes are not remapped here), so the function answers them itself: 503,
# Retry-After, no-store and a short body, RFC 9457 problem JSON when the Accept header asks
# for JSON, else one line of text (functions-event-structure.html, "Status code and body").
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/helper-functions-origin-modification.html
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html
FRONT_DOOR_REQUEST_CODE = FRONT_DOOR_COMMON_JS + """
async function handler(event) {
  var request = event.request;
  var headers = request.headers;
  var sw = await readSwitch();
  if (!sw || allowed(event, sw)) {
    if (headers.host) headers['x-forwarded-host'] = { value: headers.host.value };
    return request;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    var json = /json/i.test(headers.accept ? headers.accept.value : '');
    var text = 'Service Unavailable: down for maintenance.';
    return {
      statusCode: 503,
      statusDescription: 'Service Unavailable',
      headers: maintenance(sw, {
        'content-type': { value: json ? 'application/problem+json' : 'text/plain; charset=utf-8' }
      }),
      body: {
        encoding: 'text',
        data: json ? JSON.stringify({ title: 'Service Unavailable', status: 503, detail: text }) : text + '\\n'
      }
    };
  }
  cf.selectRequestOriginById('""" + BUCKET_ORIGIN_ID + """');
  request.uri = PAGE;
  request.querystring = {};
""" + DROP_CONDITIONAL_AND_RANGE_JS + """\
  return request;
}
"""

# Viewer response, on the app's behaviour and on the reserved one. It runs only for
# responses below 400 (edge-function-restrictions-all.html). Under the reserved prefix the
# response is always the page: 503. On the app's behaviour it repeats the request
# function's decision (GET/HEAD, switch on, viewer not let through) and only then makes the
# page's 200 a 503 with Retry-After and no-store; every other response, the app's, passes
# untouched. It decides again rather than trusting the URI, because the docs describe the
# event's request as the one received from the viewer, not the one the request function
# returned (functions-event-structure.html): a switched GET may show its original URI here.
FRONT_DOOR_RESPONSE_CODE = FRONT_DOOR_COMMON_JS + """
async function handler(event) {
  var request = event.request;
  var response = event.response;
  var page = request.uri.indexOf(RESERVED) === 0;
  if (!page && request.method !== 'GET' && request.method !== 'HEAD') return response;
  var sw = await readSwitch();
  if (!page && (!sw || allowed(event, sw))) return response;
  response.statusCode = 503;
  response.statusDescription = 'Service Unavailable';
  maintenance(sw, response.headers);
  return response;
}
"""

# A CloudFront function's code may be at most 10 KB ("Quotas on CloudFront Functions").
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-functions
FUNCTION_CODE_LIMIT_BYTES = 10 * 1024


def checkov_skips(*skips):
    """Metadata that tells checkov why a check does not apply to this resource."""
    return {"checkov": {"skip": [{"id": i, "comment": c} for i, c in skips]}}


def unique_name(suffix):
    """A name that is unique per stack and short enough for CloudFront's 64-char limits.

    OAC, function and response headers policy names are global to the account, so
    they carry the stack id's UUID (36 characters) rather than the stack name
    (up to 128 characters).
    """
    return Join("-", ["maint", suffix, Select(2, Split("/", Ref(AWS_STACK_ID)))])


def add_parameters(t):
    t.add_parameter(Parameter(
        "DomainNames",
        Type="CommaDelimitedList",
        Default="",
        Description="Alternate domain names (comma-separated), e.g. maintenance.example.com. "
        "Needs CertificateArn. Empty: only the *.cloudfront.net name.",
    ))
    t.add_parameter(Parameter(
        "CertificateArn",
        Type="String",
        Default="",
        AllowedPattern=r"^$|^arn:aws:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]{36}$",
        ConstraintDescription="must be empty or an ACM certificate ARN in us-east-1 "
        "(CloudFront only uses certificates from us-east-1)",
        Description="ACM certificate (in us-east-1) covering DomainNames. Empty: the default "
        "*.cloudfront.net certificate.",
    ))
    # A String with a pattern, not a Number: CloudFormation's Number takes 300.5 or 1e3,
    # which would go out verbatim as an invalid Retry-After (RFC 9110: whole seconds).
    t.add_parameter(Parameter(
        "RetryAfterSeconds",
        Type="String",
        Default="300",
        AllowedPattern=r"^[1-9][0-9]{0,4}$",
        ConstraintDescription="must be a whole number of seconds from 1 to 99999",
        Description="Value of the Retry-After header, in whole seconds (1-99999).",
    ))
    # One exact form, so there is nothing to misread: YYYY-MM-DDTHH:MM:SSZ in UTC. No
    # other offsets (a local time is an outage-night mistake waiting to happen), no
    # fractional seconds (Retry-After is whole seconds), upper-case T and Z, a real month
    # and day (31 April is refused; 29 February is taken in any year, and in a common year
    # node reads it as 1 March). It is also the ES 5.1 Date Time String Format the
    # viewer-response function parses.
    t.add_parameter(Parameter(
        "MaintenanceEndsAt",
        Type="String",
        Default="",
        AllowedPattern=MAINTENANCE_ENDS_AT_PATTERN,
        ConstraintDescription="must be empty or a UTC time such as 2026-12-01T22:00:00Z",
        Description="When the maintenance is expected to end, in UTC, e.g. "
        f"2026-12-01T22:00:00Z. Until then Retry-After counts down to it (never below {COUNTDOWN_FLOOR_SECONDS} s, "
        "or RetryAfterSeconds if smaller); after it, RetryAfterSeconds. Empty: no countdown.",
    ))
    t.add_parameter(Parameter(
        "ErrorCachingMinTTL",
        Type="Number",
        Default=10,
        MinValue=0,
        MaxValue=31536000,
        Description="Seconds CloudFront caches an error response before asking S3 again.",
    ))
    t.add_parameter(Parameter(
        "PriceClass",
        Type="String",
        Default="PriceClass_100",
        AllowedValues=["PriceClass_100", "PriceClass_200", "PriceClass_All"],
        Description="Which edge locations serve the page.",
    ))
    t.add_parameter(Parameter(
        "MaintenanceObjectKey",
        Type="String",
        Default=DEFAULT_OBJECT_KEY,
        AllowedPattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$",
        ConstraintDescription="must be a plain object key such as maintenance.html "
        "(letters, digits, '.', '_', '-')",
        Description="Key of the one maintenance object in the bucket (maintenance.html or "
        "maintenance.json).",
    ))
    t.add_parameter(Parameter(
        "WebAclArn",
        Type="String",
        Default="",
        AllowedPattern=r"^$|^arn:aws:wafv2:us-east-1:[0-9]{12}:global/webacl/[^/]+/[0-9a-f-]{36}$",
        ConstraintDescription="must be empty or the ARN of a WAFv2 web ACL with CLOUDFRONT "
        "scope (in us-east-1)",
        Description="Optional AWS WAF web ACL for the distribution. Empty: none.",
    ))
    t.add_parameter(Parameter(
        "AppOriginDomainName",
        Type="String",
        Default="",
        MaxLength=253,
        AllowedPattern=r"^$|^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        ConstraintDescription="must be empty or a lower-case DNS name such as "
        "app-123.eu-west-1.elb.amazonaws.com",
        Description="Front door: your app's origin (HTTPS, port 443), e.g. "
        "app-123.eu-west-1.elb.amazonaws.com. CloudFront then sits before the app, turns its "
        "502/503/504 into the page and has a maintenance switch (docs/front-door.md). "
        "Empty: the maintenance endpoint.",
    ))


def add_conditions_and_rules(t):
    t.add_condition("HasCertificate", Not(Equals(Ref("CertificateArn"), "")))
    t.add_condition("HasDomainNames", Not(Equals(Join("", Ref("DomainNames")), "")))
    t.add_condition("HasWebAcl", Not(Equals(Ref("WebAclArn"), "")))
    t.add_condition("IsFrontDoor", Not(Equals(Ref("AppOriginDomainName"), "")))
    t.add_condition("IsEndpoint", Equals(Ref("AppOriginDomainName"), ""))
    # An alternate domain name needs a certificate that covers it, and a certificate
    # is only used for alternate domain names: ask for both or neither.
    t.add_rule("DomainNamesNeedCertificate", {
        "RuleCondition": {"Fn::Not": [{"Fn::EachMemberEquals": [Ref("DomainNames"), ""]}]},
        "Assertions": [{
            "Assert": {"Fn::Not": [{"Fn::Equals": [Ref("CertificateArn"), ""]}]},
            "AssertDescription": "DomainNames needs a CertificateArn (ACM, us-east-1) "
            "that covers them.",
        }],
    })
    t.add_rule("CertificateNeedsDomainNames", {
        "RuleCondition": {"Fn::Not": [{"Fn::Equals": [Ref("CertificateArn"), ""]}]},
        "Assertions": [{
            "Assert": {"Fn::Not": [{"Fn::EachMemberEquals": [Ref("DomainNames"), ""]}]},
            "AssertDescription": "CertificateArn needs the DomainNames it covers.",
        }],
    })


def add_bucket(t):
    return t.add_resource(s3r.Bucket(
        "MaintenanceBucket",
        Metadata=checkov_skips(
            ("CKV_AWS_18", "Holds one maintenance page that only CloudFront reads; "
             "S3 server access logs would need a second bucket and show nothing useful."),
        ),
        BucketEncryption=s3r.BucketEncryption(ServerSideEncryptionConfiguration=[
            s3r.ServerSideEncryptionRule(
                ServerSideEncryptionByDefault=s3r.ServerSideEncryptionByDefault(
                    SSEAlgorithm="AES256",
                ),
            ),
        ]),
        PublicAccessBlockConfiguration=s3r.PublicAccessBlockConfiguration(
            BlockPublicAcls=True,
            BlockPublicPolicy=True,
            IgnorePublicAcls=True,
            RestrictPublicBuckets=True,
        ),
        OwnershipControls=s3r.OwnershipControls(
            Rules=[s3r.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")],
        ),
        # Old pages stay recoverable for a year; then they go.
        VersioningConfiguration=s3r.VersioningConfiguration(Status="Enabled"),
        LifecycleConfiguration=s3r.LifecycleConfiguration(Rules=[
            s3r.LifecycleRule(
                Id="ExpireOldPages",
                Status="Enabled",
                NoncurrentVersionExpiration=s3r.NoncurrentVersionExpiration(
                    NoncurrentDays=365,
                ),
                AbortIncompleteMultipartUpload=s3r.AbortIncompleteMultipartUpload(
                    DaysAfterInitiation=1,
                ),
            ),
        ]),
    ))


def add_bucket_policy(t, bucket, distribution):
    # OAC: the cloudfront.amazonaws.com service principal, limited to this distribution
    # by AWS:SourceArn, may read the one key (under the reserved prefix in front-door
    # mode). No s3:ListBucket, so a missing key is a
    # 403 rather than a 404 and GET / is never a bucket listing.
    # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html
    distribution_arn = Sub(
        f"arn:${{{AWS_PARTITION}}}:cloudfront::${{{AWS_ACCOUNT_ID}}}:distribution/${{{distribution.title}}}"
    )
    policy = PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="CloudFrontReadsTheMaintenanceObjectOnly",
                Effect=Allow,
                Principal=Principal("Service", "cloudfront.amazonaws.com"),
                Action=[s3.GetObject],
                Resource=[by_mode(
                    front_door=Sub(f"${{{bucket.title}.Arn}}/{RESERVED_PREFIX}/${{MaintenanceObjectKey}}"),
                    endpoint=Sub(f"${{{bucket.title}.Arn}}/${{MaintenanceObjectKey}}"),
                )],
                Condition=Condition(StringEquals("AWS:SourceArn", distribution_arn)),
            ),
            Statement(
                Sid="DenyRequestsWithoutTLS",
                Effect=Deny,
                Principal=Principal(Everybody),
                Action=[s3.Action("*")],
                Resource=[GetAtt(bucket, "Arn"), Sub(f"${{{bucket.title}.Arn}}/*")],
                Condition=Condition(Bool("aws:SecureTransport", "false")),
            ),
        ],
    )
    t.add_resource(s3r.BucketPolicy(
        "MaintenanceBucketPolicy",
        Bucket=Ref(bucket),
        PolicyDocument=policy,
    ))


def add_origin_access_control(t):
    return t.add_resource(cf.OriginAccessControl(
        "OriginAccessControl",
        OriginAccessControlConfig=cf.OriginAccessControlConfig(
            Name=unique_name("oac"),
            Description="Signs CloudFront's requests for the maintenance page",
            OriginAccessControlOriginType="s3",
            SigningBehavior="always",
            SigningProtocol="sigv4",
        ),
    ))


def add_response_headers_policy(t):
    return t.add_resource(cf.ResponseHeadersPolicy(
        "ResponseHeadersPolicy",
        ResponseHeadersPolicyConfig=cf.ResponseHeadersPolicyConfig(
            Name=unique_name("headers"),
            Comment="Retry-After, no-store and security headers for the maintenance 503",
            CustomHeadersConfig=cf.CustomHeadersConfig(Items=[
                cf.CustomHeader(Header="Retry-After", Value=Ref("RetryAfterSeconds"),
                                Override=True),
                # The 503 must not be kept by browsers or proxies once the site is back.
                cf.CustomHeader(Header="Cache-Control", Value="no-store", Override=True),
            ]),
            SecurityHeadersConfig=cf.SecurityHeadersConfig(
                StrictTransportSecurity=cf.StrictTransportSecurity(
                    AccessControlMaxAgeSec=31536000,
                    IncludeSubdomains=True,
                    Override=True,
                ),
                ContentTypeOptions=cf.ContentTypeOptions(Override=True),
                FrameOptions=cf.FrameOptions(FrameOption="DENY", Override=True),
                ReferrerPolicy=cf.ReferrerPolicy(ReferrerPolicy="no-referrer", Override=True),
                ContentSecurityPolicy=cf.ContentSecurityPolicy(
                    ContentSecurityPolicy=CONTENT_SECURITY_POLICY, Override=True,
                ),
            ),
            # S3 details that a visitor has no use for.
            RemoveHeadersConfig=cf.RemoveHeadersConfig(Items=[
                cf.RemoveHeader(Header="x-amz-server-side-encryption"),
                cf.RemoveHeader(Header="x-amz-version-id"),
            ]),
        ),
    ))


def add_function(t, title, purpose, code, *, condition, key_value_store=None):
    config = cf.FunctionConfig(Comment=f"Maintenance endpoint: {purpose}",
                               Runtime="cloudfront-js-2.0")
    if key_value_store is not None:
        config.KeyValueStoreAssociations = [
            cf.KeyValueStoreAssociation(KeyValueStoreARN=GetAtt(key_value_store, "Arn"))]
    return t.add_resource(cf.Function(
        title,
        Condition=condition,
        Name=unique_name(purpose),
        AutoPublish=True,
        FunctionCode=code,
        FunctionConfig=config,
    ))


def add_edge_switch(t):
    """The maintenance switch of the front door: one KeyValueStore, read by its functions
    and written by `maintenance-endpoint switch --stack-name` (no distribution update, no deploy)."""
    return t.add_resource(cf.KeyValueStore(
        "EdgeSwitch",
        Condition="IsFrontDoor",
        Name=unique_name("switch"),
        Comment="Maintenance switch of the front door: on/off, allowlist, end time",
    ))


def by_mode(*, front_door, endpoint):
    """One property, two modes: the front door's value, or the endpoint's (unchanged)."""
    return If("IsFrontDoor", front_door, endpoint)


def function_associations(request_fn, response_fn):
    return [
        cf.FunctionAssociation(EventType="viewer-request",
                               FunctionARN=GetAtt(request_fn, "FunctionARN")),
        cf.FunctionAssociation(EventType="viewer-response",
                               FunctionARN=GetAtt(response_fn, "FunctionARN")),
    ]


def endpoint_behavior(headers_policy, request_fn, response_fn):
    """Every request: the page from the bucket (see the module docstring)."""
    return cf.DefaultCacheBehavior(
        TargetOriginId=BUCKET_ORIGIN_ID,
        ViewerProtocolPolicy="redirect-to-https",
        AllowedMethods=ALL_METHODS,
        CachedMethods=["GET", "HEAD"],
        CachePolicyId=CACHING_OPTIMIZED_POLICY_ID,
        ResponseHeadersPolicyId=Ref(headers_policy),
        Compress=True,
        FunctionAssociations=function_associations(request_fn, response_fn),
    )


def front_door_behavior(request_fn, response_fn):
    """Every request but the reserved prefix: the app, untouched unless the switch is on.
    No response headers policy and no compression: the app's answers pass as they are."""
    return cf.DefaultCacheBehavior(
        TargetOriginId=APP_ORIGIN_ID,
        ViewerProtocolPolicy="redirect-to-https",
        AllowedMethods=ALL_METHODS,
        CachedMethods=["GET", "HEAD"],
        CachePolicyId=CACHING_DISABLED_POLICY_ID,
        OriginRequestPolicyId=ALL_VIEWER_EXCEPT_HOST_HEADER_POLICY_ID,
        Compress=False,
        FunctionAssociations=function_associations(request_fn, response_fn),
    )


def reserved_page_behavior(headers_policy, response_fn):
    """/.maintenance-endpoint/*: the page from the bucket, cached like the endpoint's, made a
    503 by the response function; the error responses fetch it through here."""
    return cf.CacheBehavior(
        PathPattern=f"/{RESERVED_PREFIX}/*",
        TargetOriginId=BUCKET_ORIGIN_ID,
        ViewerProtocolPolicy="redirect-to-https",
        AllowedMethods=["GET", "HEAD"],
        CachedMethods=["GET", "HEAD"],
        CachePolicyId=CACHING_OPTIMIZED_POLICY_ID,
        ResponseHeadersPolicyId=Ref(headers_policy),
        Compress=True,
        FunctionAssociations=[cf.FunctionAssociation(
            EventType="viewer-response", FunctionARN=GetAtt(response_fn, "FunctionARN"))],
    )


def bucket_origin(bucket, oac):
    return cf.Origin(
        Id=BUCKET_ORIGIN_ID,
        DomainName=GetAtt(bucket, "RegionalDomainName"),
        OriginAccessControlId=GetAtt(oac, "Id"),
        # OAC wants an S3OriginConfig with an empty OAI.
        S3OriginConfig=cf.S3OriginConfig(OriginAccessIdentity=""),
    )


def app_origin():
    return cf.Origin(
        Id=APP_ORIGIN_ID,
        DomainName=Ref("AppOriginDomainName"),
        CustomOriginConfig=cf.CustomOriginConfig(
            OriginProtocolPolicy="https-only",
            HTTPPort=80,
            HTTPSPort=443,
            OriginSSLProtocols=["TLSv1.2"],
            OriginReadTimeout=APP_ORIGIN_READ_TIMEOUT,
        ),
    )


def error_responses(codes, page_path):
    # The page path needs its leading slash; cfn-lint does not check it.
    return [
        cf.CustomErrorResponse(
            ErrorCode=code,
            ResponseCode=503,
            ResponsePagePath=page_path,
            ErrorCachingMinTTL=Ref("ErrorCachingMinTTL"),
        )
        for code in codes
    ]


def add_distribution(t, bucket, oac, headers_policy, endpoint_fns, front_door_fns):
    custom_certificate = cf.ViewerCertificate(
        AcmCertificateArn=Ref("CertificateArn"),
        SslSupportMethod="sni-only",
        MinimumProtocolVersion="TLSv1.2_2021",
    )
    default_certificate = cf.ViewerCertificate(CloudFrontDefaultCertificate=True)
    return t.add_resource(cf.Distribution(
        "Distribution",
        Metadata=checkov_skips(
            ("CKV_AWS_86", "Access logging needs a second, ACL-enabled bucket; the endpoint "
             "only ever answers 503 with one page. Enable standard logging if you need it."),
            ("CKV_AWS_174", "TLSv1.2_2021 is set whenever a custom certificate is used; the "
             "default *.cloudfront.net certificate does not take a minimum version."),
        ),
        DistributionConfig=cf.DistributionConfig(
            Enabled=True,
            Comment=by_mode(
                front_door="Front door: the app, its outages and maintenance answered with "
                "503 and the maintenance page",
                endpoint="Maintenance endpoint: every request gets 503 and the maintenance page",
            ),
            Aliases=If("HasDomainNames", Ref("DomainNames"), Ref(AWS_NO_VALUE)),
            ViewerCertificate=If("HasCertificate", custom_certificate, default_certificate),
            WebACLId=If("HasWebAcl", Ref("WebAclArn"), Ref(AWS_NO_VALUE)),
            PriceClass=Ref("PriceClass"),
            HttpVersion="http2and3",
            IPV6Enabled=True,
            Origins=[bucket_origin(bucket, oac),
                     If("IsFrontDoor", app_origin(), Ref(AWS_NO_VALUE))],
            DefaultCacheBehavior=by_mode(
                front_door=front_door_behavior(*front_door_fns),
                endpoint=endpoint_behavior(headers_policy, *endpoint_fns),
            ),
            CacheBehaviors=If("IsFrontDoor",
                              [reserved_page_behavior(headers_policy, front_door_fns[1])],
                              Ref(AWS_NO_VALUE)),
            CustomErrorResponses=by_mode(
                front_door=error_responses(
                    FRONT_DOOR_ERROR_CODES, Sub(f"/{RESERVED_PREFIX}/${{MaintenanceObjectKey}}")),
                endpoint=error_responses(REMAPPED_ERROR_CODES, Sub("/${MaintenanceObjectKey}")),
            ),
        ),
    ))


def add_outputs(t, bucket, distribution, edge_switch):
    t.add_output(Output("BucketName", Value=Ref(bucket),
                        Description="Bucket that holds the maintenance object"))
    t.add_output(Output("DistributionId", Value=Ref(distribution),
                        Description="CloudFront distribution to invalidate after a change"))
    t.add_output(Output("DistributionDomainName", Value=GetAtt(distribution, "DomainName"),
                        Description="Host header and SNI name your reverse proxy must send"))
    t.add_output(Output("EndpointUrl", Value=Sub(f"https://${{{distribution.title}.DomainName}}/"),
                        Description="URL to verify the endpoint with"))
    t.add_output(Output("MaintenanceObjectKey",
                        Value=by_mode(front_door=Sub(f"{RESERVED_PREFIX}/${{MaintenanceObjectKey}}"),
                                      endpoint=Ref("MaintenanceObjectKey")),
                        Description="Key to upload the maintenance page to"))
    t.add_output(Output("EdgeSwitchArn", Condition="IsFrontDoor", Value=GetAtt(edge_switch, "Arn"),
                        Description="KeyValueStore that holds the front door's maintenance switch"))


def build_template():
    """The whole endpoint (or front door); reads like a table of contents."""
    t = Template(Description="Maintenance endpoint: every path and method answers 503 with "
                 "Retry-After and one maintenance page (S3 + CloudFront)")
    t.set_version("2010-09-09")
    add_parameters(t)
    add_conditions_and_rules(t)
    bucket = add_bucket(t)
    oac = add_origin_access_control(t)
    headers_policy = add_response_headers_policy(t)
    # The endpoint's functions (AppOriginDomainName empty).
    endpoint_fns = (
        add_function(t, "ViewerRequestFunction", "request", Sub(VIEWER_REQUEST_CODE),
                     condition="IsEndpoint"),
        add_function(t, "ViewerResponseFunction", "response", Sub(VIEWER_RESPONSE_CODE),
                     condition="IsEndpoint"),
    )
    # The front door's switch and functions (AppOriginDomainName set).
    edge_switch = add_edge_switch(t)
    front_door_fns = (
        add_function(t, "FrontDoorRequestFunction", "door-request", Sub(FRONT_DOOR_REQUEST_CODE),
                     condition="IsFrontDoor", key_value_store=edge_switch),
        add_function(t, "FrontDoorResponseFunction", "door-response",
                     Sub(FRONT_DOOR_RESPONSE_CODE), condition="IsFrontDoor",
                     key_value_store=edge_switch),
    )
    distribution = add_distribution(t, bucket, oac, headers_policy, endpoint_fns, front_door_fns)
    add_bucket_policy(t, bucket, distribution)
    add_outputs(t, bucket, distribution, edge_switch)
    return t


def parameters_help():
    """The deploy-time parameters, one line each, for --help."""
    params = build_template().to_dict()["Parameters"]
    return "Deploy-time parameters (set with --parameter-overrides):\n" + "\n".join(
        f"  {name} (default {p.get('Default', '')!r}): {p['Description']}"
        for name, p in params.items()
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Print the maintenance endpoint's CloudFormation template as JSON. "
        "It takes no synthesis-time options: everything a deployment changes is a "
        "CloudFormation parameter.",
        epilog=parameters_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    sys.stdout.write(build_template().to_json() + "\n")
