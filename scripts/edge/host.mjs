// Local edge host: runs the Python Worker (edge_worker/entry.py) under the npm `pyodide` package
// with real KV and Cache API from miniflare, because workerd cannot start a Python Worker offline
// (it downloads its Pyodide bundle). Local stack only: `/__local/*` is not part of the Worker.
//
//   node scripts/edge/host.mjs [--port 8787] [--host 127.0.0.1] [--origins URL[,URL]]
//        [--persist .vsearch/edge] [--worker-dir edge_worker] [--sdk-dir DIR] [--var NAME=VALUE]...
//        [--ratelimit BINDING=LIMIT]...   (miniflare's Workers Rate Limiting, LIMIT per 60 s;
//                                         none by default, so local runs are never limited)
// Env fallbacks: VSEARCH_EDGE_PORT, VSEARCH_EDGE_HOST, ORIGIN_URLS, VSEARCH_EDGE_PERSIST,
// VSEARCH_WORKERS_SDK; VSEARCH_EDGE_ADMIN_TOKEN enables POST /__local/purge, GET /__local/idle and
// GET /__local/counts (the Worker's Analytics Engine data points, tallied: the dashboard's edge rates).
import http, { createServer } from "node:http";
import { timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const started = performance.now();
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CACHE_URL_BASE = "https://vsearch-cache.internal/"; // edge_cache.CACHE_URL_BASE
const KV_BINDING = "SEARCH_KV";
const ANALYTICS_BINDING = "EDGE_ANALYTICS"; // js_bindings.ANALYTICS_BINDING

const { values: opts } = parseArgs({
  options: {
    port: { type: "string", default: process.env.VSEARCH_EDGE_PORT ?? "8787" },
    host: { type: "string", default: process.env.VSEARCH_EDGE_HOST ?? "127.0.0.1" },
    origins: { type: "string", default: process.env.ORIGIN_URLS ?? "" },
    persist: { type: "string", default: process.env.VSEARCH_EDGE_PERSIST ?? path.join(ROOT, ".vsearch/edge") },
    "worker-dir": { type: "string", default: path.join(ROOT, "edge_worker") },
    "sdk-dir": { type: "string", default: process.env.VSEARCH_WORKERS_SDK ?? "" },
    var: { type: "string", multiple: true, default: [] },
    ratelimit: { type: "string", multiple: true, default: [] },
  },
});
const adminToken = process.env.VSEARCH_EDGE_ADMIN_TOKEN ?? "";

function log(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

function findSdk() {
  if (opts["sdk-dir"]) return opts["sdk-dir"];
  const lib = path.join(ROOT, ".venv/lib");
  for (const py of fs.existsSync(lib) ? fs.readdirSync(lib) : []) {
    const dir = path.join(lib, py, "site-packages/workers");
    if (fs.existsSync(path.join(dir, "__init__.py"))) return dir;
  }
  throw new Error("workers SDK not found: pip install workers-runtime-sdk or pass --sdk-dir");
}

// ---- miniflare: real KV and Cache API, persisted under --persist -------------------------
const { Miniflare } = await import(path.join(ROOT, "node_modules/miniflare/dist/src/index.js"));
fs.mkdirSync(opts.persist, { recursive: true });
// 60 s: the period wrangler.toml gives and edge_worker/rate_limit.py answers as Retry-After.
const rateLimits = Object.fromEntries(opts.ratelimit.map((pair, i) => {
  const [name, limit] = pair.split("=");
  return [name, { namespace_id: String(1001 + i), simple: { limit: Number(limit), period: 60 } }];
}));
const mf = new Miniflare({
  ratelimits: rateLimits,
  modules: true,
  scriptPath: path.join(ROOT, "scripts/edge/bindings_worker.js"),
  modulesRoot: path.join(ROOT, "scripts/edge"), // else relative to the cwd, which may be anywhere
  // Its own loopback socket: past miniflare's entry Worker, a call costs workerd ~25% less CPU.
  unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  kvNamespaces: [KV_BINDING],
  kvPersist: path.join(opts.persist, "kv"),
  cachePersist: path.join(opts.persist, "cache"),
});
await mf.ready;
const bindingsUrl = await mf.unsafeGetDirectURL();
const bindingsAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const BINDING_META = "x-binding-response"; // bindings_worker.js

// One KV or Cache API call, done by bindings_worker.js inside workerd.
function callBinding(method, pathAndQuery, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(pathAndQuery, bindingsUrl), { method, headers, agent: bindingsAgent }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
async function expectOk(call) {
  const reply = await call;
  if (reply.status >= 300 && reply.status !== 404) {
    throw new Error(`binding call failed with ${reply.status}: ${reply.body.toString()}`);
  }
  return reply;
}
const kvStore = {
  async get(key) {
    const reply = await expectOk(callBinding("GET", `/kv?key=${encodeURIComponent(key)}`));
    return reply.status === 404 ? null : reply.body.toString();
  },
  async put(key, value, ttl) {
    const query = `key=${encodeURIComponent(key)}` + (ttl ? `&ttl=${ttl}` : "");
    await expectOk(callBinding("PUT", `/kv?${query}`, { body: value }));
  },
  async delete(key) {
    await expectOk(callBinding("DELETE", `/kv?key=${encodeURIComponent(key)}`));
  },
};
const cacheStore = {
  async match(url) {
    const reply = await expectOk(callBinding("GET", `/cache?url=${encodeURIComponent(url)}`));
    if (reply.status === 404) return undefined;
    const { status, headers } = JSON.parse(reply.headers[BINDING_META]);
    return new Response(reply.body, { status, headers });
  },
  async put(url, response) {
    const meta = JSON.stringify({ status: response.status, headers: [...response.headers] });
    const body = Buffer.from(await response.arrayBuffer());
    await expectOk(callBinding("PUT", `/cache?url=${encodeURIComponent(url)}`, { headers: { [BINDING_META]: meta }, body }));
  },
  async delete(url) {
    const reply = await expectOk(callBinding("DELETE", `/cache?url=${encodeURIComponent(url)}`));
    return JSON.parse(reply.body.toString()).deleted;
  },
};

// ---- tag -> keys index: miniflare cannot purge by tag, so the host remembers what it stored ---
// Kept as a journal, one line per store ({key, tags}) or purge ({purged}), appended as it happens
// (a crash loses no line; rewriting the whole index every 200 ms cost ~7% of the host's CPU
// through a spike), replayed and compacted at start.
const journalFile = path.join(opts.persist, "tag-index.jsonl");
const tagsOfKey = new Map(); // key -> Set of tags
const keysOfTag = new Map(); // tag -> Set of keys
const storedAt = new Map(); // key -> the store counter of its last store
let stores = 0;
function remember(key, tags) {
  if (!tagsOfKey.has(key)) tagsOfKey.set(key, new Set());
  for (const tag of tags) {
    tagsOfKey.get(key).add(tag);
    if (!keysOfTag.has(tag)) keysOfTag.set(tag, new Set());
    keysOfTag.get(tag).add(key);
  }
  storedAt.set(key, stores++);
}
function forget(keys) {
  for (const key of keys) {
    for (const tag of tagsOfKey.get(key) ?? []) {
      const keysOfThisTag = keysOfTag.get(tag);
      keysOfThisTag.delete(key);
      if (keysOfThisTag.size === 0) keysOfTag.delete(tag);
    }
    tagsOfKey.delete(key);
    storedAt.delete(key);
  }
}
if (fs.existsSync(journalFile)) {
  for (const line of fs.readFileSync(journalFile, "utf8").split("\n")) {
    let entry;
    try { entry = JSON.parse(line); } catch { continue; } // empty, or torn by a crash mid-write
    if (entry.purged) forget(entry.purged);
    else remember(entry.key, entry.tags);
  }
}
const legacyFile = path.join(opts.persist, "tag-index.json"); // before the journal: {tag: [keys]}
if (fs.existsSync(legacyFile)) {
  for (const [tag, keys] of Object.entries(JSON.parse(fs.readFileSync(legacyFile, "utf8")))) {
    for (const key of keys) remember(key, [tag]);
  }
}
const compacted = [...tagsOfKey].map(([key, tags]) => JSON.stringify({ key, tags: [...tags] }) + "\n");
fs.writeFileSync(journalFile + ".tmp", compacted.join(""));
fs.renameSync(journalFile + ".tmp", journalFile);
fs.rmSync(legacyFile, { force: true });

function indexTags(key, tags) {
  remember(key, tags);
  fs.appendFileSync(journalFile, JSON.stringify({ key, tags }) + "\n");
}
async function purge({ tags = [], keys = [] }) {
  const since = stores;
  const doomed = new Set(keys);
  for (const tag of tags) for (const key of keysOfTag.get(tag) ?? []) doomed.add(key);
  // Concurrently, like the one purge-by-tag call and the bulk KV delete production makes: one
  // key after another, 300 keys took ~2 s, and a coarse tag can hold a thousand.
  await Promise.all([...doomed].flatMap((key) => [kvStore.delete(key), cacheStore.delete(CACHE_URL_BASE + key)]));
  // Only after the deletes (a failed one is retried by tag, so its keys must stay findable), and
  // not a key stored again meanwhile: that copy is live and needs its tags.
  const forgotten = [...doomed].filter((key) => (storedAt.get(key) ?? -1) < since);
  forget(forgotten);
  fs.appendFileSync(journalFile, JSON.stringify({ purged: forgotten }) + "\n");
  return [...doomed];
}

// The bindings the Worker sees; they forward to miniflare and feed the tag index.
const kvBinding = {
  get: (key) => kvStore.get(key),
  async put(key, value, options = {}) {
    try { indexTags(key, JSON.parse(value).tags ?? []); } catch { /* not an envelope */ }
    return kvStore.put(key, value, options.expirationTtl);
  },
  delete: (key) => kvStore.delete(key),
};
const cacheBinding = {
  match: (url) => cacheStore.match(String(url)),
  async put(url, response) {
    const tags = (response.headers.get("cache-tag") ?? "").split(",").map((t) => t.trim()).filter(Boolean);
    const key = String(url).startsWith(CACHE_URL_BASE) ? String(url).slice(CACHE_URL_BASE.length) : String(url);
    indexTags(key, tags);
    return cacheStore.put(String(url), response);
  },
  delete: (url) => cacheStore.delete(String(url)),
};
globalThis.caches = { default: cacheBinding, open: async () => cacheBinding };

// ---- EDGE_ANALYTICS: Workers Analytics Engine stand-in ------------------------------------
// Production stores each data point for SQL (docs/operations.md); locally the host keeps running
// counts by the first two blobs (X-Cache, X-Cache-Layer), which the origin's dashboard reads from
// GET /__local/counts. The dataset's limits are enforced so a point production would refuse
// fails here too.
const analytics = { points: 0, counts: new Map(), since: new Date().toISOString() };
const analyticsBinding = {
  writeDataPoint({ blobs = [], doubles = [], indexes = [] } = {}) {
    const blobBytes = blobs.reduce((n, b) => n + Buffer.byteLength(String(b ?? "")), 0);
    if (blobs.length > 20 || doubles.length > 20 || indexes.length > 1 || blobBytes > 16384
        || Buffer.byteLength(String(indexes[0] ?? "")) > 96) {
      throw new TypeError("writeDataPoint: over 20 blobs, 20 doubles, 1 index (96 bytes) or 16 KB of blobs");
    }
    const key = `${blobs[0] ?? ""}/${blobs[1] ?? ""}`;
    analytics.counts.set(key, (analytics.counts.get(key) ?? 0) + 1);
    analytics.points += 1;
  },
};

// ---- fetch: the Worker's origin calls --------------------------------------------------------
// workerd's fetch is native; Node's is undici, which cost the host ~2.5 ms of CPU a call. Plain
// http: GETs (the origin calls) go through node:http with keep-alive instead, resolving with a
// standard Response once the body is in, and honouring the AbortSignal; anything else is undici's.
const undiciFetch = globalThis.fetch;
const originAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
function loopbackFetch(resource, init = {}) {
  const plainGet = typeof resource === "string" && resource.startsWith("http://")
    && (init.method ?? "GET") === "GET" && init.body == null;
  if (!plainGet) return undiciFetch(resource, init);
  const { signal } = init;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const headers = init.headers instanceof Headers ? Object.fromEntries(init.headers) : init.headers;
    const req = http.request(resource, { headers, agent: originAgent }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => {
        signal?.removeEventListener("abort", abort);
        const pairs = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
        const empty = [101, 204, 205, 304].includes(res.statusCode);
        resolve(new Response(empty ? null : Buffer.concat(chunks), { status: res.statusCode, statusText: res.statusMessage, headers: pairs }));
      });
      res.on("error", fail);
    });
    function fail(error) {
      signal?.removeEventListener("abort", abort);
      reject(new TypeError("fetch failed", { cause: error }));
    }
    function abort() {
      req.destroy();
      reject(signal.reason);
    }
    signal?.addEventListener("abort", abort, { once: true });
    req.on("error", (error) => (signal?.aborted ? undefined : fail(error)));
    req.end();
  });
}
globalThis.fetch = loopbackFetch;

