// Conformance: the official AWS SDK client for Lambda MicroVMs against hearthd.
// Run by tests/integration/test_conformance_sdk.py, which starts hearthd and sets
// AWS_PROFILE=hearth and AWS_ENDPOINT_URL (plus AWS_SHARED_CREDENTIALS_FILE and
// AWS_CONFIG_FILE where that hearthd wrote the profile): the client is built with
// no endpoint, region or credentials in code, as a user's would be, and every
// request is signed (SigV4) with hearthd's key. HEARTH_REAL_VMS=1 when a bootable
// busybox image exists (then the VMs really run, suspend and resume; otherwise
// runs end TERMINATED in the engine).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  LambdaMicrovmsClient,
  RunMicrovmCommand,
  GetMicrovmCommand,
  ListMicrovmsCommand,
  SuspendMicrovmCommand,
  ResumeMicrovmCommand,
  TerminateMicrovmCommand,
  CreateMicrovmAuthTokenCommand,
  CreateMicrovmShellAuthTokenCommand,
  ListManagedMicrovmImagesCommand,
  ListManagedMicrovmImageVersionsCommand,
  CreateMicrovmImageCommand,
  GetMicrovmImageCommand,
  UpdateMicrovmImageCommand,
  DeleteMicrovmImageCommand,
  ListMicrovmImagesCommand,
  ListMicrovmImageVersionsCommand,
  GetMicrovmImageVersionCommand,
  UpdateMicrovmImageVersionCommand,
  DeleteMicrovmImageVersionCommand,
  ListMicrovmImageBuildsCommand,
  GetMicrovmImageBuildCommand,
  paginateListMicrovmImages,
  TagResourceCommand,
  ListTagsCommand,
  UntagResourceCommand,
  paginateListMicrovms,
  ResourceNotFoundException,
  ValidationException,
  ConflictException,
  LambdaMicrovmsServiceException,
} from "@aws-sdk/client-lambda-microvms";

const realVms = process.env.HEARTH_REAL_VMS === "1";
const client = new LambdaMicrovmsClient({ maxAttempts: 1 });
const send = (cmd) => client.send(cmd);

