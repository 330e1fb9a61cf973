// Content negotiation for the 503 (RFC 9110 section 12.5.1) and the problem document
// (RFC 9457) sent to clients that prefer JSON. Reads PAGE, RETRY_AFTER, ENDS_AT and retryAfter(),
// which each function defines. Why: docs/design.md#content-negotiation
// Lines starting with // are dropped and `// @include FILE` is replaced by FILE when the
// template is built (template/functions.py, which also fills in the __PLACEHOLDERS__).
var DETAIL = '__ProblemDetail__';
var ACCEPT_MAX_BYTES = 1024, ACCEPT_MAX_RANGES = 32;
var TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
var PARAM = /^([!#$%&'*+.^_`|~0-9a-z-]+)=([!#$%&'*+.^_`|~0-9a-z-]+|"[^"]*")$/;
var QVALUE = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/;

function acceptText(headers) {
  var h = headers.accept, all = h && h.multiValue;
  if (all && all.length > ACCEPT_MAX_RANGES) return null;
  if (all) return all.map(function (v) { return v.value; }).join(',');
  return h ? h.value : '';
}

// [{type, sub, q}] for each media range; null when the header is malformed or too big.
function mediaRanges(text) {
  if (typeof text !== 'string' || text.length > ACCEPT_MAX_BYTES) return null;
  var parts = text.toLowerCase().split(','), out = [];
  if (parts.length > ACCEPT_MAX_RANGES) return null;
  for (var i = 0; i < parts.length; i++) {
    var params = parts[i].split(';'), range = params[0].trim().split('/'), q = 1;
    if (params.length === 1 && range[0] === '') continue;
    if (range.length !== 2 || !TOKEN.test(range[0]) || !TOKEN.test(range[1])) return null;
    if (range[0] === '*' && range[1] !== '*' && range[1] !== 'json') return null;
    for (var j = 1; j < params.length; j++) {
      var p = PARAM.exec(params[j].trim());
      if (!p) return null;
      if (p[1] === 'q') {
        if (!QVALUE.test(p[2])) return null;
        q = +p[2];
        break;
      }
    }
    out.push({ type: range[0], sub: range[1], q: q });
  }
  return out;
}

// The q-value the ranges give type/sub: the most specific range that matches decides.
function quality(ranges, type, sub) {
  var rank = 0, q = 0;
  for (var i = 0; i < ranges.length; i++) {
    var r = ranges[i];
    var s = r.type === type && r.sub === sub ? 3
      : (r.type === type && r.sub === '*') || (r.type === '*' && r.sub === 'json' && /json$/.test(sub)) ? 2
      : r.type === '*' && r.sub === '*' ? 1 : 0;
    if (s > rank || (s && s === rank && r.q > q)) {
      rank = s;
      q = r.q;
    }
  }
  return q;
}

// The JSON media type to answer with, or null: the page.
function jsonType(headers) {
  if (/\.json$/.test(PAGE)) return null; // a JSON-only stack: its own document for everyone
  var ranges = mediaRanges(acceptText(headers));
  if (!ranges) return null;
  var problem = quality(ranges, 'application', 'problem+json');
  var json = quality(ranges, 'application', 'json');
  if (Math.max(problem, json) <= quality(ranges, 'text', 'html')) return null;
  // application/problem+json (RFC 9457), unless the client names it and ranks it lower.
  var named = ranges.filter(function (r) { return r.sub === 'problem+json'; }).length;
  return named && problem < json ? 'application/json' : 'application/problem+json';
}

function problem(type) {
  var seconds = retryAfter(Date.now());
  var doc = { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: DETAIL,
    retryAfter: seconds };
  if (ENDS_AT === ENDS_AT) doc.maintenanceEndsAt = new Date(ENDS_AT).toISOString().replace('.000Z', 'Z');
  return {
    statusCode: 503,
    statusDescription: 'Service Unavailable',
    headers: {
      'content-type': { value: type },
      'retry-after': { value: String(seconds) },
      'cache-control': { value: 'no-store' },
      'vary': { value: 'Accept' }
    },
    body: { encoding: 'text', data: JSON.stringify(doc) }
  };
}
