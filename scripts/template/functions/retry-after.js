// The Retry-After countdown rule, shared by the endpoint and the front door
// (reads RETRY_AFTER and ENDS_AT, which each function defines). Why: docs/design.md#retry-after
// Lines starting with // are dropped and `// @include FILE` is replaced by FILE when the
// template is built (template/functions.py, which also fills in the __PLACEHOLDERS__).
var FLOOR = Math.min(__COUNTDOWN_FLOOR_SECONDS__, RETRY_AFTER);

function retryAfter(now) {
  var left = Math.ceil((ENDS_AT - now) / 1000);
  return left > 0 ? Math.max(left, FLOOR) : RETRY_AFTER;
}
