// Run a Python file under the npm `pyodide` (the Worker's runtime) with edge_worker/ importable.
//   node scripts/edge/pyrun.mjs SCRIPT.py [--worker-dir edge_worker]
// Used by tests to check that the shared module gives the same keys under Pyodide as CPython.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { "worker-dir": { type: "string", default: path.join(ROOT, "edge_worker") } },
});
const { loadPyodide } = await import(path.join(ROOT, "node_modules/pyodide/pyodide.mjs"));
const pyodide = await loadPyodide({ indexURL: path.join(ROOT, "node_modules/pyodide") + "/" });
pyodide.FS.mkdirTree("/session/worker");
for (const name of fs.readdirSync(values["worker-dir"])) {
  if (name.endsWith(".py")) pyodide.FS.writeFile(`/session/worker/${name}`, fs.readFileSync(path.join(values["worker-dir"], name)));
}
pyodide.runPython("import sys; sys.path.insert(0, '/session/worker')");
await pyodide.runPythonAsync(fs.readFileSync(positionals[0], "utf8"));
