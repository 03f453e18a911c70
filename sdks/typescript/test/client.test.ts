// The client's configuration: environment variables, no environment at all (browsers), URLs.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Client, DEFAULT_URL } from "scaivault";
import { startDevServer } from "./helpers.js";
import type { Server } from "./helpers.js";

const run = promisify(execFile);
let server: Server;

before(async () => {
  server = await startDevServer();
});
after(async () => {
  await server?.stop();
});

/** Runs an ES module snippet in a fresh node process (cwd: the project that installed the package). */
async function node(code: string, env: Record<string, string>): Promise<string> {
  const clean: NodeJS.ProcessEnv = { PATH: process.env["PATH"] ?? "", ...env };
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", code], { env: clean });
  return stdout.trim();
}

describe("client configuration", () => {
  test("SCAIVAULT_URL, SCAIVAULT_TOKEN, SCAIVAULT_TENANT_ID, SCAIVAULT_PARTNER_ID from the environment", async () => {
    const me = await new Client({ url: server.url, token: server.token }).auth.whoami();
    const out = await node(
      `import { Client } from "scaivault";
       const c = new Client();
       const me = await c.auth.whoami();
       const s = await c.secrets.write("env/x", { v: "1" });
       console.log(JSON.stringify({ url: c.url, tenant: c.tenantId, partner: c.partnerId, id: me.identity_id, v: s.version }));`,
      {
        SCAIVAULT_URL: server.url + "/",
        SCAIVAULT_TOKEN: server.token,
        SCAIVAULT_TENANT_ID: me.tenant_id,
        SCAIVAULT_PARTNER_ID: me.partner_id,
      },
    );
    assert.deepEqual(JSON.parse(out), {
      url: server.url,
      tenant: me.tenant_id,
      partner: me.partner_id,
      id: me.identity_id,
      v: 1,
    });
  });

  test("options win over the environment", async () => {
    const out = await node(
      `import { Client } from "scaivault";
       const c = new Client({ url: ${JSON.stringify(server.url)}, token: ${JSON.stringify(server.token)} });
       console.log((await c.auth.whoami()).identity_type);`,
      { SCAIVAULT_URL: "http://127.0.0.1:1", SCAIVAULT_TOKEN: "skt_wrong" },
    );
    assert.equal(out, "user");
  });

  test("without `process` (a browser) the client is built from its options alone", async () => {
    const out = await node(
      `import { Client } from "scaivault";
       Reflect.deleteProperty(globalThis, "process");
       const plain = new Client();
       const c = new Client({ url: ${JSON.stringify(server.url)}, token: ${JSON.stringify(server.token)} });
       console.log(JSON.stringify([typeof globalThis.process, plain.url, plain.hasToken, (await c.sys.health()).status]));`,
      { SCAIVAULT_URL: "http://127.0.0.1:1" },
    );
    assert.deepEqual(JSON.parse(out), ["undefined", DEFAULT_URL, false, "ok"]);
  });

  test("URLs: trailing slashes dropped, a path prefix kept, other schemes refused", () => {
    assert.equal(new Client({ url: "https://vault.example/prefix//" }).url, "https://vault.example/prefix");
    assert.throws(() => new Client({ url: "ftp://vault.example" }), TypeError);
    assert.throws(() => new Client({ url: "not a url" }), TypeError);
    assert.throws(() => new Client({ url: "https://vault.example/?q=1" }), TypeError);
    assert.throws(() => new Client({ maxRetries: -1 }), RangeError);
  });
});
