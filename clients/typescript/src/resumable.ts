import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, type Client } from "@connectrpc/connect";
import { stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { ContentHasher } from "./content-hash.js";
import { DropboxConnectorError, typed } from "./errors.js";
import {
  type CloudTaskService,
  type FileResult,
  FileResultSchema,
  type OverwritePolicySchema,
  WriteResumableUploadRequestSchema,
  type WriteResumableUploadRequest,
} from "./gen/dropbox_connector/v1/cloud_tasks_pb.js";
import { chunkSizeOf, readChunks } from "./local-files.js";

export interface ResumableUploadOptions {
  /** `connections/{id}` or the connection's display_name. */
  connection: string;
  /** The local file to upload. */
  localPath: string;
  /** The Dropbox path of the file, e.g. "/reports/2026/q3.csv". */
  path: string;
  /** When to replace an existing file; decided again when the upload finishes. */
  overwrite?: MessageInitShape<typeof OverwritePolicySchema>;
  /** Keep the local file's modification time in Dropbox. */
  keepModifiedDate?: boolean;
  /** On a conflict the policy does not resolve, store as "name (2).ext". */
  autorename?: boolean;
  /**
   * Go on with this upload (an id that onStart gave an earlier process) instead of starting
   * a new one.
   */
  uploadId?: string;
  /** Bytes per message, at most 2 MiB (default 1 MiB; see DEFAULT_CHUNK_SIZE). */
  chunkSize?: number;
  /** How many failed streams or queries to recover from before giving up (default 10). */
  maxRetries?: number;
  /** Longest wait a RetryInfo may ask for before the upload gives up instead (default 60 s). */
  maxRetryDelayMs?: number;
  /** Told the upload's id once it exists: keep it to go on after this process dies. */
  onStart?: (uploadId: string) => void;
  /**
   * Told each time the upload goes on after a failure (or, with uploadId, from where an
   * earlier process left it), with the byte it goes on from.
   */
  onResume?: (event: ResumeEvent) => void;
  signal?: AbortSignal;
}

export interface ResumeEvent {
  uploadId: string;
  /** The byte the next stream starts at: what the service had persisted. */
  offset: number;
  /** 1 for the first resume after a failure here; 0 when going on with a given uploadId. */
  attempt: number;
  /** What broke the previous stream; undefined when going on with a given uploadId. */
  error?: DropboxConnectorError;
}

export interface ResumableUploadResult {
  /** Empty when the overwrite policy skipped the file before anything was sent. */
  uploadId: string;
  /** Uploaded or skipped (a failed upload throws). */
  result: FileResult;
  /** How many times the upload went on after a failure. */
  resumes: number;
}

/** Reasons after which the same upload can go on once the service or the network recovers. */
const TRANSIENT_REASONS = new Set([
  "UPLOAD_BUSY",
  "SERVER_BUSY",
  "RATE_LIMITED",
  "STREAM_IDLE",
  "STORE_UNAVAILABLE",
  "DROPBOX_UNAVAILABLE",
  "DROPBOX_TIMEOUT",
  "CANCELLED",
]);

/** Codes of failures that never reached the service's logic (a broken connection). */
const TRANSIENT_TRANSPORT_CODES = new Set([
  Code.Unavailable,
  Code.Internal,
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Aborted,
  Code.Canceled,
]);

export function isTransient(error: DropboxConnectorError): boolean {
  return error.reason === ""
    ? TRANSIENT_TRANSPORT_CODES.has(error.code)
    : TRANSIENT_REASONS.has(error.reason);
}

async function hashFile(path: string): Promise<string> {
  const hasher = new ContentHasher();
  for await (const { data } of readChunks(path)) {
    hasher.update(data);
  }
  return hasher.digest();
}

/** One WriteResumableUpload stream: the file's bytes from `start`, then the finishing message. */
async function* writeMessages(
  uploadId: string,
  localPath: string,
  start: number,
  contentHash: string,
  chunkSize: number,
): AsyncGenerator<WriteResumableUploadRequest> {
  let end = start;
  for await (const { offset, data } of readChunks(localPath, start, chunkSize)) {
    yield create(WriteResumableUploadRequestSchema, {
      uploadId: offset === start ? uploadId : "",
      writeOffset: BigInt(offset),
      data,
    });
    end = offset + data.length;
  }
  yield create(WriteResumableUploadRequestSchema, {
    uploadId: end === start ? uploadId : "",
    writeOffset: BigInt(end),
    finishWrite: true,
    contentHash,
  });
}

function outcome(uploadId: string, result: FileResult, resumes: number): ResumableUploadResult {
  if (result.outcome.case === "error") {
    throw DropboxConnectorError.fromItemError(result.outcome.value);
  }
  return { uploadId, result, resumes };
}

function backoffMs(error: DropboxConnectorError, failures: number, maxRetryDelayMs: number): number {
  if (error.retryDelayMs !== undefined) {
    if (error.retryDelayMs > maxRetryDelayMs) {
      throw error;
    }
    return error.retryDelayMs;
  }
  const base = Math.min(250 * 2 ** (failures - 1), 8_000);
  return base / 2 + Math.random() * (base / 2);
}

/**
 * Uploads a file through a resumable upload that goes on by itself: when a stream breaks
 * (network, a restart of the service, a busy upload), it asks QueryUpload how much the
 * service persisted and sends the rest from there. The file's content_hash is computed
 * first and given at the start, so the service commits only the exact bytes of the file,
 * however many streams carried them.
 */
export async function resumableUpload(
  tasks: Client<typeof CloudTaskService>,
  options: ResumableUploadOptions,
): Promise<ResumableUploadResult> {
  const { signal } = options;
  const chunkSize = chunkSizeOf(options.chunkSize);
  const maxRetries = options.maxRetries ?? 10;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 60_000;
  const info = await stat(options.localPath);
  const contentHash = await hashFile(options.localPath);

  let uploadId = options.uploadId ?? "";
  if (uploadId === "") {
    const started = await typed(() =>
      tasks.startResumableUpload(
        {
          connection: options.connection,
          path: options.path,
          overwrite: options.overwrite,
          modifiedTime: options.keepModifiedDate ? timestampFromDate(info.mtime) : undefined,
          autorename: options.autorename ?? false,
          size: BigInt(info.size),
          contentHash,
        },
        { signal },
      ),
    );
    if (started.skipped !== undefined) {
      const skipped = create(FileResultSchema, {
        relativePath: options.path,
        outcome: { case: "skipped", value: started.skipped },
      });
      return { uploadId: "", result: skipped, resumes: 0 };
    }
    uploadId = started.uploadId;
    options.onStart?.(uploadId);
  }

  // A given uploadId may already have bytes (or be finished): ask before the first stream.
  let lastError: DropboxConnectorError | undefined;
  let mustQuery = options.uploadId !== undefined;
  let offset = 0;
  let failures = 0;
  let finished: FileResult | undefined;
  while (finished === undefined) {
    try {
      if (mustQuery) {
        const state = await tasks.queryUpload({ uploadId }, { signal });
        if (state.result !== undefined) {
          finished = state.result;
          break;
        }
        offset = Number(state.persistedSize);
        mustQuery = false;
        options.onResume?.({ uploadId, offset, attempt: failures, error: lastError });
      }
      const response = await tasks.writeResumableUpload(
        writeMessages(uploadId, options.localPath, offset, contentHash, chunkSize),
        { signal },
      );
      finished = response.result;
      if (finished === undefined) {
        throw new DropboxConnectorError(
          "the upload stream ended without an outcome",
          Code.Unavailable,
          "",
        );
      }
    } catch (err) {
      const error = DropboxConnectorError.from(err);
      if (signal?.aborted || !isTransient(error) || failures >= maxRetries) {
        throw error;
      }
      failures += 1;
      lastError = error;
      mustQuery = true;
      await sleep(backoffMs(error, failures, maxRetryDelayMs), undefined, { signal });
    }
  }
  return outcome(uploadId, finished, failures);
}
