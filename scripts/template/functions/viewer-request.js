// Viewer request of the endpoint: every GET/HEAD becomes the one page key.
// Why: docs/design.md#viewer-request
// Lines starting with // are dropped and `// @include FILE` is replaced by FILE when the
// template is built (template/functions.py, which also fills in the __PLACEHOLDERS__).
var PAGE = '/__MaintenanceObjectKey__';

function handler(event) {
  var request = event.request;
  var headers = request.headers;
  if (request.method === 'GET' || request.method === 'HEAD') {
    request.uri = PAGE;
    request.querystring = {};
  }
// @include drop-conditional-and-range.js
  return request;
}
