import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type DownloadFailure,
  type DownloadResult,
  DropboxConnectorClient,
  type ItemMetadata,
  OverwriteMode,
  SizeComparison,
} from "../src/index.js";
import { startServer, type TestServer } from "./support/server.js";

// VisualCron's download options against a real server (TLS, bearer token) and emulator.
let server: TestServer;
let client: DropboxConnectorClient;
const connection = "demo";
const HOUR = 3600_000;
/** The Dropbox modification time of the remote files of these tests. */
const remoteModified = new Date("2024-01-01T12:00:00Z");

before(async () => {
  server = await startServer();
  client = new DropboxConnectorClient({ address: server.address, caPem: server.caPem, token: server.adminToken });
});

after(async () => {
  client?.close();
  await server?.stop();
});

const uniqueFolder = (prefix: string) => `/${prefix}-${randomBytes(4).toString("hex")}`;
const scratchDir = () => mkdtemp(join(server.scratch, "local-"));

/** Writes a local file dated `modified`. */
async function writeDated(dir: string, name: string, contents: string, modified: Date): Promise<string> {
  const path = join(dir, ...name.split("/"));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, contents);
  await utimes(path, modified, modified);
  return path;
}

/** Uploads `name` into `folder`, replacing it, dated `modified` in Dropbox (client_modified). */
async function putRemote(folder: string, name: string, contents: string, modified: Date): Promise<ItemMetadata> {
  const local = await writeDated(await scratchDir(), name, contents, modified);
  const result = await client.uploadFile({
    connection,
    localPath: local,
    name,
    destinationFolder: folder,
    keepModifiedDate: true,
    overwrite: { mode: OverwriteMode.ALWAYS },
  });
  assert.equal(result.outcome.case, "uploaded");
  return result.outcome.value as ItemMetadata;
}

function byPath(results: DownloadResult[], count: number): Map<string, DownloadResult> {
  assert.equal(results.length, count, JSON.stringify(results.map((r) => [r.relativePath, r.status])));
  return new Map(results.map((r) => [r.relativePath, r]));
}

test("if-newer skips a local file newer than Dropbox's and replaces an older one", async () => {
  const folder = uniqueFolder("ts-if-newer");
  await putRemote(folder, "newer-here.txt", "remote one", remoteModified);
  await putRemote(folder, "older-here.txt", "remote two", remoteModified);
  const dir = await scratchDir();
  const newer = await writeDated(dir, "newer-here.txt", "local, newer", new Date(remoteModified.getTime() + HOUR));
  const older = await writeDated(dir, "older-here.txt", "local, older", new Date(remoteModified.getTime() - HOUR));

  const results = byPath(
    await client.downloadFolder({ connection, filter: { folder }, localFolder: dir, overwrite: { mode: OverwriteMode.IF_NEWER } }),
    2,
  );
  const skipped = results.get("newer-here.txt")!;
  assert.equal(skipped.status, "skipped");
  assert.ok(skipped.skipReason, "a skipped file says why");
  assert.equal(skipped.metadata?.name, "newer-here.txt");
  assert.equal(await readFile(newer, "utf8"), "local, newer");
  const replaced = results.get("older-here.txt")!;
  assert.equal(replaced.status, "downloaded", String(replaced.error));
  assert.equal(replaced.localPath, older);
  assert.equal(await readFile(older, "utf8"), "remote two");
});

test("never leaves an existing file untouched and fetches the ones not held", async () => {
  const folder = uniqueFolder("ts-never");
  await putRemote(folder, "held.txt", "remote, should not land", remoteModified);
  await putRemote(folder, "sub/new.txt", "remote, new here", remoteModified);
  const dir = await scratchDir();
  // Older and smaller than the remote file: only NEVER keeps it.
  const held = await writeDated(dir, "held.txt", "mine", new Date(remoteModified.getTime() - 24 * HOUR));

  const results = byPath(
    await client.downloadFolder({
      connection,
      filter: { folder, includeSubfolders: true },
      localFolder: dir,
      overwrite: { mode: OverwriteMode.NEVER },
    }),
    2,
  );
  assert.equal(results.get("held.txt")!.status, "skipped");
  assert.equal(await readFile(held, "utf8"), "mine");
  assert.equal(results.get("sub/new.txt")!.status, "downloaded", String(results.get("sub/new.txt")!.error));
  assert.equal(await readFile(join(dir, "sub", "new.txt"), "utf8"), "remote, new here");
});

test("keep modified date sets the file's mtime to Dropbox's client_modified", async () => {
  const folder = uniqueFolder("ts-keep-dates");
  const dated = new Date("2021-03-04T05:06:07Z");
  const uploaded = await putRemote(folder, "dated.txt", "from 2021", dated);
  const clientModified = timestampDate(uploaded.clientModified!);
  assert.equal(clientModified.getTime(), dated.getTime());

  const kept = await client.downloadFileTo({ connection, path: `${folder}/dated.txt`, localFolder: await scratchDir(), keepModifiedDate: true });
  assert.equal(kept.status, "downloaded", String(kept.error));
  assert.equal(await readFile(kept.localPath, "utf8"), "from 2021");
  assert.equal((await stat(kept.localPath)).mtime.getTime(), clientModified.getTime());

  // Without the option the file is dated when it was written.
  const plain = await client.downloadFileTo({ connection, path: `${folder}/dated.txt`, localFolder: await scratchDir() });
  assert.equal(plain.status, "downloaded");
  assert.notEqual((await stat(plain.localPath)).mtime.getTime(), clientModified.getTime());
});

