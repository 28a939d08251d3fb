// Drives scripts/edge/loopback_fetch.mjs against a local server and prints what each call got,
// as JSON, for test_loopback_fetch.py.
import http from "node:http";
import { loopbackFetch } from "../../scripts/edge/loopback_fetch.mjs";

const server = http.createServer((req, res) => {
  if (req.url === "/moved") {
    res.writeHead(302, { location: "/here" });
    return res.end();
  }
  if (req.url === "/slow") return setTimeout(() => res.end("late"), 2000);
  if (req.url === "/empty") {
    res.writeHead(204);
    return res.end();
  }
  res.writeHead(200, { "content-type": "text/plain", "x-seen-header": req.headers["x-sent"] ?? "" });
  res.end(`at ${req.url}`);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${server.address().port}`;
const fetch = loopbackFetch(globalThis.fetch);

async function outcome(call) {
  try {
    const response = await call();
    return { status: response.status, seen: response.headers.get("x-seen-header"), body: await response.text(), location: response.headers.get("location") };
  } catch (error) {
    return { error: error.name, message: error.message };
  }
}
const results = {
  plain: await outcome(() => fetch(`${base}/a?b=c`, { headers: { "x-sent": "yes" } })),
  followed: await outcome(() => fetch(`${base}/moved`)),
  manual: await outcome(() => fetch(`${base}/moved`, { redirect: "manual" })),
  empty: await outcome(() => fetch(`${base}/empty`)),
  timeout: await outcome(() => fetch(`${base}/slow`, { signal: AbortSignal.timeout(200) })),
  refused: await outcome(() => fetch("http://127.0.0.1:1/")),
};
server.closeAllConnections();
server.close();
process.stdout.write(JSON.stringify(results));
