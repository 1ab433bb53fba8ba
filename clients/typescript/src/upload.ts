import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, type Client } from "@connectrpc/connect";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import { ContentHasher } from "./content-hash.js";
import { DropboxConnectorError, typed } from "./errors.js";
import {
  type CloudTaskService,
  type FileResult,
  type OverwritePolicySchema,
  UploadFilesRequestSchema,
  type UploadFilesRequest,
} from "./gen/dropbox_connector/v1/cloud_tasks_pb.js";
import { chunkSizeOf, type LocalFile, readChunks, rechunk, walkFiles } from "./local-files.js";

export interface UploadOptions {
  /** `connections/{id}` or the connection's display_name. */
  connection: string;
  /** The Dropbox folder the files go into ("" or "/" for the root); created as needed. */
  destinationFolder: string;
  /** When to replace existing files (default: always). */
  overwrite?: MessageInitShape<typeof OverwritePolicySchema>;
  /** Keep each local file's modification time in Dropbox. */
  keepModifiedDate?: boolean;
  /** On a conflict the policy does not resolve, store as "name (2).ext". */
  autorename?: boolean;
  /** Bytes per message, at most 2 MiB (default 1 MiB; see DEFAULT_CHUNK_SIZE). */
  chunkSize?: number;
  signal?: AbortSignal;
}

export interface UploadStreamOptions extends UploadOptions {
  /** The bytes: a Readable, or any async iterable of bytes. */
  source: Readable | AsyncIterable<Uint8Array | string>;
  /** The file's name (or `/`-separated path) under the destination folder. */
  name: string;
  /** The size, when known ahead. */
  size?: number;
  /** Kept in Dropbox with keepModifiedDate. */
  modifiedTime?: Date;
}

/** One file of an UploadFiles stream: where it goes and its bytes, produced on demand. */
interface UploadEntry {
  relativePath: string;
  /** Known ahead for a local file; lets the service pick its upload route. */
  size?: number;
  modifiedTime?: Date;
  chunks: AsyncIterable<Uint8Array>;
}

async function localEntry(file: LocalFile, chunkSize: number): Promise<UploadEntry> {
  const info = await stat(file.localPath);
  const chunks = (async function* () {
    for await (const { data } of readChunks(file.localPath, 0, chunkSize)) {
      yield data;
    }
  })();
  return { relativePath: file.relativePath, size: info.size, modifiedTime: info.mtime, chunks };
}

/**
 * The UploadFiles stream for `entries`: the spec, then per file its header, its bytes
 * chunk by chunk as the stream asks for them, and an end carrying the content_hash computed
 * on the way, so the service commits nothing that differs from what was read here.
 */
async function* uploadMessages(
  options: UploadOptions,
  entries: AsyncIterable<UploadEntry>,
): AsyncGenerator<UploadFilesRequest> {
  yield create(UploadFilesRequestSchema, {
    message: {
      case: "spec",
      value: {
        connection: options.connection,
        destinationFolder: options.destinationFolder,
        overwrite: options.overwrite,
        keepModifiedDate: options.keepModifiedDate ?? false,
        autorename: options.autorename ?? false,
      },
    },
  });
  for await (const entry of entries) {
    yield create(UploadFilesRequestSchema, {
      message: {
        case: "fileHeader",
        value: {
          relativePath: entry.relativePath,
          size: entry.size === undefined ? undefined : BigInt(entry.size),
          modifiedTime: entry.modifiedTime === undefined ? undefined : timestampFromDate(entry.modifiedTime),
        },
      },
    });
    const hasher = new ContentHasher();
    let offset = 0;
    for await (const data of entry.chunks) {
      hasher.update(data);
      yield create(UploadFilesRequestSchema, {
        message: { case: "chunk", value: { offset: BigInt(offset), data } },
      });
      offset += data.length;
    }
    yield create(UploadFilesRequestSchema, {
      message: { case: "fileEnd", value: { contentHash: hasher.digest() } },
    });
  }
}

async function* localEntries(
  files: AsyncIterable<LocalFile> | Iterable<LocalFile>,
  chunkSize: number,
): AsyncGenerator<UploadEntry> {
  for await (const file of files) {
    yield await localEntry(file, chunkSize);
  }
}

/**
 * Sends the stream and gathers every file's result, reading answers while sending (the
 * service answers each file once it is finished). The one place that reads UploadFiles
 * answers, so that a change in how the service returns them touches only this.
 */
async function sendUpload(
  tasks: Client<typeof CloudTaskService>,
  messages: AsyncIterable<UploadFilesRequest>,
  signal?: AbortSignal,
): Promise<FileResult[]> {
  const results: FileResult[] = [];
  for await (const response of tasks.uploadFiles(messages, { signal })) {
    results.push(...response.results);
  }
  return results;
}

/**
 * Uploads every file under `localFolder`, keeping its layout below the destination folder.
 * One result per file; a failed file is a result with an `error` outcome, not a throw.
 */
export function uploadFolder(
  tasks: Client<typeof CloudTaskService>,
  options: UploadOptions & { localFolder: string },
): Promise<FileResult[]> {
  const chunkSize = chunkSizeOf(options.chunkSize);
  const entries = localEntries(walkFiles(options.localFolder), chunkSize);
  return typed(() => sendUpload(tasks, uploadMessages(options, entries), options.signal));
}

/**
 * Uploads one file as `name` (default: its local name) into the destination folder.
 * Resolves to its result (uploaded or skipped); a failed file throws DropboxConnectorError.
 */
export async function uploadFile(
  tasks: Client<typeof CloudTaskService>,
  options: UploadOptions & { localPath: string; name?: string },
): Promise<FileResult> {
  const chunkSize = chunkSizeOf(options.chunkSize);
  const file = { localPath: options.localPath, relativePath: options.name ?? basename(options.localPath) };
  return singleResult(tasks, options, localEntries([file], chunkSize), file.relativePath);
}

/**
 * Uploads what a Node stream (or any async iterable of bytes) yields as the file `name`,
 * re-cut into chunks as they arrive: a pipe, an HTTP body, a gzip stream. Its size need not
 * be known; the content_hash is computed on the way as for a file.
 */
export async function uploadStream(
  tasks: Client<typeof CloudTaskService>,
  options: UploadStreamOptions,
): Promise<FileResult> {
  const entry: UploadEntry = {
    relativePath: options.name,
    size: options.size,
    modifiedTime: options.modifiedTime,
    chunks: rechunk(options.source, chunkSizeOf(options.chunkSize)),
  };
  return singleResult(tasks, options, (async function* () { yield entry; })(), options.name);
}

async function singleResult(
  tasks: Client<typeof CloudTaskService>,
  options: UploadOptions,
  entries: AsyncIterable<UploadEntry>,
  relativePath: string,
): Promise<FileResult> {
  const results = await typed(() => sendUpload(tasks, uploadMessages(options, entries), options.signal));
  const result = results.find((r) => r.relativePath === relativePath);
  if (result === undefined) {
    throw new DropboxConnectorError(`the service returned no result for ${relativePath}`, Code.Internal, "");
  }
  if (result.outcome.case === "error") {
    throw DropboxConnectorError.fromItemError(result.outcome.value);
  }
  return result;
}
