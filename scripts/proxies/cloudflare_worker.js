// Every request goes to the app (fetch(request) on a route reaches the origin). The visitor gets
// the endpoint's answer instead when the app cannot be reached, does not answer in time, or
// answers 502/503/504 (or Cloudflare answers 52x for it), and, while the switch is on, when the
// visitor is not on the allowlist, asks for no exempt path and holds no bypass cookie. CONFIG is filled in from checked options by
// `maintenance-endpoint proxy-config --kind cloudflare`: generate the file again to change it.

const CONFIG = __CONFIG__;

// Answers that mean "the app is not there": the app's own 502/503/504, and what Cloudflare
// answers for an origin it cannot use (520 unknown error, 521 refused, 522 connect timeout,
// 523 unreachable, 524 response timeout, 525/526 TLS handshake/certificate, 530 with a 1xxx
// error such as origin DNS). A refused connection can also surface as a thrown error instead.
// https://developers.cloudflare.com/support/troubleshooting/http-status-codes/cloudflare-5xx-errors/
const FAILOVER_STATUSES = new Set([502, 503, 504, 520, 521, 522, 523, 524, 525, 526, 530]);

// The endpoint answers every path and method with 503 + Retry-After + the page. Anything else
// (a thrown error, a timeout, another status) means the endpoint cannot serve it either.
const ENDPOINT_STATUS = 503;

const ALLOW = CONFIG.allow.map(parseNetwork);
const EXEMPT = new RegExp(CONFIG.exempt);
const LINK = new RegExp(CONFIG.bypassLink);
const ASKED_AS_PREFIX = new RegExp(CONFIG.askedAsPrefix);
const TOKEN = new RegExp(`^(?:${CONFIG.tokenForm})$`);

export default {
  async fetch(request, env) {
    try {
      if (switchIsOn(env)) {
        const target = requestTarget(request.url);
        const link = await bypassLink(request, target, env);
        if (link !== null) return link;
        // Under the link's prefix only the link itself is honoured: the page, whoever asks.
        if (target.startsWith(CONFIG.bypassPath)) return await fromEndpoint(request);
        if (!allowlisted(request) && !EXEMPT.test(target) && !(await holdsBypassCookie(request, env))) {
          return await fromEndpoint(request);
        }
      }
      return (await fromApp(request)) ?? (await fromEndpoint(request));
    } catch (err) {
      // Never Cloudflare's bare 500 (error 1101): the visitor gets a minimal 503.
      console.error(`maintenance failover: ${err}`);
      return minimal503(request.method);
    }
  },
};

// The maintenance switch: the Worker variable MAINTENANCE (wrangler.toml [vars]). "off" or
// unset: off. "on": on. Anything else is a mistake and counts as on, so that a typo never lets
// visitors into an app that is being worked on.
function switchIsOn(env) {
  const value = env.MAINTENANCE;
  if (value === undefined || value === "off") return false;
  if (value !== "on") {
    console.error(`MAINTENANCE is ${JSON.stringify(value)}, not "on" or "off": treated as "on"`);
  }
  return true;
}

// The app's answer, or null when the visitor should get the endpoint's instead. The timeout
// covers the wait for the response headers: an app that accepts the request and never answers
// fails over after CONFIG.appTimeoutMs instead of hanging the visitor until Cloudflare gives up.
async function fromApp(request) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), CONFIG.appTimeoutMs);
  try {
    const response = await fetch(request, { signal: controller.signal });
    if (!FAILOVER_STATUSES.has(response.status)) return response;
    console.log(`app answered ${response.status}: failing over`);
    await response.body?.cancel();
  } catch (err) {
    console.log(`app unreachable (${controller.signal.aborted ? "timed out" : err}): failing over`);
  } finally {
    clearTimeout(timer);
  }
  return null;
}

// The endpoint's answer. A bodiless GET (HEAD for HEAD) for the same path: the request body is
// never sent on, and of the visitor's headers only CONFIG.forwardHeaders (what the endpoint may use
// to choose its answer; never a cookie or credential). CloudFront answers a GET that carries a
// body 403:
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RequestAndResponseBehaviorS3Origin.html#RequestS3-get-body
// fetch() to the endpoint's own name sends Host and SNI = that name and verifies its certificate
// for it, as CloudFront requires.
async function fromEndpoint(request) {
  const url = new URL(request.url);
  const method = request.method === "HEAD" ? "HEAD" : "GET";
  const headers = new Headers();
  for (const name of CONFIG.forwardHeaders) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), CONFIG.endpointTimeoutMs);
  try {
    // Anything under the bypass link's prefix is asked as the prefix itself: a refused link's token
    // never reaches the endpoint or its logs (the endpoint answers every path alike).
    const asked = ASKED_AS_PREFIX.test(requestTarget(request.url))
      ? CONFIG.bypassPath : `${url.pathname}${url.search}`;
    const response = await fetch(`https://${CONFIG.endpoint}${asked}`, {
      method,
      headers,
      redirect: "manual",
      signal: controller.signal,
    });
    if (response.status === ENDPOINT_STATUS) return forVisitor(response);
    console.error(`endpoint answered ${response.status}, not ${ENDPOINT_STATUS}`);
    await response.body?.cancel();
  } catch (err) {
    console.error(`endpoint unreachable (${controller.signal.aborted ? "timed out" : err})`);
  } finally {
    clearTimeout(timer);
  }
  return minimal503(method);
}

