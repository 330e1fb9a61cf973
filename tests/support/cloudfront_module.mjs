// A stand-in for the `cloudfront` module that CloudFront Functions (cloudfront-js-2.0)
// provide and nothing local does. It has only the documented API the front door uses, and
// behaves as documented:
//
// Key value stores (functions-custom-methods.html): `cf.kvs()` or `cf.kvs(id)` gives a
// handle for the store associated with the function; `await handle.get(key, {format})`
// resolves to the value (format "string" by default, "json", or "bytes") and REJECTS when
// the key does not exist; `exists(key)` and `meta()` resolve too.
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-custom-methods.html
//
// Origin modification (helper-functions-origin-modification.html): only in viewer-request
// functions; `selectRequestOriginById(id)` takes an origin that the distribution defines,
// `updateRequestOrigin(params)` changes the request's origin.
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/helper-functions-origin-modification.html
//
// What CloudFront configures outside the code comes from the environment when the module
// loads: the id of the store associated with the function (STAND_IN_KVS_ID) and the origin
// ids the distribution defines (STAND_IN_ORIGINS, comma-separated). The test harness sets
// what the store holds per event through `standIn` and reads back which origin the function
// chose; the function code sees only the default export, as in CloudFront.

export const standIn = {
  storeId: process.env.STAND_IN_KVS_ID,
  origins: (process.env.STAND_IN_ORIGINS || '').split(','),
  store: new Map(),     // the store's keys and (string) values
  unreadable: false,    // every read fails (a store CloudFront cannot read)
  eventType: null,      // 'viewer-request' or 'viewer-response' for the running event
  origin: null,         // what the function did to the origin, if anything
};

function kvs(id) {
  if (id !== undefined && id !== standIn.storeId) {
    throw new Error(`key value store ${id} is not associated with this function`);
  }
  return {
    async get(key, options) {
      const format = (options && options.format) || 'string';
      if (standIn.unreadable) throw new Error('the key value store could not be read');
      if (!standIn.store.has(key)) throw new Error(`KeyNotFound: ${key}`);
      const value = standIn.store.get(key);
      if (format === 'string') return value;
      if (format === 'json') return JSON.parse(value);
      if (format === 'bytes') return new TextEncoder().encode(value);
      throw new Error(`unknown format ${format}`);
    },
    async exists(key) {
      if (standIn.unreadable) throw new Error('the key value store could not be read');
      return standIn.store.has(key);
    },
    async meta() {
      return { creationDateTime: '2026-01-01T00:00:00Z', lastUpdatedDateTime: '2026-01-01T00:00:00Z',
               keyCount: standIn.store.size };
    },
  };
}

function viewerRequestOnly(helper) {
  if (standIn.eventType !== 'viewer-request') {
    throw new Error(`${helper}() is available in viewer-request functions only`);
  }
}

function selectRequestOriginById(id) {
  viewerRequestOnly('selectRequestOriginById');
  if (!standIn.origins.includes(id)) throw new Error(`the distribution has no origin ${id}`);
  standIn.origin = { id };
}

function updateRequestOrigin(params) {
  viewerRequestOnly('updateRequestOrigin');
  standIn.origin = { update: params };
}

export default { kvs, selectRequestOriginById, updateRequestOrigin };
