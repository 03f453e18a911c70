// docs/sdks/javascript.md cannot rot: every ```js / ```javascript block runs, in order, against
// a dev server (SCAIVAULT_URL / SCAIVAULT_TOKEN set), importing the INSTALLED package; the
// ```ts blocks compile with tsc --strict against it.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { startDevServer } from "./helpers.js";
import type { Server } from "./helpers.js";

const run = promisify(execFile);
// test.sh copies the page next to the tests' project (.pack-test/javascript.md).
const PAGE = resolve(process.env["SCAIVAULT_DOCS_PAGE"] ?? "javascript.md");

interface Block {
  lang: string;
  code: string;
  line: number;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)\s*$/.exec(lines[i] ?? "");
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ""); i++) body.push(lines[i] ?? "");
    out.push({ lang: open[1] ?? "", code: body.join("\n"), line: start + 1 });
  }
  return out;
}

/**
 * One module from the blocks: their imports hoisted and merged, each block's body in its own
 * `{ }` scope (so two blocks may both declare `client`), run in order with top-level await.
 */
function program(runnable: Block[]): string {
  const imports = new Map<string, Set<string>>();
  const bodies: string[] = [];
  for (const block of runnable) {
    const kept: string[] = [];
    for (const line of block.code.split("\n")) {
      const m = /^import\s+\{([^}]*)\}\s+from\s+"([^"]+)";?\s*$/.exec(line);
      if (m) {
        const names = imports.get(m[2] ?? "") ?? new Set<string>();
        for (const n of (m[1] ?? "").split(",")) if (n.trim()) names.add(n.trim());
        imports.set(m[2] ?? "", names);
        continue;
      }
      assert.ok(!/^import\s/.test(line), `unsupported import form at docs line ${block.line}: ${line}`);
      kept.push(line);
    }
    bodies.push(
      `// --- docs/sdks/javascript.md line ${block.line}\n` +
        `console.log(${JSON.stringify(`[block at line ${block.line}]`)});\n{\n${kept.join("\n")}\n}`,
    );
  }
  const head = [...imports].map(([from, names]) => `import { ${[...names].join(", ")} } from "${from}";`);
  return [...head, ...bodies].join("\n");
}

let server: Server;
let markdown: string;

before(async () => {
  assert.ok(existsSync(PAGE), `the docs page is missing: ${PAGE}`);
  markdown = readFileSync(PAGE, "utf8");
  // Webhooks may reach 127.0.0.0/8: the page's receiver example runs for real.
  server = await startDevServer({ webhooks: true });
});
after(async () => {
  await server?.stop();
});

describe("docs/sdks/javascript.md", () => {
  test("every js block runs, in order, against a dev server", async () => {
    const runnable = blocks(markdown).filter((b) => b.lang === "js" || b.lang === "javascript");
    assert.ok(runnable.length >= 10, `only ${runnable.length} js blocks`);
    mkdirSync("docs-run", { recursive: true });
    const file = join("docs-run", "examples.mjs");
    writeFileSync(file, program(runnable));
    const env: NodeJS.ProcessEnv = { ...process.env, SCAIVAULT_URL: server.url, SCAIVAULT_TOKEN: server.token };
    try {
      const { stdout } = await run(process.execPath, [file], { env, timeout: 120_000 });
      assert.match(stdout, /\[block at line \d+\]/);
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      assert.fail(`the docs examples failed:\n${err.stdout ?? ""}\n${err.stderr ?? String(e)}`);
    }
  });

  test("the repository README's JavaScript quickstart runs as printed", async () => {
    const readme = resolve(process.env["SCAIVAULT_README"] ?? "README.md");
    assert.ok(existsSync(readme), `the README is missing: ${readme}`);
    const quickstart = blocks(readFileSync(readme, "utf8")).filter((b) => b.lang === "js");
    assert.equal(quickstart.length, 1, "the README shows one JavaScript quickstart");
    mkdirSync("docs-run", { recursive: true });
    const file = join("docs-run", "readme.mjs");
    writeFileSync(file, quickstart[0]?.code ?? "");
    const env: NodeJS.ProcessEnv = { ...process.env, SCAIVAULT_URL: server.url, SCAIVAULT_TOKEN: server.token };
    const { stdout } = await run(process.execPath, [file], { env, timeout: 60_000 });
    // The version depends on what the page's examples wrote before; the keys come back sorted.
    assert.match(stdout.trim(), /^\d+ \[ 'password', 'username' \]$/);
  });

  test("the ts blocks compile with tsc --strict against the installed package", async () => {
    const tsc = process.env["SCAIVAULT_TSC"];
    assert.ok(tsc && existsSync(tsc), "SCAIVAULT_TSC must point at TypeScript's tsc");
    const typed = blocks(markdown).filter((b) => b.lang === "ts" || b.lang === "typescript");
    assert.ok(typed.length >= 1, "no ts block");
    mkdirSync("docs-ts", { recursive: true });
    typed.forEach((b, i) => writeFileSync(join("docs-ts", `block${i}.ts`), `${b.code}\nexport {};\n`));
    writeFileSync(
      join("docs-ts", "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2022", "DOM"],
          types: [],
          strict: true,
          noUncheckedIndexedAccess: true,
          noEmit: true,
          skipLibCheck: false,
        },
        include: ["*.ts"],
      }),
    );
    try {
      await run(process.execPath, [tsc, "-p", join("docs-ts", "tsconfig.json")]);
    } catch (e) {
      const err = e as { stdout?: string };
      assert.fail(`tsc --strict failed on the docs' ts blocks:\n${err.stdout ?? String(e)}`);
    }
  });
});
