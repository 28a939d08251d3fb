// Local edge host: runs the Python Worker (edge_worker/entry.py) under the npm `pyodide` package
// with real KV and Cache API from miniflare, because workerd cannot start a Python Worker offline
// (it downloads its Pyodide bundle). Local stack only: `/__local/*` is not part of the Worker.
// Beside it: stores.mjs (KV and the Cache API in miniflare's workerd, via bindings_worker.js),
// tag_index.mjs (purge by tag, which miniflare lacks), loopback_fetch.mjs (the origin calls).
//
//   node scripts/edge/host.mjs [--port 8787] [--host 127.0.0.1] [--origins URL[,URL]]
//        [--persist .vsearch/edge] [--worker-dir edge_worker] [--sdk-dir DIR] [--var NAME=VALUE]...
//        [--ratelimit BINDING=LIMIT]...   (miniflare's Workers Rate Limiting, LIMIT per 60 s;
//                                         none by default, so local runs are never limited)
// Env fallbacks: VSEARCH_EDGE_PORT, VSEARCH_EDGE_HOST, ORIGIN_URLS, VSEARCH_EDGE_PERSIST,
// VSEARCH_WORKERS_SDK; VSEARCH_EDGE_ADMIN_TOKEN enables POST /__local/purge, GET /__local/idle and
// GET /__local/counts (the Worker's Analytics Engine data points, tallied: the dashboard's edge rates).
import { createServer } from "node:http";
import { timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loopbackFetch } from "./loopback_fetch.mjs";
import { startStores } from "./stores.mjs";
import { TagIndex } from "./tag_index.mjs";

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

// ---- KV and the Cache API (miniflare's workerd), the tag index, and the Worker's bindings ---
fs.mkdirSync(opts.persist, { recursive: true });
// 60 s: the period wrangler.toml gives and edge_worker/rate_limit.py answers as Retry-After.
const rateLimits = Object.fromEntries(opts.ratelimit.map((pair, i) => {
  const [name, limit] = pair.split("=");
  return [name, { namespace_id: String(1001 + i), simple: { limit: Number(limit), period: 60 } }];
}));
const { mf, kv, cache } = await startStores({ root: ROOT, persist: opts.persist, kvNamespace: KV_BINDING, rateLimits });
const tagIndex = new TagIndex(opts.persist);
const purge = (request) => tagIndex.purge(request, (key) => Promise.all([kv.delete(key), cache.delete(CACHE_URL_BASE + key)]));

// What the Worker sees: KV and caches.default, feeding the tag index as they store.
const kvBinding = {
  get: (key) => kv.get(key),
  async put(key, value, options = {}) {
    try { tagIndex.add(key, JSON.parse(value).tags ?? []); } catch { /* not an envelope */ }
    return kv.put(key, value, options.expirationTtl);
  },
  delete: (key) => kv.delete(key),
};
const cacheBinding = {
  match: (url) => cache.match(String(url)),
  async put(url, response) {
    const tags = (response.headers.get("cache-tag") ?? "").split(",").map((t) => t.trim()).filter(Boolean);
    const key = String(url).startsWith(CACHE_URL_BASE) ? String(url).slice(CACHE_URL_BASE.length) : String(url);
    tagIndex.add(key, tags);
    return cache.put(String(url), response);
  },
  delete: (url) => cache.delete(String(url)),
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

// The Worker's origin calls: node:http, not undici (loopback_fetch.mjs). Set before Pyodide's
// `pyodide.http` binds `js.fetch` at its import.
globalThis.fetch = loopbackFetch(globalThis.fetch);

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
// Through miniflare's proxy (one round trip at start, and each limit() call): only when asked for.
const mfBindings = opts.ratelimit.length ? await mf.getBindings() : {};
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
