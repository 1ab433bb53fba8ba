import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, rename, rm, utimes } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ContentHasher } from "./content-hash.js";
import type { DownloadResult } from "./download-options.js";
import { DropboxConnectorError } from "./errors.js";
import type {
  DataChunk,
  DownloadEnd,
  DownloadError,
  DownloadFilesResponse,
  DownloadHeader,
  DownloadSkipped,
  ItemRef,
} from "./gen/dropbox_connector/v1/cloud_tasks_pb.js";

/** The file whose chunks are arriving, written to a temporary file beside its target. */
interface Current {
  result: DownloadResult;
  /** Undefined once the file failed here: its remaining chunks are dropped. */
  out?: FileHandle;
  partial: string;
  hasher: ContentHasher;
  received: bigint;
  modified?: Date;
}

/**
 * Writes the files of one DownloadFiles stream into their results' local paths: each to a
 * temporary file renamed into place only once it matches DownloadEnd's content_hash (and,
 * when the header carries modified_time, dated). `refs[i]` is what was asked for
 * `results[i]`. Throws when the stream itself fails.
 */
export async function receiveDownloads(
  stream: AsyncIterable<DownloadFilesResponse>,
  refs: ItemRef[],
  results: DownloadResult[],
  onStored?: (result: DownloadResult) => void | Promise<void>,
): Promise<void> {
  const byRelative = new Map(results.map((r) => [r.relativePath, r]));
  const bySelected = new Map(refs.map((ref, i) => [ref.path.toLowerCase(), results[i]!]));
  let current: Current | undefined;

  const failHere = async (error: Error) => {
    if (current === undefined) return;
    await abandon(current);
    current.result.status = "failed";
    current.result.error = error;
  };

  const start = async (header: DownloadHeader) => {
    if (current !== undefined) await abandon(current);
    const metadata = header.metadata;
    const result = byRelative.get(metadata?.relativePath ?? "") ?? {
      // Not asked for: read and dropped.
      relativePath: "",
      localPath: "",
      status: "failed" as const,
      source: "untouched" as const,
    };
    result.metadata = metadata;
    const partial = join(
      dirname(result.localPath),
      `.${basename(result.localPath)}.${randomBytes(6).toString("hex")}.partial`,
    );
    current = {
      result,
      partial,
      hasher: new ContentHasher(),
      received: 0n,
      modified: header.modifiedTime === undefined ? undefined : timestampDate(header.modifiedTime),
    };
    if (result.localPath === "") {
      await failHere(new Error(`the service sent ${metadata?.pathDisplay}, which was not asked for`));
      return;
    }
    try {
      await mkdir(dirname(result.localPath), { recursive: true });
      current.out = await open(partial, "wx", 0o600);
    } catch (err) {
      await failHere(err as Error);
    }
  };

  const write = async ({ offset, data }: DataChunk) => {
    if (current?.out === undefined) return;
    if (offset !== current.received) {
      await failHere(new Error(`chunk at offset ${offset} while ${current.received} bytes were received`));
      return;
    }
    try {
      current.hasher.update(data);
      // One chunk in flight: the file grows as fast as the disk takes it.
      await current.out.write(data);
      current.received += BigInt(data.length);
    } catch (err) {
      await failHere(err as Error);
    }
  };

  const finish = async (end: DownloadEnd) => {
    const file = current;
    current = undefined;
    if (file?.out === undefined) return;
    try {
      await store(file, end);
    } catch (err) {
      current = file;
      await failHere(err as Error);
      current = undefined;
      return;
    }
    file.result.status = "downloaded";
    file.result.error = undefined;
    await onStored?.(file.result);
  };

  const fail = async (failure: DownloadError) => {
    const result = current?.result ?? bySelected.get(failure.path.toLowerCase());
    if (current !== undefined) await abandon(current);
    current = undefined;
    if (result === undefined) return;
    const error =
      failure.error === undefined
        ? new DropboxConnectorError(`the download of ${failure.path} failed`, Code.Unknown, "")
        : DropboxConnectorError.fromItemError(failure.error);
    result.status = "failed";
    result.error = error.metadata.path === undefined
      ? new DropboxConnectorError(error.message, error.code, error.reason, { ...error.metadata, path: failure.path })
      : error;
  };

  const skip = (skipped: DownloadSkipped) => {
    const existing = skipped.skipped?.existing;
    const result = byRelative.get(existing?.relativePath ?? "") ?? bySelected.get(skipped.path.toLowerCase());
    if (result === undefined) return;
    result.status = "skipped";
    result.skipReason = skipped.skipped?.reason ?? "";
    result.metadata = existing;
  };

  try {
    for await (const response of stream) {
      const message = response.message;
      switch (message.case) {
        case "header":
          await start(message.value);
          break;
        case "chunk":
          await write(message.value);
          break;
        case "end":
          await finish(message.value);
          break;
        case "error":
          await fail(message.value);
          break;
        case "skipped":
          skip(message.value);
          break;
      }
    }
  } finally {
    if (current !== undefined) await abandon(current);
  }
}

/** Checks a finished file against DownloadEnd, dates it when asked and renames it into place. */
async function store(file: Current, end: DownloadEnd): Promise<void> {
  if (end.bytesSent !== file.received) {
    throw new Error(`received ${file.received} bytes, the service sent ${end.bytesSent}`);
  }
  const actual = file.hasher.digest();
  if (actual !== end.contentHash) {
    throw new DropboxConnectorError(
      `downloaded bytes hash to ${actual}, Dropbox reported ${end.contentHash}`,
      Code.DataLoss,
      "CONTENT_HASH_MISMATCH",
      { path: file.result.metadata?.pathDisplay ?? file.result.relativePath },
    );
  }
  const out = file.out!;
  await out.sync();
  await out.close();
  file.out = undefined;
  if (file.modified !== undefined) {
    await utimes(file.partial, file.modified, file.modified);
  }
  await rename(file.partial, file.result.localPath);
}

/** Drops the temporary file of a file that will not be stored. */
async function abandon(file: Current): Promise<void> {
  if (file.out !== undefined) {
    await file.out.close().catch(() => undefined);
    file.out = undefined;
  }
  await rm(file.partial, { force: true });
}
