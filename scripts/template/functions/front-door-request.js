// Viewer request of the front door: the app, or (switch on, viewer not allowed) the problem
// document for a client that prefers JSON, else the page (GET/HEAD) or a short text.
// Why: docs/design.md#front-door-request
// Lines starting with // are dropped and `// @include FILE` is replaced by FILE when the
// template is built (template/functions.py, which also fills in the __PLACEHOLDERS__).
// @include front-door-common.js
// @include negotiate.js

async function handler(event) {
  var request = event.request;
  var headers = request.headers;
  var sw = await readSwitch();
  if (!sw || allowed(event, sw)) {
    if (headers.host) headers['x-forwarded-host'] = { value: headers.host.value };
    return request;
  }
  var json = jsonType(headers);
  if (json) {
    ENDS_AT = sw.until;
    return problem(json);
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    var text = 'Service Unavailable: down for maintenance.';
    return {
      statusCode: 503,
      statusDescription: 'Service Unavailable',
      headers: maintenance(sw, { 'content-type': { value: 'text/plain; charset=utf-8' } }),
      body: { encoding: 'text', data: text + '\n' }
    };
  }
  cf.selectRequestOriginById('__BUCKET_ORIGIN_ID__');
  request.uri = PAGE;
  request.querystring = {};
// @include drop-conditional-and-range.js
  return request;
}