// ---- pyodide with the workers SDK and the worker's modules -------------------------------
const { loadPyodide } = await import(path.join(ROOT, "node_modules/pyodide/pyodide.mjs"));
const pyodide = await loadPyodide({ indexURL: path.join(ROOT, "node_modules/pyodide") + "/" });

function copyTree(src, dest, filter = () => true) {
  pyodide.FS.mkdirTree(dest);
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    if (entry.name === "__pycache__") continue;
    const from = path.join(src, entry.name);
    if (entry.isDirectory()) copyTree(from, `${dest}/${entry.name}`, filter);
    else if (filter(entry.name)) pyodide.FS.writeFile(`${dest}/${entry.name}`, fs.readFileSync(from));
  }
}
const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
copyTree(findSdk(), `${sitePackages}/workers`);
// Like wrangler: every .py under the module root ships, tests excluded, names are bare.
copyTree(opts["worker-dir"], "/session/worker", (name) => name.endsWith(".py") && !name.startsWith("test_"));

const pending = new Set();
function track(promise) {
  const p = Promise.resolve(promise).catch((e) => log("wait_until_error", { error: String(e) })).finally(() => pending.delete(p));
  pending.add(p);
}
// What workerd provides to the SDK (python-entrypoint-helper): waitUntil keeps an owned copy
// of the borrowed Python awaitable, since Python destroys its argument proxy when the call returns.
pyodide.registerJsModule("_cloudflare_compat_flags", { python_workflows_implicit_dependencies: false, python_request_headers_preserve_commas: false });
pyodide.registerJsModule("_pyodide_entrypoint_helper", {
  cloudflareWorkersModule: { env: {}, waitUntil: (p) => track(p.copy ? p.copy() : p) },
  cloudflareSocketsModule: {},
  doAnImport: (name) => import(name),
  patch_env_helper: () => { throw new Error("patch_env is not supported by the local host"); },
  patchWaitUntil(ctx) {
    const original = ctx.waitUntil.bind(ctx);
    ctx.waitUntil = (p) => {
      const owned = typeof p?.copy === "function" ? p.copy() : p;
      original((async () => { try { await owned; } finally { owned?.destroy?.(); } })());
    };
  },
});
pyodide.runPython("import sys; sys.path.insert(0, '/session/worker')");
const entry = pyodide.pyimport("entry");
const Default = entry.Default;

