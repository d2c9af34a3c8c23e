import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderCliReference } from "../src/cli/reference";

describe("docs/reference/cli.md", () => {
  it("is what the command tree generates (run `pnpm docs:cli` after changing a command)", () => {
    const committed = readFileSync(new URL("../../../docs/reference/cli.md", import.meta.url), "utf8");
    expect(committed).toBe(renderCliReference());
  });

  it("lists every command with its options", () => {
    const page = renderCliReference();
    for (const heading of ["## `rlhf start`", "### `rlhf train ppo`", "### `rlhf runs logs <run>`"])
      expect(page).toContain(heading);
    expect(page).toContain('| `--concurrency <n>` | `"1"` | training jobs at once |');
  });
});
