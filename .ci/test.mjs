// The README's test command: every package's tests through turbo, then one line summing all suites.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const results = path.join(root, ".test-results");
rmSync(results, { recursive: true, force: true });

const packages = ["core", "trainer", "dashboard", "labeler", "e2e"];
const turbo = spawnSync(
  "pnpm",
  ["exec", "turbo", "run", "test", "--concurrency=1", "--continue", ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", NEXT_TELEMETRY_DISABLED: "1" },
  },
);

let passed = 0;
let failed = 0;
let skipped = 0;
for (const pkg of packages) {
  const file = path.join(results, `${pkg}.json`);
  if (!existsSync(file)) {
    console.log(`${pkg}: no test report (the suite did not run to the end)`);
    failed += 1;
    continue;
  }
  const report = JSON.parse(readFileSync(file, "utf8"));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  // A file that failed to load has no failed test but a failed suite: count it.
  for (const suite of report.testResults) {
    if (suite.status === "failed" && !suite.assertionResults.some((a) => a.status === "failed")) failed += 1;
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(turbo.status === 0 && failed === 0 ? 0 : 1);
