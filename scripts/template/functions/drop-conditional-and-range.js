// Conditional and Range headers go, so the page is never a 304 or a 206
// (used inside a handler, where `headers` is the request's). Why: docs/design.md#viewer-request
// Lines starting with // are dropped and `// @include FILE` is replaced by FILE when the
// template is built (template/functions.py, which also fills in the __PLACEHOLDERS__).
  delete headers['if-none-match'];
  delete headers['if-modified-since'];
  delete headers['if-match'];
  delete headers['if-unmodified-since'];
  delete headers['if-range'];
  delete headers['range'];
