import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { showsSql } from "../src/testing/probes";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

describe("the probes' SQL detector", () => {
  it("finds statements and PostgreSQL's errors", () => {
    for (const text of [
      'Failed query: select "id", "name" from "users" where "email" = $1',
      "select * from comparison_tasks",
      "SELECT t.id, t.prompt FROM tasks t",
      'select distinct "a" from "b"',
      'insert into "rankings" ("id") values ($1)',
      'duplicate key value violates unique constraint "rankings_pkey"',
      'null value in column "a" violates not-null constraint',
      'syntax error at or near "from"',
    ])
      expect(showsSql(text), text).toBe(true);
  });

  it("does not take prose or ICU messages for SQL, nor any of the apps' catalogues (every page carries them)", () => {
    for (const text of [
      "You are invited as {role, select, admin {an admin} other {an annotator}}. Choose your name from the list",
      "Select a response, then move it; responses from models",
      "input run {name} {status, select, failed {failed} other {was cancelled}}; it cannot feed a run from here",
    ])
      expect(showsSql(text), text).toBe(false);
    for (const file of ["apps/labeler", "apps/dashboard", "packages/ui"].flatMap((d) =>
      ["en", "zh"].map((l) => path.join(root, d, "messages", `${l}.json`)),
    ))
      expect(showsSql(readFileSync(file, "utf8").replace(/\n/g, " ")), file).toBe(false);
  });
});
