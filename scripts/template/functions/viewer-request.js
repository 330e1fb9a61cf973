// Viewer request of the endpoint: a client that prefers JSON gets the problem document, made
// here for every method; every other GET/HEAD becomes the one page key.
// Why: docs/design.md#viewer-request
// Lines starting with // are dropped and `// @include FILE` is replaced by FILE when the
// template is built (template/functions.py, which also fills in the __PLACEHOLDERS__).
var PAGE = '/__MaintenanceObjectKey__';
var RETRY_AFTER = __RetryAfterSeconds__;
var ENDS_AT = Date.parse('__MaintenanceEndsAt__');
// @include retry-after.js
// @include negotiate.js

function handler(event) {
  var request = event.request;
  var headers = request.headers;
  var json = jsonType(headers);
  if (json) return problem(json);
  if (request.method === 'GET' || request.method === 'HEAD') {
    request.uri = PAGE;
    request.querystring = {};
  }
// @include drop-conditional-and-range.js
  return request;
}
