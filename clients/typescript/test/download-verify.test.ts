import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { Code, DownloadFilesResponseSchema, DropboxConnectorError, type CloudTaskService } from "../src/index.js";
import { ContentHasher } from "../src/content-hash.js";
import { downloadFile } from "../src/download.js";

/**
 * The client's own check, behind the service's: a stream whose DownloadEnd names another
 * content_hash than the bytes have (as a faulty proxy or service could send) must not
 * replace the local file. Only DownloadFiles is answered; it is all downloadFile calls.
 */
function answering(data: Buffer, contentHash: string): Client<typeof CloudTaskService> {
  const downloadFiles = async function* () {
    yield create(DownloadFilesResponseSchema, {
      message: { case: "header", value: { metadata: { name: "a.bin", size: BigInt(data.length) } } },
    });
    yield create(DownloadFilesResponseSchema, { message: { case: "chunk", value: { offset: 0n, data } } });
    yield create(DownloadFilesResponseSchema, {
      message: { case: "end", value: { contentHash, bytesSent: BigInt(data.length) } },
    });
  };
  return { downloadFiles } as unknown as Client<typeof CloudTaskService>;
}

test("a download whose bytes do not match DownloadEnd's content_hash keeps the old file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dbxc-ts-verify-"));
  try {
    const destination = join(dir, "a.bin");
    await writeFile(destination, "old");
    const data = Buffer.from("new bytes");
    const wrong = new ContentHasher().update(Buffer.from("other bytes")).digest();
    await assert.rejects(
      downloadFile(answering(data, wrong), { connection: "c", path: "/a.bin", destination }),
      (err: unknown) =>
        err instanceof DropboxConnectorError && err.reason === "CONTENT_HASH_MISMATCH" && err.code === Code.DataLoss,
    );
    assert.equal(await readFile(destination, "utf8"), "old");
    assert.deepEqual(await readdir(dir), ["a.bin"]);

    const right = new ContentHasher().update(data).digest();
    await downloadFile(answering(data, right), { connection: "c", path: "/a.bin", destination });
    assert.equal(await readFile(destination, "utf8"), "new bytes");
    assert.deepEqual(await readdir(dir), ["a.bin"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
