// grpcjs_client.js - @grpc/grpc-js (tests/conformance/node_modules) against the gRPC
// service of test_h2up.py through hearthd's ingress: h2 by ALPN, only hearthd's CA.
// argv[2]: JSON {port, ca, name, tok, appPort}. Prints one JSON line of results.
"use strict";
const path = require("path");
const fs = require("fs");
const grpc = require(path.join(__dirname, "..", "conformance", "node_modules", "@grpc", "grpc-js"));

const cfg = JSON.parse(process.argv[2]);
const id = (b) => b;
const client = new grpc.Client("127.0.0.1:" + cfg.port,
  grpc.credentials.createSsl(fs.readFileSync(cfg.ca)), {
    "grpc.ssl_target_name_override": cfg.name,
    "grpc.default_authority": cfg.name + ":" + cfg.port,
    "grpc.max_receive_message_length": 16 << 20,
    "grpc.max_send_message_length": 16 << 20,
  });
const SVC = "/t.T/";

function md(withToken = true) {
  const m = new grpc.Metadata();
  if (withToken) m.set("x-aws-proxy-auth", cfg.tok);
  m.set("x-aws-proxy-port", String(cfg.appPort));
  return m;
}
const dl = (s) => ({ deadline: Date.now() + s * 1000 });
const err = (e) => ({ code: e.code, details: e.details });

function unary(method, arg, opts = dl(60), m = md()) {
  return new Promise((res) => client.makeUnaryRequest(SVC + method, id, id, arg, m, opts,
    (e, v) => res(e ? { err: err(e) } : { ok: v })));
}

function serverStream(method, arg) {
  return new Promise((res) => {
    const out = [];
    const call = client.makeServerStreamRequest(SVC + method, id, id, arg, md(), dl(60));
    call.on("data", (d) => out.push(d.toString()));
    call.on("error", (e) => res({ err: err(e) }));
    call.on("status", (s) => { if (s.code === 0) res({ ok: out }); });
  });
}

function clientStream(method, msgs) {
  return new Promise((res) => {
    const call = client.makeClientStreamRequest(SVC + method, id, id, md(), dl(60),
      (e, v) => res(e ? { err: err(e) } : { ok: v.toString() }));
    for (const m of msgs) call.write(Buffer.from(m));
    call.end();
  });
}

function bidi(method, msgs) {
  return new Promise((res) => {
    const out = [];
    const call = client.makeBidiStreamRequest(SVC + method, id, id, md(), dl(60));
    call.on("data", (d) => out.push(d.toString()));
    call.on("error", (e) => res({ err: err(e) }));
    call.on("status", (s) => { if (s.code === 0) res({ ok: out }); });
    for (const m of msgs) call.write(Buffer.from(m));
    call.end();
  });
}

function cancelled(tag) {
  return new Promise((res) => {
    const call = client.makeUnaryRequest(SVC + "Slow", id, id, Buffer.from(tag), md(), dl(30),
      (e) => res(e ? err(e) : { code: 0 }));
    setTimeout(() => call.cancel(), 1000);
  });
}

(async () => {
  const r = {};
  const u = await unary("Unary", Buffer.from("js"));
  r.unary = u.ok ? u.ok.toString() : u;
  r.stream = await serverStream("Count", Buffer.from("1000"));
  if (r.stream.ok) r.stream = { n: r.stream.ok.length, last: r.stream.ok[r.stream.ok.length - 1] };
  r.client = await clientStream("Total", ["ab", "cde", "f"]);
  r.bidi = await bidi("Bidi", ["123", "45"]);
  r.fail = await unary("Fail", Buffer.alloc(0));
  const big = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  const b = await unary("Unary", big, dl(120));
  r.big = b.ok ? (b.ok.length === big.length + 5 && b.ok.subarray(5).equals(big)) : b;
  r.deadline = await unary("Slow", Buffer.from("js-deadline"), dl(0.5));
  r.cancel = await cancelled("js-cancel");
  r.noauth = await unary("Unary", Buffer.from("x"), dl(30), md(false));
  client.close();
  process.stdout.write(JSON.stringify(r) + "\n");
})();
