// Regenerates src/openapi.ts from a running server's OpenAPI document:
//
//   npm run generate -- http://127.0.0.1:8200        (or SCAIVAULT_URL)
//   node scripts/generate.mjs <url> [<output file>]   (test.sh writes to a temporary file and diffs)
//
// The SDK's types (src/types.ts) are aliases into this file, so a change to the API's wire types
// shows up as a compile error instead of silent drift.

import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";

const base = (process.argv[2] ?? process.env.SCAIVAULT_URL ?? "").replace(/\/+$/, "");
if (!base) {
  console.error("usage: npm run generate -- <server url, e.g. http://127.0.0.1:8200>");
  process.exit(2);
}
const output = process.argv[3] ?? fileURLToPath(new URL("../src/openapi.ts", import.meta.url));
const url = base.endsWith("/v1/openapi.json") ? base : `${base}/v1/openapi.json`;

const response = await fetch(url);
if (!response.ok) {
  console.error(`GET ${url}: HTTP ${response.status}`);
  process.exit(1);
}
const document = await response.json();

// openapi-typescript refuses a document whose operationIds repeat; the server's own unit test
// (crates/server/src/routes/openapi.rs) keeps them unique.
const ast = await openapiTS(document, { alphabetize: true, emptyObjectsUnknown: true });
const header =
  COMMENT_HEADER +
  "// Generated from the ScaiVault server's GET /v1/openapi.json by scripts/generate.mjs:\n" +
  "// do not edit; run `npm run generate -- <server url>`.\n\n";
await writeFile(output, header + astToString(ast));
console.log(`wrote ${output}`);
