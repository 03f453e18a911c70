// Real servers for the tests: `scaivault server --dev` (and a production-mode server for rate
// limits) from SCAIVAULT_BIN. No mocks: every test talks HTTP to one of these.

import { spawn, execFile } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { promisify } from "node:util";

/** The server binary; a missing or non-executable one fails the suite (it never skips). */
export function serverBinary(): string {
  const bin = process.env["SCAIVAULT_BIN"];
  if (!bin) throw new Error("SCAIVAULT_BIN is not set: point it at the scaivault binary");
  accessSync(bin, constants.X_OK);
  return bin;
}

export interface Server {
  url: string;
  token: string;
  dir: string;
  stop(): Promise<void>;
  /** The server's log so far (stderr), for failure messages. */
  log(): string;
}

const servers = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of servers) child.kill("SIGKILL");
});

export function randomToken(): string {
  return `skt_test_${randomBytes(12).toString("hex")}`;
}

function startProcess(args: string[], dir: string, token: string): Promise<Server> {
  const child = spawn(serverBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
  servers.add(child);
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise<Server>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the server did not start within 60 s:\n${stderr}`));
    }, 60_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening:\n${stderr}`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const prefix = "ScaiVault listening on ";
      if (!line.startsWith(prefix)) return;
      clearTimeout(timer);
      resolve({
        url: line.slice(prefix.length).trim(),
        token,
        dir,
        log: () => stderr,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGTERM");
            const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
            await exited;
            clearTimeout(killer);
          }
          servers.delete(child);
          rmSync(dir, { recursive: true, force: true });
        },
      });
    });
  });
}

export interface DevOptions {
  /** Let webhooks reach 127.0.0.0/8 (a local receiver). */
  webhooks?: boolean;
  testClock?: boolean;
}

/** A fresh `scaivault server --dev` on a free port, with a random root token. */
export function startDevServer(options: DevOptions = {}): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "scaivault-ts-"));
  const token = randomToken();
  const args = [
    "server",
    "--dev",
    "--listen",
    "127.0.0.1:0",
    "--dev-root-token",
    token,
    "--data-dir",
    join(dir, "data"),
  ];
  if (options.webhooks) args.push("--dev-webhook-network", "127.0.0.0/8");
  if (options.testClock) args.push("--dev-test-clock");
  return startProcess(args, dir, token);
}

/**
 * A production-mode server (rate limits exist only there): `identity = { per_second = 2,
 * burst = 3 }`, so the 4th request within a second is answered 429 with Retry-After.
 */
export async function startProductionServer(): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "scaivault-ts-prod-"));
  const config = join(dir, "scaivault.toml");
  writeFileSync(
    config,
    [
      'listen = "127.0.0.1:0"',
      "allow_plain_http = true",
      `data_dir = ${JSON.stringify(join(dir, "data"))}`,
      `root_key_file = ${JSON.stringify(join(dir, "root.key"))}`,
      "[rate_limits]",
      "identity = { per_second = 2, burst = 3 }",
      "",
    ].join("\n"),
  );
  const { stdout } = await promisify(execFile)(serverBinary(), ["operator", "init", "--config", config]);
  const token = stdout
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("skt_"));
  if (!token) throw new Error(`operator init printed no token:\n${stdout}`);
  return startProcess(["server", "--config", config], dir, token);
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A unique prefix for the secrets of one test. */
export function unique(name: string): string {
  return `${name}-${randomBytes(4).toString("hex")}`;
}

/** The URL of a local port nothing listens on (bound, then released). */
export async function deadUrl(): Promise<string> {
  const { createServer } = await import("node:net");
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const p = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(p));
    });
  });
  return `http://127.0.0.1:${port}`;
}
