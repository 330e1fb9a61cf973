// Shared by both front-door functions: reading the switch and its window, who gets through
// (allowlist, exempt paths, bypass cookie), the 503 headers.
// Why: docs/design.md#front-door-switch
// Lines starting with // are dropped and `// @include FILE` is replaced by FILE when the
// template is built (template/functions.py, which also fills in the __PLACEHOLDERS__).
import cf from 'cloudfront';
import crypto from 'crypto';

var kvs = cf.kvs('__EdgeSwitchId__');
var RESERVED = '/__RESERVED_PREFIX__/';
var PAGE = RESERVED + '__MaintenanceObjectKey__';
var RETRY_AFTER = __RetryAfterSeconds__;
var ENDS_AT = NaN;
// @include retry-after.js

// A path of plain segments (core/inputs.py: EXEMPT_PATH). Why: docs/front-door.md#exempt-paths
var SEGMENTS = /^__EXEMPT_PATH__$/;

// The switch as stored, or null: off, or `now` outside its window (NaN: any time).
async function readSwitch(now) {
  var text, s = null;
  try {
    text = await kvs.get('__SWITCH_KEY__');
  } catch (e) {
    return null;
  }
  try {
    s = JSON.parse(text);
  } catch (e) {}
  if (s && s.on === false) return null;
  if (!s || s.on !== true) s = {};
  var list = a => Array.isArray(a) ? a.filter(e => typeof e === 'string') : [];
  var sw = {
    allow: list(s.allow),
    exempt: list(s.exempt).filter(p => SEGMENTS.test(p)),
    from: at(s.from),
    until: at(s.until),
    secret: typeof s.secret === 'string' && /^[0-9a-f]{64}$/.test(s.secret) ? s.secret : null
  };
  return now < sw.from || now >= sw.until ? null : sw;
}

// A time on the calendar, or NaN: some engines roll 2027-02-29 over to 1 March.
function at(u) {
  if (typeof u !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(u)) return NaN;
  var t = Date.parse(u);
  return t === t && new Date(t).toISOString().slice(0, 19) + 'Z' === u ? t : NaN;
}

function words(ip) {
  if (typeof ip !== 'string') return null;
  var v4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(ip);
  if (v4) {
    if (+v4[1] > 255 || +v4[2] > 255 || +v4[3] > 255 || +v4[4] > 255) return null;
    return [v4[1] * 256 + +v4[2], v4[3] * 256 + +v4[4]];
  }
  var dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
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
  // ::ffff:a.b.c.d is a.b.c.d; 6to4 and ::a.b.c.d stay IPv6 (proxies/client_address.py, rule 5).
  return out.slice(0, 5).every(w => w === 0) && out[5] === 0xffff ? out.slice(6) : out;
}

function inside(ip, cidr) {
  var m = typeof cidr === 'string' && /^([0-9a-fA-F:.]+)\/(0|[1-9]\d{0,2})$/.exec(cidr);
  var net = m && words(m[1]);
  // A mapped network ::ffff:a.b.c.d/N is a.b.c.d/(N - 96), as core/inputs.py stores it.
  var bits = !net ? -1 : net.length === 2 && m[1].indexOf(':') >= 0 ? m[2] - 96 : +m[2];
  if (!ip || !net || net.length !== ip.length || bits < 0 || bits > 16 * net.length) return false;
  for (var i = 0; bits > 0; i++, bits -= 16) {
    var mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((ip[i] & mask) !== (net[i] & mask)) return false;
  }
  return true;
}

// Whether this request reaches the app while the switch is on.
function through(event, sw) {
  var ip = words(event.viewer && event.viewer.ip), uri = event.request.uri;
  return sw.allow.some(c => inside(ip, c))
    || (SEGMENTS.test(uri.replace(/\/$/, '')) && sw.exempt.some(p => uri === p || uri.indexOf(p + '/') === 0))
    || holds(event.request.cookies, sw);
}

// The token of a bypass link or cookie, if it has the one form, is the switch's secret.
var TOKEN_FORM = /^[\w-]{43}$/;
function opens(token, sw) {
  return !!sw.secret && TOKEN_FORM.test(token)
    && crypto.createHash('sha256').update(token).digest('hex') === sw.secret;
}

function holds(cookies, sw) {
  var c = cookies && cookies.maintenance_bypass;
  return !!c && opens(c.value, sw);
}

function maintenance(sw, headers) {
  ENDS_AT = sw ? sw.until : NaN;
  headers['retry-after'] = { value: String(retryAfter(Date.now())) };
  headers['cache-control'] = { value: 'no-store' };
  headers['vary'] = { value: 'Accept' };
  return headers;
}