test("delete source deletes only the revision downloaded; a file changed meanwhile is kept and reported", async () => {
  const folder = uniqueFolder("ts-delete-source");
  await putRemote(folder, "stable.txt", "stays as downloaded", remoteModified);
  await putRemote(folder, "changing.txt", "as downloaded", remoteModified);
  const dir = await scratchDir();
  const stored: string[] = [];

  const results = byPath(
    await client.downloadFolder({
      connection,
      filter: { folder },
      localFolder: dir,
      deleteSource: true,
      // After verification and the rename, before the deletion: change one file in Dropbox.
      onStored: async (result) => {
        stored.push(result.relativePath);
        assert.ok((await readFile(result.localPath)).length > 0);
        if (result.relativePath === "changing.txt") {
          await putRemote(folder, "changing.txt", "changed meanwhile", new Date(remoteModified.getTime() + HOUR));
        }
      },
    }),
    2,
  );
  assert.deepEqual(stored.sort(), ["changing.txt", "stable.txt"]);
  const stable = results.get("stable.txt")!;
  assert.equal(stable.status, "downloaded");
  assert.equal(stable.source, "deleted", String(stable.sourceError));
  const changed = results.get("changing.txt")!;
  assert.equal(changed.status, "downloaded");
  assert.equal(changed.source, "kept");
  assert.equal(changed.sourceError?.reason, "REVISION_CHANGED");
  assert.equal(changed.sourceError?.metadata.expected_rev, changed.metadata?.rev);
  assert.equal(await readFile(join(dir, "changing.txt"), "utf8"), "as downloaded");
  assert.equal(await readFile(join(dir, "stable.txt"), "utf8"), "stays as downloaded");

  const left: string[] = [];
  for await (const item of client.listItems({ connection, filter: { folder } })) left.push(item.name);
  assert.deepEqual(left, ["changing.txt"]);
  const again = await client.downloadFileTo({ connection, path: `${folder}/changing.txt`, localFolder: await scratchDir() });
  assert.equal(await readFile(again.localPath, "utf8"), "changed meanwhile");
});

test("deleteDownloadedSources later keeps a file changed since the download", async () => {
  const folder = uniqueFolder("ts-delete-later");
  await putRemote(folder, "report.csv", "v1", remoteModified);
  const result = await client.downloadFileTo({ connection, path: `${folder}/report.csv`, localFolder: await scratchDir() });
  assert.equal(result.status, "downloaded");
  assert.equal(result.source, "untouched");
  await putRemote(folder, "report.csv", "v2", new Date(remoteModified.getTime() + HOUR));

  await client.deleteDownloadedSources({ connection, results: [result] });
  assert.equal(result.source, "kept");
  assert.equal(result.sourceError?.reason, "REVISION_CHANGED");
  const left: bigint[] = [];
  for await (const item of client.listItems({ connection, filter: { folder } })) left.push(item.size);
  assert.deepEqual(left, [2n]);
});

test("a missing file is a failed result with its reason, and nothing is written", async () => {
  const dir = await scratchDir();
  const result = await client.downloadFileTo({
    connection,
    path: `${uniqueFolder("ts-absent")}/gone.txt`,
    localFolder: dir,
    deleteSource: true,
  });
  assert.equal(result.status, "failed");
  assert.equal((result.error as { reason?: string }).reason, "PATH_NOT_FOUND");
  assert.equal(result.source, "untouched");
  assert.deepEqual(await readdir(dir), []);
});

test("if-size different sends the local content_hash: identical is skipped, same size other bytes replaced", async () => {
  const folder = uniqueFolder("ts-if-size");
  await putRemote(folder, "same.txt", "remote bytes", remoteModified);
  await putRemote(folder, "other.txt", "remote bytes", remoteModified);
  const dir = await scratchDir();
  await writeDated(dir, "same.txt", "remote bytes", remoteModified);
  const other = await writeDated(dir, "other.txt", "local!bytes!", remoteModified);

  const results = byPath(
    await client.downloadFolder({
      connection,
      filter: { folder },
      localFolder: dir,
      overwrite: { mode: OverwriteMode.IF_SIZE, sizeComparison: SizeComparison.DIFFERENT },
    }),
    2,
  );
  assert.equal(results.get("same.txt")!.status, "skipped");
  assert.equal(results.get("other.txt")!.status, "downloaded", String(results.get("other.txt")!.error));
  assert.equal(await readFile(other, "utf8"), "remote bytes");
});

test("a call that fails as a whole throws a typed error carrying the results so far", async () => {
  await assert.rejects(
    client.downloadFileTo({ connection: "no-such-connection", path: "/a.txt", localFolder: await scratchDir() }),
    (err: DownloadFailure) => {
      assert.equal(err.reason, "CONNECTION_NOT_FOUND");
      assert.equal(err.results.length, 1);
      assert.equal(err.results[0]!.status, "failed");
      assert.equal(err.results[0]!.error, err);
      return true;
    },
  );
});
