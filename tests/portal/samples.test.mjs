// Every code sample the portal shows is compiled (TypeScript by tsc, Python by mypy, shell by
// bash -n; Rust by tests/sdk/rust, whose build script compiles the same samples.json), and
// the samples of read operations are executed against the live server.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";

import { baseUrl, here, repo, sandboxKey } from "./live.mjs";

const samples = JSON.parse(readFileSync(join(repo, "portal/site/samples.json"), "utf8")).entries;
const python = process.env.NEOFORGE_PYTHON ?? "python3";
/** Read operations with no path parameters, run for real. */
const EXECUTED = ["organizations_get_current", "api_keys_list", "products_list", "request_log_list"];
const work = join(here, ".samples");
let env;

before(async () => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  env = { ...process.env, NEOFORGE_API_KEY: await sandboxKey(), NEOFORGE_BASE_URL: baseUrl, PYTHONPATH: join(repo, "sdks/python") };
});

const run = (cmd, args, options = {}) => execFileSync(cmd, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...options });

test("every operation has all four samples", () => {
  assert.ok(samples.length > 50);
  for (const s of samples) {
    assert.deepEqual(Object.keys(s.samples).sort(), ["curl", "python", "rust", "typescript"], s.operation);
  }
});

test("every TypeScript sample type-checks against the SDK", () => {
  const dir = join(work, "ts");
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", types: ["node"], skipLibCheck: true }, include: ["*.ts"] }),
  );
  for (const s of samples) writeFileSync(join(dir, `${s.operation}.ts`), s.samples.typescript);
  run(process.execPath, [join(here, "node_modules/typescript/bin/tsc"), "-p", dir]);
});

test("every Python sample type-checks against the SDK", () => {
  const dir = join(work, "py");
  mkdirSync(dir);
  for (const s of samples) writeFileSync(join(dir, `${s.operation}.py`), s.samples.python);
  run(python, ["-m", "mypy", "--no-error-summary", "--follow-imports=silent", dir], { env: { ...env, MYPYPATH: join(repo, "sdks/python") } });
});

test("every curl sample is valid shell", () => {
  for (const s of samples) run("bash", ["-n", "-c", s.samples.curl]);
});

for (const operation of EXECUTED) {
  test(`the samples of ${operation} run against the server`, () => {
    const s = samples.find((x) => x.operation === operation);
    assert.ok(s, `${operation} has samples`);
    const curl = JSON.parse(run("bash", ["-c", `${s.samples.curl.trim()} --fail-with-body -sS`]));
    assert.ok(!("code" in curl), JSON.stringify(curl));
    const ts = join(here, `.samples/${operation}.mjs`);
    writeFileSync(ts, s.samples.typescript);
    assert.ok(run(process.execPath, [ts]).length > 0);
    const py = join(work, `${operation}.py`);
    writeFileSync(py, s.samples.python);
    assert.ok(run(python, [py]).length > 0);
  });
}
