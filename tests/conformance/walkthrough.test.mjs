// The service's Getting Started walkthrough through the official AWS SDK for
// JavaScript only: package the Flask app (walkthrough-app/) as a zip, "upload"
// it (s3://BUCKET/KEY is read by hearthd from <state>/artifacts/BUCKET/KEY,
// hearthd(8)), list the managed bases, CreateMicrovmImage with hooks, wait for
// the image CREATED and its version SUCCESSFUL, RunMicrovm with a run hook
// payload and an idle policy, CreateMicrovmAuthToken, HTTPS GET through the
// endpoint with the token, idle suspend, auto-resume on the next GET,
// TerminateMicrovm, DeleteMicrovmImage.
//
// Run by tests/integration/test_conformance_walkthrough.py, which starts
// hearthd (--egress-uplink host: apt in the build reaches this machine's Debian
// mirror; --test-min-idle 1 for a short idle timer) and sets AWS_PROFILE and
// AWS_ENDPOINT_URL as for conformance.test.mjs, plus HEARTH_STATE_DIR (where
// the artifacts and hearthd's CA are) and HEARTH_WALK_NAME (the image's name).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import {
  LambdaMicrovmsClient,
  ListManagedMicrovmImagesCommand,
  CreateMicrovmImageCommand,
  GetMicrovmImageCommand,
  GetMicrovmImageVersionCommand,
  ListMicrovmImageBuildsCommand,
  GetMicrovmImageBuildCommand,
  RunMicrovmCommand,
  GetMicrovmCommand,
  CreateMicrovmAuthTokenCommand,
  TerminateMicrovmCommand,
  DeleteMicrovmImageCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-lambda-microvms";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STATE = process.env.HEARTH_STATE_DIR;
const NAME = process.env.HEARTH_WALK_NAME || "my-first-image";
const BUCKET = "my-bucket";
const KEY = `microvm-images/${NAME}/code-artifact.zip`;
const BUILD_MS = 1800000;   // apt-get update + install in the builder VM, bounded
const BOOT_MS = 300000;
const STEP_MS = 120000;
const IDLE_S = 5;           // hearthd runs with --test-min-idle 1

const client = new LambdaMicrovmsClient({ maxAttempts: 1 });
const send = (cmd) => client.send(cmd);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll get() until done(doc) or the deadline; the last doc either way.
async function poll(what, get, done, timeoutMs, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await get();
    if (done(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not done after ${timeoutMs} ms: ${JSON.stringify(last)}`);
    }
    await sleep(everyMs);
  }
}

const vmState = (id, states, timeoutMs) => poll(`${id} in ${states}`,
  () => send(new GetMicrovmCommand({ microvmIdentifier: id })),
  (d) => states.includes(d.state), timeoutMs, 200);

// A zip of the app's files (deflated), as `zip my-app.zip Dockerfile app.py` makes.
function makeZip(files) {
  const locals = [], centrals = [];
  let off = 0;
  for (const [name, data] of files) {
    const n = Buffer.from(name), comp = zlib.deflateRawSync(data), crc = zlib.crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt16LE(0, 6);
    lh.writeUInt16LE(8, 8); lh.writeUInt32LE(0, 10); lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(comp.length, 18); lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(n.length, 26); lh.writeUInt16LE(0, 28);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(0x0314, 4); ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(0, 8); ch.writeUInt16LE(8, 10); ch.writeUInt32LE(0, 12);
    ch.writeUInt32LE(crc, 16); ch.writeUInt32LE(comp.length, 20);
    ch.writeUInt32LE(data.length, 24); ch.writeUInt16LE(n.length, 28);
    ch.writeUInt32LE((0o100644 << 16) >>> 0, 38); ch.writeUInt32LE(off, 42);
    locals.push(lh, n, comp);
    centrals.push(ch, n);
    off += 30 + n.length + comp.length;
  }
  const cd = Buffer.concat(centrals), end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10); end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, end]);
}

// GET through the microVM's endpoint with the token, as the walkthrough's curl
// does. The endpoint is https://<id>.localhost:PORT: the connection goes to
// 127.0.0.1 (no resolver is asked about .localhost names) with the endpoint's
// name as SNI and Host, and trusts only hearthd's CA, which signs a
// certificate for that exact name when the VM exists (its default one, with
// *.localhost, would not do: Node, like OpenSSL, takes no wildcard over a
// single label).
function get(endpoint, urlPath, token) {
  const u = new URL(endpoint);
  const ca = fs.readFileSync(path.join(STATE, "tls", "ca.pem"));
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: "127.0.0.1", port: Number(u.port), path: urlPath, method: "GET",
      servername: u.hostname, ca, agent: false, timeout: 180000,
      headers: { host: u.host, "X-aws-proxy-auth": token, "X-aws-proxy-port": "8080" },
    }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${urlPath}: timed out`)));
    req.on("error", reject);
    req.end();
  });
}

