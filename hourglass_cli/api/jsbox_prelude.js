// Evaluated first in every fresh QuickJS context by _jsbox_worker.py. It evaluates to a setup function; the worker
// calls it and gets back one dispatcher, hg(op, ...): 'preload' requires libraries ahead of a run (a spare context
// the worker prepares while idle), 'begin' installs the run's globals, then 'run'/'exprs'/'filter' run the user's
// code once and return a JSON envelope. Everything here is per context, and a context serves one run.
(function setup(cfgText, seedHex) {
  'use strict';
  const libTexts = Array.prototype.slice.call(arguments, 2);  // the libraries' sources, in cfg.known's order
  const g = globalThis;
  const cfg = JSON.parse(cfgText);
  const stringify = JSON.stringify, parse = JSON.parse, indirectEval = eval;
  const NL = '\n'.repeat(cfg.lineOffset);  // user code starts past every line of the libraries and this prelude
  const BIG_LINE = cfg.lineOffset;

  // --- results: what JSON cannot hold becomes what upstream's exporter makes of it -------------------------------
  function replacer(key, v) {
    switch (typeof v) {
      case 'bigint': return v.toString();
      case 'function': case 'symbol': return undefined;
      case 'object':
        if (v === null) return v;
        if (v instanceof Map) return Object.fromEntries(Array.from(v, (e) => [String(e[0]), e[1]]));
        if (v instanceof Set) return Array.from(v);
        if (v instanceof DataView) return Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        if (ArrayBuffer.isView(v)) return Array.from(v, (x) => (typeof x === 'bigint' ? x.toString() : x));
        if (v instanceof ArrayBuffer) return Array.from(new Uint8Array(v));
        if (v instanceof Promise) return null;
        return v;
      default: return v;
    }
  }
  class OutputError extends Error {}
  function exportValue(v) {
    let text;
    try {
      text = stringify(v, replacer);
    } catch (e) {
      if (e instanceof TypeError && /circular/i.test(String(e.message))) {
        throw new OutputError('the result has a circular reference (an object that contains itself)');
      }
      throw e;
    }
    if (text === undefined) text = 'null';
    if (text.length > cfg.maxOutput) {
      throw new OutputError(`the result is ${text.length} characters of JSON, more than the limit of ${cfg.maxOutput}`);
    }
    return text;
  }

  // --- console: captured, bounded --------------------------------------------------------------------------------
  const logs = [];
  let logChars = 0, logDropped = 0;
  function show(a) {
    if (typeof a === 'string') return a;
    if (a instanceof Error) return `${a.name}: ${a.message}`;
    if (a === undefined || typeof a === 'function' || typeof a === 'symbol') return String(a);
    try {
      const s = stringify(a, replacer);
      return s === undefined ? String(a) : s;
    } catch (e) {
      return String(a);
    }
  }
  function log(level, args) {
    if (logDropped) { logDropped++; return; }
    let line = Array.prototype.map.call(args, show).join(' ');
    if (level !== 'log') line = `${level}: ${line}`;
    if (logChars + line.length > cfg.maxLog) {
      const room = cfg.maxLog - logChars;
      if (room > 0) logs.push(line.slice(0, room));
      logDropped = 1;
      return;
    }
    logChars += line.length;
    logs.push(line);
  }
  const console = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    console[level] = function () { log(level, arguments); };
  }
  function takeLogs() {
    const out = logs.slice();
    if (logDropped) out.push(`... log truncated at ${cfg.maxLog} characters (${logDropped} more call(s) dropped)`);
    return out;
  }

  // --- crypto.getRandomValues: ChaCha20 keystream keyed by 32 bytes the worker took from os.urandom ---------------
  function chacha20Block(k, count, nonce) {  // RFC 8439 section 2.3; Uint32Array stores wrap mod 2^32
    const s = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574, k[0], k[1], k[2], k[3], k[4], k[5],
      k[6], k[7], count, nonce[0], nonce[1], nonce[2]]);
    const x = new Uint32Array(s);
    function qr(a, b, c, d) {
      x[a] += x[b]; x[d] ^= x[a]; x[d] = (x[d] << 16) | (x[d] >>> 16);
      x[c] += x[d]; x[b] ^= x[c]; x[b] = (x[b] << 12) | (x[b] >>> 20);
      x[a] += x[b]; x[d] ^= x[a]; x[d] = (x[d] << 8) | (x[d] >>> 24);
      x[c] += x[d]; x[b] ^= x[c]; x[b] = (x[b] << 7) | (x[b] >>> 25);
    }
    for (let i = 0; i < 10; i++) {
      qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15);
      qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14);
    }
    for (let i = 0; i < 16; i++) x[i] += s[i];
    return x;
  }
  const key = new Uint32Array(8);
  for (let i = 0; i < 8; i++) key[i] = parseInt(seedHex.slice(i * 8, i * 8 + 8).match(/../g).reverse().join(''), 16);
  const stream = new Uint8Array(64);
  let streamPos = 64, counter = 0;
  function refill() {
    const words = chacha20Block(key, counter++, [0, 0, 0]);
    for (let i = 0; i < 16; i++) {
      stream[4 * i] = words[i] & 255; stream[4 * i + 1] = (words[i] >>> 8) & 255;
      stream[4 * i + 2] = (words[i] >>> 16) & 255; stream[4 * i + 3] = words[i] >>> 24;
    }
    streamPos = 0;
  }
  const crypto = {
    getRandomValues(arr) {
      if (!ArrayBuffer.isView(arr) || arr instanceof DataView || arr instanceof Float32Array ||
          arr instanceof Float64Array) {
        throw new TypeError('crypto.getRandomValues: the argument must be an integer typed array');
      }
      if (arr.byteLength > 65536) {
        throw new RangeError('crypto.getRandomValues: at most 65536 bytes per call');
      }
      const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
      for (let i = 0; i < bytes.length; i++) {
        if (streamPos === 64) refill();
        bytes[i] = stream[streamPos++];
      }
      return arr;
    },
  };

  // --- require: the libraries the server has, nothing else ---------------------------------------------------------
  const known = cfg.known, cache = Object.create(null), libSources = Object.create(null);
  known.forEach((name, i) => { if (libTexts[i] != null) libSources[name] = libTexts[i]; });
  let missingLib = null;
  const loaded = [];
  function require(name) {
    name = String(name);
    if (name in cache) {
      if (loaded.indexOf(name) < 0) loaded.push(name);
      return cache[name];
    }
    if (known.indexOf(name) < 0) {
      throw new Error(`module ${name} is not available (${known.join(', ')} are)`);
    }
    const src = libSources[name];
    if (src === undefined) {
      missingLib = name;
      throw new Error(cfg.missing[name]);
    }
    const module = { exports: {} };
    // Parameters shadow any `define` so the UMD builds take their CommonJS branch, as in upstream's loader.
    indirectEval('(function (module, exports, define) {' + src + '\n})').call(g, module, module.exports, undefined);
    cache[name] = module.exports;
    if (loaded.indexOf(name) < 0) loaded.push(name);
    return module.exports;
  }

  // --- errors ---------------------------------------------------------------------------------------------------
  function describe(e) {
    const d = { name: '', message: '', stack: '', syntax: false };
    try {
      if (e instanceof Error) {
        d.name = String(e.name);
        d.message = String(e.message);
        d.stack = String(e.stack || '');
        // A parse error of the user's code is reported at its own position, a frame without a function, far down;
        // one thrown while running (JSON.parse, an eval inside the code) comes from a call made by the code.
        const m = /^\s*at <input>:(\d+):\d+/.exec(d.stack.split('\n')[0] || '');
        d.syntax = e instanceof SyntaxError && !!m && Number(m[1]) > BIG_LINE;
        if (e instanceof OutputError) d.name = 'OutputError';
      } else {
        d.message = typeof e === 'string' ? e : show(e);
        d.name = 'thrown value';
      }
    } catch (inner) {
      d.message = 'the code threw a value that cannot be described';
    }
    return d;
  }
  function isResourceError(e) {
    return e instanceof InternalError || (e instanceof RangeError && /call stack/.test(String(e.message)));
  }
  function fail(e) {
    return stringify({ ok: false, error: describe(e), missing: missingLib, loaded, logs: takeLogs() });
  }
  function succeed(valueText, extra) {
    return '{"ok":true,"missing":' + stringify(missingLib) + ',"loaded":' + stringify(loaded) +
      ',"logs":' + stringify(takeLogs()) +
      (extra ? ',' + extra : '') + ',"value":' + valueText + '}';
  }

  // --- the globals the code sees: upstream's crypto polyfill, console, its variables, then require -------------
  function begin(varsText, runCfgText) {
    Object.assign(cfg, parse(runCfgText));
    g.crypto = crypto;
    g.console = console;
    const vars = parse(varsText);
    for (const k of Object.keys(vars)) g[k] = vars[k];
    g.require = require;
    return true;
  }
  function preload(namesText) {
    for (const name of parse(namesText)) if (libSources[name] !== undefined) require(name);
    loaded.length = 0;  // a run reports what it required itself
    return true;
  }
  // Upstream makes Date#toString a UTC string; local time here is UTC too, but say so the same way.
  Date.prototype.toString = function () { return this.toUTCString().replace('GMT', 'UTC'); };

  function runCode(src) {
    let value;
    try {
      value = indirectEval(NL + src);
      return succeed(exportValue(value));
    } catch (e) {
      if (isResourceError(e)) throw e;
      return fail(e);
    }
  }
  function runExpressions(exprsText) {
    const exprs = parse(exprsText), results = [];
    for (const expr of exprs) {
      try {
        results.push({ ok: true, value: parse(exportValue(indirectEval(NL + '(' + expr + ')'))) });
      } catch (e) {
        if (isResourceError(e)) throw e;
        results.push({ ok: false, error: describe(e) });
      }
    }
    return succeed(stringify(results));
  }
  function runFilter(expr, itemsText, wrapAsBody) {
    let fn;
    try {
      fn = indirectEval(NL + '(function (value, index) { ' + (wrapAsBody ? expr : 'return ' + expr + ';') + ' })');
    } catch (e) {
      if (isResourceError(e)) throw e;
      return fail(e);
    }
    const items = parse(itemsText), kept = [], errors = [];
    for (let i = 0; i < items.length; i++) {
      try {
        if (fn(items[i], i)) kept.push(i);
      } catch (e) {
        if (isResourceError(e)) throw e;
        errors.push([i, describe(e)]);
      }
    }
    return succeed(stringify(kept), '"errors":' + stringify(errors));
  }
  return function hg(op, a, b, c) {
    switch (op) {
      case 'run': return runCode(a);
      case 'exprs': return runExpressions(a);
      case 'filter': return runFilter(a, b, c);
      case 'logs': return stringify(takeLogs());
      case 'preload': return preload(a);
      case 'loaded': return stringify(loaded);
      case 'begin': return begin(a, b);
      default: throw new Error('unknown op ' + op);
    }
  };
})