const vars = { ORIGIN_URLS: opts.origins };
for (const pair of opts.var) {
  const at = pair.indexOf("=");
  if (at > 0) vars[pair.slice(0, at)] = pair.slice(at + 1);
}
const mfBindings = await mf.getBindings();
const rateLimitBindings = Object.fromEntries(Object.keys(rateLimits).map((name) => [name, mfBindings[name]]));
const env = { [KV_BINDING]: kvBinding, [ANALYTICS_BINDING]: analyticsBinding, ...rateLimitBindings, ...vars };

// ---- HTTP ------------------------------------------------------------------------------
function sendJson(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
function authorised(req) {
  const given = Buffer.from(req.headers.authorization ?? "");
  const wanted = Buffer.from(`Bearer ${adminToken}`);
  return adminToken !== "" && given.length === wanted.length && timingSafeEqual(given, wanted);
}
async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function admin(req, res, url) {
  if (url.pathname === "/__local/health") return sendJson(res, 200, { status: "ok" });
  if (!authorised(req)) return sendJson(res, adminToken ? 401 : 404, { error: { code: adminToken ? "unauthorized" : "not_found", message: "local admin path", field: null } });
  if (url.pathname === "/__local/idle" && req.method === "GET") {
    while (pending.size) await Promise.allSettled([...pending]);
    return sendJson(res, 200, { pending: 0 });
  }
  if (url.pathname === "/__local/counts" && req.method === "GET") {
    return sendJson(res, 200, { since: analytics.since, points: analytics.points, counts: Object.fromEntries(analytics.counts) });
  }
  if (url.pathname === "/__local/purge" && req.method === "POST") {
    let body;
    try { body = JSON.parse((await readBody(req)).toString() || "{}"); } catch { return sendJson(res, 400, { error: { code: "invalid_json", message: "body must be JSON", field: null } }); }
    const keys = await purge({ tags: body.tags ?? [], keys: body.keys ?? [] });
    return sendJson(res, 200, { purged_keys: keys });
  }
  return sendJson(res, 404, { error: { code: "not_found", message: "no such local admin path", field: null } });
}

async function dispatch(req, res) {
  const url = new URL(req.url, `http://${req.headers.host ?? `${opts.host}:${opts.port}`}`);
  if (url.pathname.startsWith("/__local/")) return admin(req, res, url);
  // The Fetch API cannot even build these (Cloudflare answers them before any Worker runs).
  if (["CONNECT", "TRACE", "TRACK"].includes(req.method)) {
    res.setHeader("allow", "GET");
    return sendJson(res, 405, { error: { code: "method_not_allowed", message: `${req.method} is not allowed; use GET`, field: null } });
  }
  const hasBody = !["GET", "HEAD"].includes(req.method);
  const request = new Request(url, {
    method: req.method,
    headers: Object.entries(req.headers).filter(([, v]) => typeof v === "string"),
    body: hasBody ? await readBody(req) : undefined,
  });
  const ctx = { waitUntil: (p) => track(p) };
  const instance = Default(ctx, env);
  try {
    const result = await instance.fetch(request);
    const response = result.js_object;
    result.destroy();
    res.writeHead(response.status, [...response.headers].flat());
    res.end(Buffer.from(await response.arrayBuffer()));
  } finally {
    instance.destroy();
  }
}

const server = createServer((req, res) => {
  dispatch(req, res).catch((error) => {
    log("host_error", { error: String(error?.stack ?? error) });
    if (!res.headersSent) sendJson(res, 500, { error: { code: "edge_host_error", message: "local edge host failed", field: null } });
    else res.end();
  });
});
server.listen(Number(opts.port), opts.host, () => {
  log("edge_ready", {
    url: `http://${opts.host}:${server.address().port}`,
    runtime: `pyodide ${pyodide.version} + miniflare (workerd cannot start a Python Worker offline)`,
    origins: opts.origins,
    persist: opts.persist,
    startup_ms: Math.round(performance.now() - started),
  });
});

let stopping = false;
async function shutdown(signal) {
  if (stopping) process.exit(1); // a second signal forces it
  stopping = true;
  log("edge_stopping", { signal, pending: pending.size });
  server.close();
  server.closeAllConnections?.();
  await Promise.allSettled([...pending]);
  await mf.dispose();
  process.exit(0);
}
for (const signal of ["SIGTERM", "SIGINT"]) {
  // miniflare's own handler exits at once; ours drains waitUntil work first, then disposes it.
  process.removeAllListeners(signal);
  process.on(signal, () => shutdown(signal));
}
