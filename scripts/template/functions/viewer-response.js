// Viewer response of the endpoint: the page's 200 becomes the 503 with Retry-After and
// Vary: Accept (the JSON answer is the viewer-request function's).
// Why: docs/design.md#viewer-response
// Lines starting with // are dropped and `// @include FILE` is replaced by FILE when the
// template is built (template/functions.py, which also fills in the __PLACEHOLDERS__).
var RETRY_AFTER = __RetryAfterSeconds__;
var ENDS_AT = Date.parse('__MaintenanceEndsAt__');
// @include retry-after.js

function handler(event) {
  var response = event.response;
  if (response.statusCode < 400) {
    response.statusCode = 503;
    response.statusDescription = 'Service Unavailable';
    response.headers['retry-after'] = { value: String(retryAfter(Date.now())) };
    response.headers['cache-control'] = { value: 'no-store' };
    response.headers['vary'] = { value: 'Accept' };
  }
  return response;
}
