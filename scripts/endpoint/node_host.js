'use strict';
// Runs the code of CloudFront Functions for the local preview (scripts/endpoint/node_host.py
// starts one of these per model and talks to it). NOT the cloudfront-js-2.0 runtime: node
// runs the same ES 5.1 the template's functions use (functions-javascript-runtime-20.html).
//
// One JSON document per line on stdin, one answer per line on stdout, in order:
//   {"load": {"<name>": "<code>", ...}}                         -> {"ok": true}
//   {"run": [["<name>", {event}], ...], "now": <ms>}             -> {"results": [<handler(event)>, ...]}
// and {"error": "<one line>"} instead when something fails. A "run" chains functions: an
// event without a "request" gets the request the previous function returned (viewer-request
// then viewer-response, in one round trip); the chain stops early when a function returns
// a response instead of a request. "now" (milliseconds since the epoch, or null for the
// real clock) is what Date.now() returns inside the functions for that message; the
// function code itself has no test hooks. Each function runs in its own
// context, so one function's globals never meet another's. console.log in a function goes
// to stderr (stdout carries the answers). End of stdin ends the process.

const vm = require('vm');
const readline = require('readline');

// Top-level code that runs longer than this is stopped. Calls run without a timeout here
// (vm's watchdog costs more than the call itself); node_host.py bounds each call instead.
const TIMEOUT_MS = 1000;
const CALL = new vm.Script('handler(__event)');
const functions = {};
let now = null;

function oneLine(err) {
  const text = err && err.message !== undefined ? (err.name || 'Error') + ': ' + err.message : String(err);
  return text.replace(/\s+/g, ' ');
}

function load(name, code) {
  const log = function () {
    process.stderr.write('[' + name + '] ' + Array.prototype.join.call(arguments, ' ') + '\n');
  };
  const context = vm.createContext({ console: { log: log, info: log, warn: log, error: log } });
  const ContextDate = vm.runInContext('Date', context);
  const realNow = ContextDate.now;
  ContextDate.now = function () { return now === null ? realNow() : now; };
  vm.runInContext(code, context, { filename: name, timeout: TIMEOUT_MS });
  if (vm.runInContext('typeof handler', context) !== 'function') {
    throw new Error(name + ' defines no function handler(event)');
  }
  functions[name] = context;
}

async function answer(message) {
  if (message.load) {
    for (const name of Object.keys(message.load)) {
      try {
        load(name, message.load[name]);
      } catch (err) {
        return { error: 'cannot load ' + name + ': ' + oneLine(err) };
      }
    }
    return { ok: true };
  }
  now = typeof message.now === 'number' ? message.now : null;
  const results = [];
  try {
    for (const [name, event] of message.run) {
      const context = functions[name];
      if (!context) {
        return { error: 'no function ' + name + ' is loaded' };
      }
      if (event.request === undefined) {
        event.request = results[results.length - 1];
      }
      try {
        context.__event = event;
        // cloudfront-js-2.0 handlers may be async: await whatever comes back.
        results.push(await CALL.runInContext(context));
      } catch (err) {
        return { error: name + ' threw ' + oneLine(err) };
      }
      const last = results[results.length - 1];
      if (!last || typeof last !== 'object' || last.statusCode !== undefined) {
        break;  // a response (or nothing): no request to pass on
      }
    }
  } finally {
    now = null;
  }
  return { results: results };
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    let reply;
    try {
      reply = await answer(JSON.parse(line));
    } catch (err) {
      reply = { error: oneLine(err) };
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  }
}

main();
