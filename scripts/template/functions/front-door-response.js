// Viewer response of the front door: the page's 200 becomes the 503; the app's answers pass.
// Why: docs/design.md#front-door-response
// Lines starting with // are dropped and `// @include FILE` is replaced by FILE when the
// template is built (template/functions.py, which also fills in the __PLACEHOLDERS__).
// @include front-door-common.js

async function handler(event) {
  var request = event.request;
  var response = event.response;
  var page = request.uri.indexOf(RESERVED) === 0;
  // The bypass link's 303 passes, should CloudFront run this on a generated response.
  if (page && response.statusCode === 303) return response;
  if (!page && request.method !== 'GET' && request.method !== 'HEAD') return response;
  var sw = await readSwitch(Date.now());
  if (!page && (!sw || through(event, sw))) return response;
  response.statusCode = 503;
  response.statusDescription = 'Service Unavailable';
  maintenance(sw, response.headers);
  return response;
}