async function waitState(id, states, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await send(new GetMicrovmCommand({ microvmIdentifier: id }));
    if (states.includes(last.state)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${id} not in ${states} after ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

test("managed images are listed with their versions", { timeout: 30000 }, async () => {
  const imgs = await send(new ListManagedMicrovmImagesCommand({}));
  const arns = imgs.items.map((i) => i.imageArn);
  assert.ok(arns.some((a) => a.endsWith(":microvm-image:busybox")));
  assert.ok(arns.some((a) => a.endsWith(":microvm-image:debian-12")));
  assert.ok(imgs.items[0].createdAt instanceof Date);
  const vers = await send(new ListManagedMicrovmImageVersionsCommand({ imageIdentifier: "busybox" }));
  assert.equal(vers.items.length, 1);
  assert.equal(vers.items[0].status, "AVAILABLE");
});

test("run, get, list, suspend, resume, tokens, tags, terminate", { timeout: 600000 }, async () => {
  const run = await send(new RunMicrovmCommand({
    imageIdentifier: "arn:aws:lambda:us-east-1:aws:microvm-image:al2023-1",
    maximumDurationInSeconds: 3600,
    runHookPayload: "conformance",
  }));
  assert.match(run.microvmId, /^mvm-[0-9a-f]{16}$/);
  assert.equal(run.state, "PENDING");
  assert.ok(run.startedAt instanceof Date);
  assert.equal(run.maximumDurationInSeconds, 3600);
  const id = run.microvmId;

  const listed = [];
  for await (const page of paginateListMicrovms({ client, pageSize: 1 }, {})) {
    listed.push(...page.items.map((i) => i.microvmId));
  }
  assert.ok(listed.includes(id));

  if (realVms) {
    const up = await waitState(id, ["RUNNING", "TERMINATED"], 240000);
    assert.equal(up.state, "RUNNING", up.stateReason);

    const proxy = await send(new CreateMicrovmAuthTokenCommand({
      microvmIdentifier: id, expirationInMinutes: 5,
      allowedPorts: [{ port: 8080 }, { range: { startPort: 9000, endPort: 9001 } }, { allPorts: {} }],
    }));
    assert.match(proxy.authToken["X-aws-proxy-auth"], /^hth1\./);
    const shell = await send(new CreateMicrovmShellAuthTokenCommand({
      microvmIdentifier: id, expirationInMinutes: 10,
    }));
    assert.match(shell.authToken["X-aws-proxy-auth"], /^hth1\./);
    assert.notEqual(shell.authToken["X-aws-proxy-auth"], proxy.authToken["X-aws-proxy-auth"]);

    await send(new SuspendMicrovmCommand({ microvmIdentifier: id }));
    const s = await waitState(id, ["SUSPENDED", "TERMINATED"], 120000);
    assert.equal(s.state, "SUSPENDED", s.stateReason);
    await send(new ResumeMicrovmCommand({ microvmIdentifier: id }));
    const r = await waitState(id, ["RUNNING", "TERMINATED"], 120000);
    assert.equal(r.state, "RUNNING", r.stateReason);
  }

  const arn = `arn:hearth:lambda:local:000000000000:microvm:${id}`;
  await send(new TagResourceCommand({ Resource: arn, Tags: { team: "conformance", env: "ci" } }));
  let tags = await send(new ListTagsCommand({ Resource: arn }));
  assert.deepEqual(tags.Tags, { team: "conformance", env: "ci" });
  await send(new UntagResourceCommand({ Resource: arn, TagKeys: ["env"] }));
  tags = await send(new ListTagsCommand({ Resource: arn }));
  assert.deepEqual(tags.Tags, { team: "conformance" });

  await send(new TerminateMicrovmCommand({ microvmIdentifier: id }));
  const end = await waitState(id, ["TERMINATED"], 120000);
  assert.ok(end.stateReason);
  assert.ok(end.terminatedAt instanceof Date);
});

test("bad input maps to the modeled exception classes", { timeout: 60000 }, async () => {
  await assert.rejects(send(new GetMicrovmCommand({ microvmIdentifier: "mvm-0000000000000000" })),
    (e) => e instanceof ResourceNotFoundException && e.$metadata.httpStatusCode === 404);
  await assert.rejects(send(new RunMicrovmCommand({ imageIdentifier: "busybox", maximumDurationInSeconds: 0 })),
    (e) => e instanceof ValidationException && e.$metadata.httpStatusCode === 400);
  await assert.rejects(send(new RunMicrovmCommand({
    imageIdentifier: "busybox",
    idlePolicy: { maxIdleDurationSeconds: 10, suspendedDurationSeconds: 0, autoResumeEnabled: true },
  })), (e) => e instanceof ValidationException);
  await assert.rejects(send(new RunMicrovmCommand({ imageIdentifier: "no-such-image" })),
    (e) => e instanceof ResourceNotFoundException);
  await assert.rejects(send(new CreateMicrovmAuthTokenCommand({
    microvmIdentifier: "mvm-0000000000000000", expirationInMinutes: 61, allowedPorts: [{ port: 1 }],
  })), (e) => e instanceof ValidationException);
  // The label is percent-encoded by the SDK; whatever route it lands on, it is refused.
  await assert.rejects(send(new SuspendMicrovmCommand({ microvmIdentifier: "../../etc" })),
    (e) => e instanceof LambdaMicrovmsServiceException && e.$metadata.httpStatusCode >= 400 &&
      e.$metadata.httpStatusCode < 500);
  await assert.rejects(send(new SuspendMicrovmCommand({ microvmIdentifier: "mvm;rm -rf" })),
    (e) => e instanceof ValidationException);
  const a = await send(new RunMicrovmCommand({ imageIdentifier: "busybox", clientToken: "conf-1", maximumDurationInSeconds: 60 }));
  const b = await send(new RunMicrovmCommand({ imageIdentifier: "busybox", clientToken: "conf-1", maximumDurationInSeconds: 60 }));
  assert.equal(a.microvmId, b.microvmId);
  await assert.rejects(send(new RunMicrovmCommand({ imageIdentifier: "busybox", clientToken: "conf-1", maximumDurationInSeconds: 61 })),
    (e) => e instanceof ConflictException && e.$metadata.httpStatusCode === 409);
  await send(new TerminateMicrovmCommand({ microvmIdentifier: a.microvmId }));
  await assert.rejects(send(new CreateMicrovmImageCommand({
    name: "x", baseImageArn: "arn:hearth:lambda:local:aws:microvm-image:busybox",
    buildRoleArn: "arn:aws:iam::000000000000:role/x", codeArtifact: { uri: "http://h/x.zip" },
  })), (e) => e instanceof ValidationException && e.$metadata.httpStatusCode === 400);
  await assert.rejects(send(new CreateMicrovmImageCommand({
    name: "busybox", baseImageArn: "arn:hearth:lambda:local:aws:microvm-image:busybox",
    buildRoleArn: "arn:aws:iam::000000000000:role/x", codeArtifact: { uri: "s3://b/k.zip" },
  })), (e) => e instanceof ConflictException && e.$metadata.httpStatusCode === 409);
  await assert.rejects(send(new GetMicrovmImageCommand({ imageIdentifier: "no-such-image" })),
    (e) => e instanceof ResourceNotFoundException);
  await waitState(a.microvmId, ["TERMINATED"], 120000);
});

test("built images: create, read, list, builds, status, update, delete", { timeout: 120000 }, async () => {
  // The build fails fast (no such bucket): what is checked here is every image
  // operation's shape through the SDK; test_image_build.py builds for real.
  const base = "arn:hearth:lambda:local:aws:microvm-image:busybox";
  const role = "arn:aws:iam::000000000000:role/build";
  const created = await send(new CreateMicrovmImageCommand({
    name: "conf-img", baseImageArn: base, buildRoleArn: role,
    codeArtifact: { uri: "s3://conf-nobucket/app.zip" }, description: "conformance",
    hooks: { port: 9000, microvmImageHooks: { ready: "ENABLED", readyTimeoutInSeconds: 60 } },
    environmentVariables: { MODE: "test" }, resources: [{ minimumMemoryInMiB: 256 }],
    tags: { suite: "conformance" }, clientToken: "conf-img-1",
  }));
  assert.equal(created.$metadata.httpStatusCode, 201);
  assert.equal(created.name, "conf-img");
  assert.equal(created.imageVersion, "1.0");
  assert.match(created.imageArn, /:microvm-image:conf-img$/);
  assert.ok(created.createdAt instanceof Date);
  assert.deepEqual(created.codeArtifact, { uri: "s3://conf-nobucket/app.zip" });
  assert.deepEqual(created.environmentVariables, { MODE: "test" });
  assert.equal(created.hooks.microvmImageHooks.ready, "ENABLED");
  const again = await send(new CreateMicrovmImageCommand({
    name: "conf-img", baseImageArn: base, buildRoleArn: role,
    codeArtifact: { uri: "s3://conf-nobucket/app.zip" }, description: "conformance",
    hooks: { port: 9000, microvmImageHooks: { ready: "ENABLED", readyTimeoutInSeconds: 60 } },
    environmentVariables: { MODE: "test" }, resources: [{ minimumMemoryInMiB: 256 }],
    tags: { suite: "conformance" }, clientToken: "conf-img-1",
  }));
  assert.equal(again.imageArn, created.imageArn);

  let ver;
  const deadline = Date.now() + 60000;
  do {
    ver = await send(new GetMicrovmImageVersionCommand({ imageIdentifier: "conf-img", imageVersion: "1.0" }));
    if (ver.state === "FAILED" || ver.state === "SUCCESSFUL") break;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  assert.equal(ver.state, "FAILED");
  assert.equal(ver.stateReason, "S3_NO_SUCH_BUCKET");
  assert.equal(ver.status, "ACTIVE");
  assert.ok(ver.createdAt instanceof Date);

  const img = await send(new GetMicrovmImageCommand({ imageIdentifier: created.imageArn }));
  assert.equal(img.state, "CREATE_FAILED");
  assert.equal(img.latestFailedImageVersion, "1.0");
  assert.deepEqual(img.tags, { suite: "conformance" });

  const names = [];
  for await (const page of paginateListMicrovmImages({ client, pageSize: 1 }, {})) {
    names.push(...page.items.map((i) => i.name));
  }
  assert.ok(names.includes("conf-img"));
  const listed = await send(new ListMicrovmImagesCommand({ nameFilter: "conf-" }));
  assert.deepEqual(listed.items.map((i) => i.name), ["conf-img"]);

  const vers = await send(new ListMicrovmImageVersionsCommand({ imageIdentifier: "conf-img" }));
  assert.deepEqual(vers.items.map((v) => v.imageVersion), ["1.0"]);
  const builds = await send(new ListMicrovmImageBuildsCommand({ imageIdentifier: "conf-img", imageVersion: "1.0" }));
  assert.equal(builds.items.length, 1);
  assert.equal(builds.items[0].buildState, "FAILED");
  const build = await send(new GetMicrovmImageBuildCommand({
    imageIdentifier: "conf-img", imageVersion: "1.0", buildId: builds.items[0].buildId,
  }));
  assert.equal(build.stateReason, "S3_NO_SUCH_BUCKET");
  assert.ok(build.createdAt instanceof Date);

  const off = await send(new UpdateMicrovmImageVersionCommand({
    imageIdentifier: "conf-img", imageVersion: "1.0", status: "INACTIVE",
  }));
  assert.equal(off.status, "INACTIVE");

  const upd = await send(new UpdateMicrovmImageCommand({
    imageIdentifier: "conf-img", baseImageArn: base, buildRoleArn: role,
    codeArtifact: { uri: "s3://conf-nobucket/app2.zip" },
  }));
  assert.equal(upd.imageVersion, "2.0");
  assert.ok(upd.updatedAt instanceof Date);
  do {
    ver = await send(new GetMicrovmImageVersionCommand({ imageIdentifier: "conf-img", imageVersion: "2.0" }));
    if (ver.state === "FAILED" || ver.state === "SUCCESSFUL") break;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  assert.equal(ver.state, "FAILED");

  const dv = await send(new DeleteMicrovmImageVersionCommand({ imageIdentifier: "conf-img", imageVersion: "2.0" }));
  assert.equal(dv.imageVersion, "2.0");
  const del = await send(new DeleteMicrovmImageCommand({ imageIdentifier: "conf-img" }));
  assert.equal(del.state, "DELETING");
  await assert.rejects(send(new GetMicrovmImageCommand({ imageIdentifier: "conf-img" })),
    (e) => e instanceof ResourceNotFoundException && e.$metadata.httpStatusCode === 404);
});
