import { Code, type Client } from "@connectrpc/connect";
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ContentHasher } from "./content-hash.js";
import { DropboxConnectorError, typed } from "./errors.js";
import type { CloudTaskService, ItemMetadata } from "./gen/dropbox_connector/v1/cloud_tasks_pb.js";

export interface DownloadFileOptions {
  /** `connections/{id}` or the connection's display_name. */
  connection: string;
  /** The Dropbox path ("/a/b.txt") or "id:...". */
  path: string;
  /** A revision to download instead of the current one. */
  rev?: string;
  /** The local file to create or replace. */
  destination: string;
  signal?: AbortSignal;
}

/**
 * Downloads one file to `destination`. The bytes go to a temporary file beside it, which
 * replaces the destination only once its content_hash matches the one Dropbox reported, so
 * a broken or corrupted transfer never leaves a partial file under the destination's name.
 * Resolves to the file's metadata.
 */
export async function downloadFile(
  tasks: Client<typeof CloudTaskService>,
  options: DownloadFileOptions,
): Promise<ItemMetadata> {
  const partial = join(
    dirname(options.destination),
    `.${basename(options.destination)}.${randomBytes(6).toString("hex")}.partial`,
  );
  const out = await open(partial, "wx", 0o600);
  let verified: ItemMetadata | undefined;
  try {
    verified = await typed(() => receive(tasks, options, out));
    await out.sync();
  } finally {
    await out.close();
    if (verified === undefined) {
      await rm(partial, { force: true });
    }
  }
  await rename(partial, options.destination);
  return verified;
}

async function receive(
  tasks: Client<typeof CloudTaskService>,
  options: DownloadFileOptions,
  out: import("node:fs/promises").FileHandle,
): Promise<ItemMetadata> {
  const stream = tasks.downloadFiles(
    {
      connection: options.connection,
      selection: { case: "items", value: { items: [{ path: options.path, rev: options.rev ?? "" }] } },
    },
    { signal: options.signal },
  );
  const hasher = new ContentHasher();
  let metadata: ItemMetadata | undefined;
  let written = 0n;
  for await (const message of stream) {
    switch (message.message.case) {
      case "header":
        metadata = message.message.value.metadata;
        break;
      case "chunk": {
        const { offset, data } = message.message.value;
        if (offset !== written) {
          throw new DropboxConnectorError(
            `chunk at offset ${offset} while ${written} bytes were received`,
            Code.DataLoss,
            "",
          );
        }
        hasher.update(data);
        // One chunk in flight: the file grows as fast as the disk takes it.
        await out.write(data);
        written += BigInt(data.length);
        break;
      }
      case "end": {
        const actual = hasher.digest();
        const expected = message.message.value.contentHash;
        if (metadata === undefined || actual !== expected) {
          throw new DropboxConnectorError(
            `downloaded bytes hash to ${actual}, Dropbox reported ${expected}`,
            Code.DataLoss,
            "CONTENT_HASH_MISMATCH",
            { path: options.path },
          );
        }
        return metadata;
      }
      case "error": {
        const error = message.message.value.error;
        throw error === undefined
          ? new DropboxConnectorError(`download of ${options.path} failed`, Code.Unknown, "")
          : DropboxConnectorError.fromItemError(error);
      }
    }
  }
  throw new DropboxConnectorError(
    `the download of ${options.path} ended before the file was complete`,
    Code.DataLoss,
    "",
    { path: options.path },
  );
}
