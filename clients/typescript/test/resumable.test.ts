import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DropboxConnectorClient, DropboxConnectorError, type ResumeEvent } from "../src/index.js";
import { ContentHasher } from "../src/content-hash.js";
import { startCuttingProxy, type CuttingProxy } from "./support/cutting-proxy.js";
import { writeRandomFile } from "./support/files.js";
import { startServer, type TestServer } from "./support/server.js";

const MiB = 1024 * 1024;
const SIZE = 20 * MiB;
let server: TestServer;
let direct: DropboxConnectorClient;
let local: string;
const folder = `/ts-resumable-${randomBytes(4).toString("hex")}`;

before(async () => {
  server = await startServer();
  direct = new DropboxConnectorClient({ address: server.address, caPem: server.caPem, token: server.adminToken });
  local = join(server.scratch, "resumable.bin");
  await writeRandomFile(local, SIZE);
});

after(async () => {
  direct?.close();
  await server?.stop();
});

/** A client whose connection to the server breaks once, after `cutAfter` bytes sent. */
async function clientThroughCut(cutAfter: number): Promise<{ client: DropboxConnectorClient; proxy: CuttingProxy }> {
  const proxy = await startCuttingProxy(server.address, cutAfter);
  const client = new DropboxConnectorClient({ address: proxy.address, caPem: server.caPem, token: server.adminToken });
  return { client, proxy };
}

async function assertStoredAsLocal(path: string): Promise<void> {
  const copy = join(server.scratch, `check-${randomBytes(4).toString("hex")}`);
  await direct.downloadFile({ connection: "demo", path, destination: copy });
  assert.ok((await readFile(copy)).equals(await readFile(local)), `${path} differs from the local file`);
}

test("a resumable upload whose connection breaks goes on from what the service persisted", async () => {
  const { client, proxy } = await clientThroughCut(10 * MiB);
  const resumes: ResumeEvent[] = [];
  try {
    const path = `${folder}/broken-once.bin`;
    const done = await client.resumableUpload({
      connection: "demo",
      localPath: local,
      path,
      onResume: (event) => resumes.push(event),
    });
    assert.equal(proxy.cuts(), 1, "the connection was never cut");
    assert.equal(done.result.outcome.case, "uploaded");
    const uploaded = done.result.outcome.value as { size: bigint; contentHash: string };
    assert.equal(uploaded.size, BigInt(SIZE));
    assert.equal(uploaded.contentHash, new ContentHasher().update(await readFile(local)).digest());
    // It resumed rather than starting over: the next stream began past the first byte, at
    // what the service had persisted (whole 4 MiB blocks), before the cut.
    assert.ok(done.resumes >= 1 && resumes.length >= 1, `resumes: ${done.resumes}`);
    const first = resumes[0]!;
    console.log(`cut after 10 MiB sent; resumed from ${first.offset / MiB} MiB after: ${first.error?.message}`);
    assert.ok(first.offset > 0 && first.offset < SIZE, `resumed from ${first.offset}`);
    assert.equal(first.offset % (4 * MiB), 0);
    assert.equal(first.uploadId, done.uploadId);
    await assertStoredAsLocal(path);
  } finally {
    client.close();
    await proxy.close();
  }
});

test("an upload id kept from a failed process lets another one finish the upload", async () => {
  const { client, proxy } = await clientThroughCut(10 * MiB);
  const path = `${folder}/two-processes.bin`;
  let uploadId = "";
  try {
    // The first "process" does not retry: the broken stream ends its attempt.
    await assert.rejects(
      client.resumableUpload({
        connection: "demo",
        localPath: local,
        path,
        maxRetries: 0,
        onStart: (id) => {
          uploadId = id;
        },
      }),
      (err: unknown) => err instanceof DropboxConnectorError && err.reason === "",
    );
  } finally {
    client.close();
    await proxy.close();
  }
  assert.notEqual(uploadId, "");
  const resumes: ResumeEvent[] = [];
  const done = await direct.resumableUpload({
    connection: "demo",
    localPath: local,
    path,
    uploadId,
    onResume: (event) => resumes.push(event),
  });
  assert.equal(done.uploadId, uploadId);
  assert.equal(done.result.outcome.case, "uploaded");
  // The second process went on from what the first had persisted.
  assert.equal(resumes.length, 1);
  assert.ok(resumes[0]!.offset > 0, `went on from ${resumes[0]!.offset}`);
  assert.equal(resumes[0]!.error, undefined);
  await assertStoredAsLocal(path);
});
