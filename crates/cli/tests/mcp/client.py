"""MCP client for the `scaivault mcp` tests, on the official MCP Python SDK (`pip install mcp`).

Reads a JSON spec on stdin, connects over stdio (spawning `scaivault mcp ...`) or Streamable
HTTP, initializes, lists tools (checking every input/output schema is valid JSON Schema),
makes the calls the spec asks for and prints everything it received as one JSON document on
stdout. The Rust test (crates/cli/tests/cli/mcp.rs) makes the assertions.

Spec: {"transport": "stdio"|"http", "command": str, "args": [...], "env": {...}, "url": str,
       "client_name": str, "client_version": str, "calls": [{"tool": str, "arguments": {...}}],
       "read_resources": [uri, ...], "list_resources": bool,
       "negotiate": "initialize" (default: the handshake era) | "discover" (2026-07-28: no
       handshake, clientInfo in every request's _meta)}
"""

import asyncio
import json
import sys

try:
    import jsonschema
    from mcp import ClientSession, StdioServerParameters, types
    from mcp.client.stdio import stdio_client
    from mcp.client.streamable_http import streamable_http_client
except ImportError as e:  # the Rust test turns this exit code into a clear failure
    print(f"the MCP Python SDK is missing ({e}): python3 -m pip install mcp", file=sys.stderr)
    sys.exit(3)


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def schema_problem(schema):
    try:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        return None
    except jsonschema.SchemaError as e:
        return str(e.message)


async def exercise(spec, read, write):
    out = {}
    info = types.Implementation(name=spec["client_name"], version=spec["client_version"])
    async with ClientSession(read, write, client_info=info) as session:
        if spec.get("negotiate", "initialize") == "discover":
            discovered = await session.discover()
            out["discover"] = dump(discovered)
            out["protocol_version"] = session.protocol_version
        else:
            init = await session.initialize()
            out["initialize"] = dump(init)
            out["protocol_version"] = init.protocol_version
        listed = await session.list_tools()
        tools = [dump(t) for t in listed.tools]
        out["tools"] = tools
        problems = {}
        for t in tools:
            for key in ("inputSchema", "outputSchema"):
                if key in t:
                    problem = schema_problem(t[key])
                    if problem:
                        problems[f"{t['name']}.{key}"] = problem
        out["schema_problems"] = problems
        results = []
        for call in spec.get("calls", []):
            try:
                result = await session.call_tool(call["tool"], call.get("arguments") or {})
                results.append(dump(result))
            except Exception as e:  # a protocol error: recorded, the test fails on it
                results.append({"exception": f"{type(e).__name__}: {e}"})
        out["calls"] = results
        if spec.get("list_resources"):
            try:
                out["resources"] = dump(await session.list_resources())
                out["resource_templates"] = dump(await session.list_resource_templates())
            except Exception as e:
                out["resources"] = {"exception": f"{type(e).__name__}: {e}"}
        reads = []
        for uri in spec.get("read_resources", []):
            try:
                reads.append(dump(await session.read_resource(uri)))
            except Exception as e:
                reads.append({"exception": f"{type(e).__name__}: {e}"})
        out["resource_reads"] = reads
    return out


async def main():
    spec = json.load(sys.stdin)
    if spec["transport"] == "stdio":
        params = StdioServerParameters(
            command=spec["command"], args=spec.get("args", []), env=spec.get("env", {})
        )
        async with stdio_client(params) as (read, write):
            return await exercise(spec, read, write)
    async with streamable_http_client(spec["url"]) as streams:
        read, write = streams[0], streams[1]
        return await exercise(spec, read, write)


if __name__ == "__main__":
    result = asyncio.run(asyncio.wait_for(main(), timeout=120))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
