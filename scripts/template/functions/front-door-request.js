// Viewer request of the front door: the app, or (switch on and in its window, request not let
// through) the problem document for a client that prefers JSON, else the page (GET/HEAD) or a
// short text; under the reserved prefix, the bypass link's 303, else the same 503.
// Why: docs/design.md#front-door-request
// Lines starting with // are dropped and `// @include FILE` is replaced by FILE when the
// template is built (template/functions.py, which also fills in the __PLACEHOLDERS__).
// @include front-door-common.js
// @include negotiate.js

var LINK = RESERVED + 'bypass/';
var DAY = 86400;

async function handler(event) {
  var request = event.request;
  var headers = request.headers;
  var uri = request.uri;
  var now = Date.now();
  var sw = await readSwitch(now);
  // Under the reserved prefix: the bypass link, else the page (the bucket's behaviour).
  var reserved = uri.indexOf(RESERVED) === 0;
  if (!reserved && (!sw || through(event, sw))) {
    if (headers.host) headers['x-forwarded-host'] = { value: headers.host.value };
    return request;
  }
  var token = uri.slice(LINK.length);
  if (sw && uri.indexOf(LINK) === 0 && request.method === 'GET' && opens(token, sw)) {
    var left = Math.ceil((sw.until - now) / 1000);
    return {
      statusCode: 303,
      statusDescription: 'See Other',
      headers: { location: { value: '/' }, 'cache-control': { value: 'no-store' } },
      cookies: { maintenance_bypass: { value: token,
        attributes: 'Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=' + (left < DAY ? left : DAY) } }
    };
  }
  ENDS_AT = sw ? sw.until : NaN;
  var json = jsonType(headers);
  if (json) return problem(json);
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return {
      statusCode: 503,
      statusDescription: 'Service Unavailable',
      headers: maintenance(sw, { 'content-type': { value: 'text/plain; charset=utf-8' } }),
      body: { encoding: 'text', data: 'Service Unavailable: down for maintenance.\n' }
    };
  }
  cf.selectRequestOriginById('__BUCKET_ORIGIN_ID__');
  request.uri = PAGE;
  request.querystring = {};
// @include drop-conditional-and-range.js
  return request;
}
