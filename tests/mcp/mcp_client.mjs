// mcp_client.mjs - the official MCP TypeScript SDK as the client of `hearth mcp`
// (driven by tests/integration/test_mcp.py, which starts hearthd and checks
// what this prints). Environment: HEARTH (the hearth binary), AUDIT (the audit
// log path), IMAGE; the API/CA variables are passed on to `hearth mcp`.
// Prints one JSON object of observations; the Python side asserts on them.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const out = {};
const text = (r) => r.content.filter((c) => c.type === "text").map((c) => c.text).join("");
const LONG = { timeout: 600000 };

const transport = new StdioClientTransport({
  command: process.env.HEARTH,
  args: ["mcp", "--audit-log", process.env.AUDIT, "--max-output", "100000"],
  env: process.env,
  stderr: "inherit",
});
const client = new Client({ name: "hearth-test", version: "1.2.3" });
await client.connect(transport);
out.server = client.getServerVersion();
out.capabilities = client.getServerCapabilities();
out.tools = (await client.listTools()).tools.map((t) => ({ name: t.name, schema: t.inputSchema }));

const call = (name, args, opts) => client.callTool({ name, arguments: args }, undefined, opts ?? LONG);

let r = await call("run_microvm", { image: process.env.IMAGE });
out.run = { isError: r.isError, text: text(r) };
const vm = JSON.parse(text(r));
const id = vm.microvmId;
out.vmId = id;

r = await call("exec", { id, command: "echo out; echo err >&2; exit 3" });
out.execFail = { isError: r.isError, structured: r.structuredContent, text: text(r) };

r = await call("exec", { id, argv: ["cat"], stdin: "from stdin\n", env: { A: "1" }, cwd: "/tmp" });
out.execStdin = r.structuredContent;

r = await call("exec", { id, command: "head -c 300000 /dev/zero | tr '\\0' a" });
out.execBig = { truncated: r.structuredContent.truncated, len: r.structuredContent.stdout.length,
  tail: r.structuredContent.stdout.slice(-60) };

r = await call("write_file", { id, path: "/tmp/mcp-note.txt", content: "héllo\nworld\n", mode: 0o600 });
out.write = { isError: r.isError, text: text(r) };
r = await call("read_file", { id, path: "/tmp/mcp-note.txt" });
out.read = { isError: r.isError, text: text(r) };
r = await call("exec", { id, command: "stat -c %a /tmp/mcp-note.txt" });
out.writtenMode = r.structuredContent.stdout.trim();
r = await call("write_file", { id, path: "/tmp/mcp-bin", content: Buffer.from([0, 1, 2, 255]).toString("base64"), encoding: "base64" });
r = await call("read_file", { id, path: "/tmp/mcp-bin" });
out.readBin = r.content;
r = await call("list_dir", { id, path: "/tmp" });
out.listDir = { isError: r.isError, text: text(r) };
r = await call("read_file", { id, path: "/nonexistent-mcp" });
out.readMissing = { isError: r.isError, text: text(r) };
r = await call("write_file", { id, path: "/nonexistent-dir/x", content: "x" });
out.writeBad = { isError: r.isError, text: text(r) };

// A long command, cancelled once progress shows it running.
const ac = new AbortController();
let progress = 0;
const long = call("exec", { id, command: "echo $$ > /tmp/longpid; sleep 60; echo done > /tmp/finished" },
  { signal: ac.signal, timeout: 600000, onprogress: () => { progress++; if (progress === 2) ac.abort("enough"); } });
try {
  await long;
  out.cancel = { resolved: true };
} catch (e) {
  out.cancel = { rejected: String(e && e.message || e), progress };
}
await new Promise((res) => setTimeout(res, 3000));
r = await call("exec", { id, command: "test -e /tmp/finished && echo finished || echo stopped; " +
  "kill -0 $(cat /tmp/longpid) 2>/dev/null && echo alive || echo gone" });
out.afterCancel = r.structuredContent.stdout;

// Bad arguments: tool errors, not crashes; the server keeps answering.
r = await call("exec", { id, command: "true", timeout: "soon" });
out.badArg = { isError: r.isError, text: text(r) };
r = await call("exec", { command: "true" });
out.noId = { isError: r.isError, text: text(r) };
try {
  await call("no_such_tool", {});
  out.unknownTool = "resolved";
} catch (e) {
  out.unknownTool = String(e.message);
}

r = await call("endpoint_url", { id, port: 8080, minutes: 5 });
out.endpoint = { isError: r.isError, hasToken: /X-aws-proxy-auth|authToken/.test(text(r)) };
r = await call("get_microvm", { id });
out.get = JSON.parse(text(r)).state;
r = await call("terminate_microvm", { id });
out.terminate = { isError: r.isError };
await client.close();
console.log(JSON.stringify(out));
