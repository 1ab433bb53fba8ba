import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import { Code, DropboxConnectorClient, DropboxConnectorError } from "../src/index.js";
import { ContentHasher } from "../src/content-hash.js";
import { peakGrowthDuring, writeRandomFile } from "./support/files.js";
import { startServer, type TestServer } from "./support/server.js";

const MiB = 1024 * 1024;
let server: TestServer;
let client: DropboxConnectorClient;
let connection: string;
const folder = `/ts-${randomBytes(4).toString("hex")}`;
const bigFile = () => join(server.scratch, "big.bin");

before(async () => {
  server = await startServer();
  client = new DropboxConnectorClient({
    address: server.address,
    caPem: server.caPem,
    token: server.adminToken,
  });
});

after(async () => {
  client?.close();
  await server?.stop();
});

async function hashOf(path: string): Promise<string> {
  return new ContentHasher().update(await readFile(path)).digest();
}

test("create a connection with a Dropbox access token, and use it", async () => {
  const accounts = (await server.emulator("accounts")) as { accounts: { access_token: string }[] };
  const name = `ts-conn-${randomBytes(4).toString("hex")}`;
  const created = await client.createConnection({
    displayName: name,
    group: "finance",
    credentials: { accessToken: accounts.accounts[0]!.access_token },
  });
  assert.match(created.name, /^connections\//);
  assert.equal(created.displayName, name);
  assert.equal(created.credentialState?.hasAccessToken, true);
  // The token itself never comes back.
  assert.equal(created.credentials, undefined);
  connection = created.name;

  const made = await client.createFolder({ connection, path: folder });
  assert.equal(made.created, true);
  assert.equal(made.folder?.pathDisplay, folder);
});

test("stream-upload 20 MiB from a file with bounded client memory", async () => {
  await writeRandomFile(bigFile(), 20 * MiB);
  const { result, peakGrowth, peakRssGrowth, samples } = await peakGrowthDuring(() =>
    client.uploadFile({ connection, localPath: bigFile(), destinationFolder: folder, name: "big.bin" }),
  );
  assert.equal(result.outcome.case, "uploaded");
  const uploaded = result.outcome.value as { size: bigint; contentHash: string; pathDisplay: string };
  assert.equal(uploaded.size, BigInt(20 * MiB));
  assert.equal(uploaded.pathDisplay, `${folder}/big.bin`);
  assert.equal(uploaded.contentHash, await hashOf(bigFile()));
  console.log(
    `upload of 20 MiB: peak growth of live JS memory ${(peakGrowth / MiB).toFixed(1)} MiB, ` +
      `of RSS ${(peakRssGrowth / MiB).toFixed(1)} MiB (${samples} samples)`,
  );
  // Bounded by the chunks in flight (about nine of the default 1 MiB), not by the file.
  assert.ok(peakGrowth < 12 * MiB, `peak live memory grew by ${peakGrowth} bytes`);
});

test("upload a folder tree, then list it as an async iterator", async () => {
  const local = join(server.scratch, "tree");
  await mkdir(join(local, "sub", "deeper"), { recursive: true });
  await writeFile(join(local, "a.csv"), "id,value\n1,one\n");
  await writeFile(join(local, "sub", "b.csv"), "id,value\n2,two\n");
  await writeFile(join(local, "sub", "deeper", "note.txt"), "");
  const results = await client.uploadFolder({
    connection,
    localFolder: local,
    destinationFolder: `${folder}/tree`,
  });
  assert.deepEqual(
    results.map((r) => [r.relativePath, r.outcome.case]),
    [
      ["a.csv", "uploaded"],
      ["sub/b.csv", "uploaded"],
      ["sub/deeper/note.txt", "uploaded"],
    ],
  );

  const names: string[] = [];
  for await (const item of client.listItems({
    connection,
    filter: { folder: `${folder}/tree`, mask: "*.csv", includeSubfolders: true, sortBy: 1 },
  })) {
    names.push(item.relativePath);
  }
  assert.deepEqual(names, ["a.csv", "sub/b.csv"]);

  const top: string[] = [];
  for await (const item of client.listItems({ connection, filter: { folder } })) {
    top.push(`${item.name}:${item.size}`);
  }
  assert.deepEqual(top, [`big.bin:${20 * MiB}`]);
});

test("upload from a Node stream of unknown size, cut into chunks as it arrives", async () => {
  const data = randomBytes(3 * MiB + 17);
  // Pieces of odd sizes, as a pipe or an HTTP body would deliver them.
  const source = Readable.from(
    (function* () {
      for (let at = 0, step = 1000; at < data.length; at += step, step = (step * 31) % 700_001 + 1) {
        yield data.subarray(at, at + step);
      }
    })(),
  );
  const result = await client.uploadStream({ connection, destinationFolder: folder, name: "streamed.bin", source });
  assert.equal(result.outcome.case, "uploaded");
  const uploaded = result.outcome.value as { size: bigint; contentHash: string };
  assert.equal(uploaded.size, BigInt(data.length));
  assert.equal(uploaded.contentHash, new ContentHasher().update(data).digest());
  const destination = join(server.scratch, "streamed.downloaded");
  await client.downloadFile({ connection, path: `${folder}/streamed.bin`, destination });
  assert.ok((await readFile(destination)).equals(data));
});

test("download to a file, verified, has the uploaded bytes", async () => {
  const destination = join(server.scratch, "big.downloaded");
  const metadata = await client.downloadFile({ connection, path: `${folder}/big.bin`, destination });
  assert.equal(metadata.size, BigInt(20 * MiB));
  assert.ok((await readFile(destination)).equals(await readFile(bigFile())), "downloaded bytes differ");
  // Nothing but the destination is left behind.
  const left = (await readdir(server.scratch)).filter((n) => n.includes("big.downloaded"));
  assert.deepEqual(left, ["big.downloaded"]);
});

test("a missing file is PATH_NOT_FOUND, and no local file is created", async () => {
  const destination = join(server.scratch, "never.bin");
  await assert.rejects(
    client.downloadFile({ connection, path: `${folder}/no-such-file.bin`, destination }),
    (err: unknown) => {
      assert.ok(err instanceof DropboxConnectorError, String(err));
      assert.equal(err.reason, "PATH_NOT_FOUND");
      assert.equal(err.code, Code.NotFound);
      assert.match(err.metadata.path ?? "", /no-such-file\.bin/);
      return true;
    },
  );
  assert.deepEqual((await readdir(server.scratch)).filter((n) => n.includes("never.bin")), []);

  // The same reason from a call error (not an item error): listing a missing folder.
  await assert.rejects(
    async () => {
      for await (const _ of client.listItems({ connection, filter: { folder: `${folder}/nope` } })) {
        // nothing to see
      }
    },
    (err: unknown) =>
      err instanceof DropboxConnectorError && err.reason === "PATH_NOT_FOUND" && err.code === Code.NotFound,
  );
});

test("delete, then the item is gone", async () => {
  const outcomes = await client.deleteItems({ connection, paths: [`${folder}/tree/a.csv`, `${folder}/nope.txt`] });
  assert.equal(outcomes.length, 2);
  assert.equal(outcomes[0]!.deleted?.pathDisplay, `${folder}/tree/a.csv`);
  assert.equal(outcomes[1]!.error?.reason, "PATH_NOT_FOUND");
  const left: string[] = [];
  for await (const item of client.listItems({ connection, filter: { folder: `${folder}/tree` } })) {
    left.push(item.name);
  }
  assert.deepEqual(left, []);
});

test("the token decides who may call: a reader cannot upload, a stranger is unknown", async () => {
  const reader = new DropboxConnectorClient({
    address: server.address,
    caPem: server.caPem,
    token: server.readerToken,
  });
  const stranger = new DropboxConnectorClient({
    address: server.address,
    caPem: server.caPem,
    token: randomBytes(32).toString("base64url"),
  });
  try {
    await assert.rejects(
      reader.createFolder({ connection, path: `${folder}/by-reader` }),
      (err: unknown) =>
        err instanceof DropboxConnectorError &&
        err.code === Code.PermissionDenied &&
        err.reason === "CALLER_NOT_ALLOWED",
    );
    await assert.rejects(
      stranger.createFolder({ connection, path: `${folder}/by-stranger` }),
      (err: unknown) =>
        err instanceof DropboxConnectorError &&
        err.code === Code.Unauthenticated &&
        err.reason === "CALLER_UNKNOWN",
    );
  } finally {
    reader.close();
    stranger.close();
  }
});