async function getJson(endpoint, urlPath, token) {
  const r = await get(endpoint, urlPath, token);
  assert.equal(r.status, 200, `GET ${urlPath}: ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}

const hookNames = (seen) => seen.map((h) => h.hook);

test("Getting Started: Flask image, run, token, idle suspend, auto-resume", { timeout: 2700000 }, async (t) => {
  assert.ok(STATE, "HEARTH_STATE_DIR is set by the pytest driver");

  // Step 1: package the app and put it where s3://BUCKET/KEY is read from.
  const files = ["Dockerfile", "app.py"].map((f) => [f, fs.readFileSync(path.join(HERE, "walkthrough-app", f))]);
  const zipPath = path.join(STATE, "artifacts", BUCKET, KEY);
  fs.mkdirSync(path.dirname(zipPath), { recursive: true });
  fs.writeFileSync(zipPath, makeZip(files));

  // Step 2: the managed base images; the Debian one is FROM debian:bookworm.
  const managed = await send(new ListManagedMicrovmImagesCommand({}));
  const base = managed.items.find((i) => i.imageArn.endsWith(":microvm-image:debian-12"));
  assert.ok(base, JSON.stringify(managed.items));

  // Step 3: create the image, with the walkthrough's hooks (timeouts longer than
  // its 2 s and 5 s: the guest may share a busy machine).
  const hooks = {
    port: 9000,
    microvmImageHooks: { ready: "ENABLED", readyTimeoutInSeconds: 60 },
    microvmHooks: {
      run: "ENABLED", runTimeoutInSeconds: 30,
      resume: "ENABLED", resumeTimeoutInSeconds: 30,
      suspend: "ENABLED", suspendTimeoutInSeconds: 30,
      terminate: "ENABLED", terminateTimeoutInSeconds: 30,
    },
  };
  const created = await send(new CreateMicrovmImageCommand({
    name: NAME, description: "Hello world Flask app", baseImageArn: base.imageArn,
    buildRoleArn: "arn:aws:iam::123456789012:role/MicroVMBuildRole",
    codeArtifact: { uri: `s3://${BUCKET}/${KEY}` }, hooks,
  }));
  assert.equal(created.$metadata.httpStatusCode, 201);
  assert.equal(created.state, "CREATING");
  assert.equal(created.imageVersion, "1.0");
  assert.match(created.imageArn, new RegExp(`:microvm-image:${NAME}$`));
  assert.deepEqual(created.hooks, hooks);

  // Step 4: wait for the build: the version SUCCESSFUL, the image CREATED.
  const t0 = Date.now();
  const ver = await poll("the build of 1.0",
    () => send(new GetMicrovmImageVersionCommand({ imageIdentifier: created.imageArn, imageVersion: "1.0" })),
    (v) => v.state === "SUCCESSFUL" || v.state === "FAILED", BUILD_MS);
  assert.equal(ver.state, "SUCCESSFUL", JSON.stringify(ver));
  assert.equal(ver.status, "ACTIVE");
  t.diagnostic(`build: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const img = await poll("the image CREATED",
    () => send(new GetMicrovmImageCommand({ imageIdentifier: created.imageArn })),
    (i) => i.state !== "CREATING", STEP_MS);
  assert.equal(img.state, "CREATED", JSON.stringify(img));
  const builds = await send(new ListMicrovmImageBuildsCommand({ imageIdentifier: created.imageArn, imageVersion: "1.0" }));
  assert.equal(builds.items.length, 1);
  assert.equal(builds.items[0].buildState, "SUCCESSFUL");
  const build = await send(new GetMicrovmImageBuildCommand({
    imageIdentifier: created.imageArn, imageVersion: "1.0", buildId: builds.items[0].buildId,
  }));
  assert.ok(build.snapshotBuild.memorySnapshotSizeInBytes > 0, JSON.stringify(build));
  assert.ok(build.snapshotBuild.diskSnapshotSizeInBytes > 0, JSON.stringify(build));
  // The build's log (the service streams it to CloudWatch; hearthd keeps it in
  // <state>/builds/<buildId>.log until the image is deleted): the apt step ran.
  const log = fs.readFileSync(path.join(STATE, "builds", `${build.buildId}.log`), "utf8");
  assert.match(log, /^\[1\/3\] RUN apt-get update && apt-get install -y python3-flask$/m, log);
  assert.match(log, /^Setting up python3-flask /m, log);
  assert.match(log, /build SUCCESSFUL/, log);

  // Step 5: run it, with a payload for /run and an idle policy that suspends fast.
  const payload = JSON.stringify({ user: "alice", session: "s-1", note: "quotes \" and\nnewline" });
  const run = await send(new RunMicrovmCommand({
    imageIdentifier: created.imageArn, imageVersion: "1.0",
    executionRoleArn: "arn:aws:iam::123456789012:role/MicroVMExecutionRole",
    idlePolicy: { maxIdleDurationSeconds: IDLE_S, suspendedDurationSeconds: 600, autoResumeEnabled: true },
    maximumDurationInSeconds: 28800, runHookPayload: payload,
  }));
  assert.equal(run.state, "PENDING");
  assert.equal(run.imageVersion, "1.0");
  assert.equal(run.imageArn, created.imageArn);
  assert.deepEqual(run.idlePolicy, { maxIdleDurationSeconds: IDLE_S, suspendedDurationSeconds: 600, autoResumeEnabled: true });
  const id = run.microvmId;
  assert.match(run.endpoint, new RegExp(`^https://${id}\\.localhost:\\d+$`));
  const up = await vmState(id, ["RUNNING", "TERMINATED"], BOOT_MS);
  assert.equal(up.state, "RUNNING", up.stateReason);

  // Step 6: a token for port 8080, then HTTPS through the endpoint.
  const tok = await send(new CreateMicrovmAuthTokenCommand({
    microvmIdentifier: id, expirationInMinutes: 30, allowedPorts: [{ port: 8080 }],
  }));
  const token = tok.authToken["X-aws-proxy-auth"];
  assert.ok(token);
  const denied = await get(run.endpoint, "/", "not-a-token");
  assert.notEqual(denied.status, 200, denied.body);
  assert.deepEqual(await getJson(run.endpoint, "/", token), { message: "Hello, World!", hits: 1 });
  // /ready ran in the build (its effect is in the snapshot), then /run with
  // exactly the VM's id and the payload.
  const seen = await getJson(run.endpoint, "/hooks", token);
  assert.deepEqual(hookNames(seen), ["ready", "run"], JSON.stringify(seen));
  assert.deepEqual(JSON.parse(seen[1].body), { microvmId: id, runHookPayload: payload });

  // Idle: no endpoint traffic for IDLE_S seconds suspends it (the /suspend hook first).
  const idle = await vmState(id, ["SUSPENDED", "TERMINATED"], STEP_MS);
  assert.equal(idle.state, "SUSPENDED", idle.stateReason);
  assert.match(idle.stateReason, /without endpoint traffic/);

  // The next request resumes it (autoResumeEnabled) and the app's memory is intact.
  const t1 = Date.now();
  assert.deepEqual(await getJson(run.endpoint, "/", token), { message: "Hello, World!", hits: 2 });
  t.diagnostic(`suspended -> 200 through auto-resume: ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  const back = await send(new GetMicrovmCommand({ microvmIdentifier: id }));
  assert.equal(back.state, "RUNNING", back.stateReason);
  const seen2 = await getJson(run.endpoint, "/hooks", token);
  assert.deepEqual(hookNames(seen2), ["ready", "run", "suspend", "resume"], JSON.stringify(seen2));

  // Step 7: terminate; then delete the image.
  await send(new TerminateMicrovmCommand({ microvmIdentifier: id }));
  const end = await vmState(id, ["TERMINATED"], STEP_MS);
  assert.ok(end.terminatedAt instanceof Date);
  const del = await send(new DeleteMicrovmImageCommand({ imageIdentifier: created.imageArn }));
  assert.equal(del.state, "DELETING");
  await poll("the image deleted", async () => {
    try {
      return await send(new GetMicrovmImageCommand({ imageIdentifier: created.imageArn }));
    } catch (e) {
      if (e instanceof ResourceNotFoundException) return "gone";
      throw e;
    }
  }, (r) => r === "gone", STEP_MS);
});