// The endpoint's answer without the headers that speak for the endpoint's domain
// (CONFIG.dropResponseHeaders: its HSTS above all): the site's own policy governs its domain.
function forVisitor(response) {
  const headers = new Headers(response.headers);
  for (const name of CONFIG.dropResponseHeaders) headers.delete(name);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

function minimal503(method) {
  const body = "Service temporarily unavailable. Please try again later.\n";
  return new Response(method === "HEAD" ? null : body, {
    status: 503,
    headers: {
      "Retry-After": String(CONFIG.retryAfter),
      "Cache-Control": "no-store",
      "Content-Type": "text/plain; charset=utf-8",
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Planned maintenance: exempt paths, the bypass link and cookie (docs/cloudflare.md).

// The request target (path and query) as the URL string holds it, not as new URL() reads it:
// the WHATWG parser resolves ".." and "%2e%2e" and reads a backslash as "/", while
// fetch(request) sends "%2e%2e" and a backslash on to the app as they are. CONFIG.exempt admits
// plain segments only, which every parser leaves alone, so a target it matches is the one the
// app gets (docs/cloudflare.md).
function requestTarget(url) {
  return url.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/, "");
}

// The secret: the binding MAINTENANCE_BYPASS_SHA256, the lowercase hex SHA-256 of the token
// (`npx wrangler secret put`; white space around it, such as a piped newline, does not count).
// Empty or absent: no link. Anything else is a mistake: no link.
function bypassSecret(env) {
  const value = typeof env.MAINTENANCE_BYPASS_SHA256 === "string" ? env.MAINTENANCE_BYPASS_SHA256.trim() : "";
  if (value === "") return null;
  if (/^[0-9a-f]{64}$/.test(value)) return value;
  console.error("MAINTENANCE_BYPASS_SHA256 is not a lowercase hex SHA-256: no bypass link");
  return null;
}

// Whether `token` (of the one form, checked before it is hashed) is the secret's.
async function opens(token, env) {
  const secret = bypassSecret(env);
  if (secret === null || typeof token !== "string" || !TOKEN.test(token)) return false;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  let diff = 0;
  for (let i = 0; i < secret.length; i++) diff |= hex.charCodeAt(i) ^ secret.charCodeAt(i);
  return diff === 0;
}

// A GET of the link with the current token: the 303 that sets the cookie. Else null: the
// request goes on like any other (the page while the switch is on).
async function bypassLink(request, target, env) {
  const match = LINK.exec(target);
  if (request.method !== "GET" || match === null || !(await opens(match[1], env))) return null;
  const [before, after] = CONFIG.bypassSetCookie;
  return new Response(null, {
    status: CONFIG.bypassStatus,
    headers: { "Location": CONFIG.bypassLocation, "Cache-Control": "no-store", "Set-Cookie": before + match[1] + after },
  });
}

// The first cookie of that name in the Cookie header.
async function holdsBypassCookie(request, env) {
  for (const pair of (request.headers.get("Cookie") ?? "").split(";")) {
    const at = pair.indexOf("=");
    if (at !== -1 && pair.slice(0, at).trim() === CONFIG.bypassCookie) return opens(pair.slice(at + 1).trim(), env);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Allowlist: the visitor's address is CF-Connecting-IP, which Cloudflare's edge sets on every
// request it passes to a Worker (a visitor cannot choose it).
// https://developers.cloudflare.com/fundamentals/reference/http-headers/
// Addresses are BigInts; an IPv4 network matches IPv4 addresses only, IPv6 only IPv6.

function allowlisted(request) {
  const address = parseAddress(request.headers.get("CF-Connecting-IP") ?? "");
  return address !== null && ALLOW.some(
    (net) => net.bits === address.bits && (address.value & net.mask) === net.value);
}

function parseNetwork(text) {
  const [addressText, lengthText, ...rest] = text.split("/");
  const address = parseAddress(addressText);
  const length = Number(lengthText);
  if (address === null || rest.length || !/^[0-9]{1,3}$/.test(lengthText) || length > address.bits) {
    throw new Error(`not a network: ${text}`);
  }
  const width = BigInt(address.bits);
  const mask = ((1n << BigInt(length)) - 1n) << (width - BigInt(length));
  return { bits: address.bits, mask, value: address.value & mask };
}

// An IPv4 or IPv6 address as { bits: 32 | 128, value: BigInt }, or null.
function parseAddress(text) {
  const v4 = parseIPv4(text);
  if (v4 !== null) return { bits: 32, value: v4 };
  const v6 = parseIPv6(text);
  if (v6 === null) return null;
  // ::ffff:a.b.c.d is a.b.c.d (6to4 and IPv4-compatible addresses stay IPv6).
  return v6 >> 32n === 0xffffn ? { bits: 32, value: v6 & 0xffffffffn } : { bits: 128, value: v6 };
}

function parseIPv4(text) {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    return null;
  }
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n);
}

function parseIPv6(text) {
  if (!/^[0-9A-Fa-f:.]{2,45}$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (half) => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  // A trailing dotted IPv4 part (::ffff:192.0.2.1) stands for the last two groups.
  const last = tail.length ? tail : head;
  if (last.length && last[last.length - 1].includes(".")) {
    const v4 = parseIPv4(last.pop());
    if (v4 === null) return null;
    last.push((v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16));
  }
  const count = head.length + tail.length;
  if (halves.length === 2 ? count > 7 : count !== 8) return null;
  const all = [...head, ...Array(8 - count).fill("0"), ...tail];
  if (!all.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return null;
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}
