import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, type Client } from "@connectrpc/connect";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { ContentHasher } from "./content-hash.js";
import { DropboxConnectorError, typed } from "./errors.js";
import {
  type CloudTaskService,
  type FileResult,
  type OverwritePolicySchema,
  UploadFilesRequestSchema,
  type UploadFilesRequest,
} from "./gen/dropbox_connector/v1/cloud_tasks_pb.js";
import { chunkSizeOf, type LocalFile, readChunks, walkFiles } from "./local-files.js";

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

/**
 * The UploadFiles stream for `files`: the spec, then per file its header, its bytes read
 * lazily chunk by chunk, and an end carrying the content_hash computed on the way, so
 * the service commits nothing that differs from what was read here.
 */
async function* uploadMessages(
  options: UploadOptions,
  files: AsyncIterable<LocalFile> | Iterable<LocalFile>,
): AsyncGenerator<UploadFilesRequest> {
  const chunkSize = chunkSizeOf(options.chunkSize);
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
  for await (const file of files) {
    const info = await stat(file.localPath);
    yield create(UploadFilesRequestSchema, {
      message: {
        case: "fileHeader",
        value: {
          relativePath: file.relativePath,
          size: BigInt(info.size),
          modifiedTime: timestampFromDate(info.mtime),
        },
      },
    });
    const hasher = new ContentHasher();
    for await (const { offset, data } of readChunks(file.localPath, 0, chunkSize)) {
      hasher.update(data);
      yield create(UploadFilesRequestSchema, {
        message: { case: "chunk", value: { offset: BigInt(offset), data } },
      });
    }
    yield create(UploadFilesRequestSchema, {
      message: { case: "fileEnd", value: { contentHash: hasher.digest() } },
    });
  }
}

/**
 * Sends the stream and gathers every file's result. The one place that reads UploadFiles
 * answers, so that a change in how the service returns them touches only this.
 */
async function sendUpload(
  tasks: Client<typeof CloudTaskService>,
  messages: AsyncIterable<UploadFilesRequest>,
  signal?: AbortSignal,
): Promise<FileResult[]> {
  const response = await tasks.uploadFiles(messages, { signal });
  return response.results;
}

/**
 * Uploads every file under `localFolder`, keeping its layout below the destination folder.
 * One result per file; a failed file is a result with an `error` outcome, not a throw.
 */
export function uploadFolder(
  tasks: Client<typeof CloudTaskService>,
  options: UploadOptions & { localFolder: string },
): Promise<FileResult[]> {
  return typed(() =>
    sendUpload(tasks, uploadMessages(options, walkFiles(options.localFolder)), options.signal),
  );
}

/**
 * Uploads one file as `name` (default: its local name) into the destination folder.
 * Resolves to its result (uploaded or skipped); a failed file throws DropboxConnectorError.
 */
export async function uploadFile(
  tasks: Client<typeof CloudTaskService>,
  options: UploadOptions & { localPath: string; name?: string },
): Promise<FileResult> {
  const file = { localPath: options.localPath, relativePath: options.name ?? basename(options.localPath) };
  const results = await typed(() =>
    sendUpload(tasks, uploadMessages(options, [file]), options.signal),
  );
  const result = results.find((r) => r.relativePath === file.relativePath);
  if (result === undefined) {
    throw new DropboxConnectorError(`the service returned no result for ${file.relativePath}`, Code.Internal, "");
  }
  if (result.outcome.case === "error") {
    throw DropboxConnectorError.fromItemError(result.outcome.value);
  }
  return result;
}
