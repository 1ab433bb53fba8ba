import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join, posix } from "node:path";
import { ContentHasher } from "./content-hash.js";
import { DropboxConnectorError } from "./errors.js";
import {
  type CloudTaskService,
  type DownloadFilesRequest,
  DownloadFilesRequestSchema,
  type ItemMetadata,
  type ItemRef,
  ItemKind,
  ItemRefSchema,
  type LocalFile,
  LocalFileSchema,
  OverwriteMode,
  type OverwritePolicySchema,
  type RemoteFileFilterSchema,
  SizeComparison,
} from "./gen/dropbox_connector/v1/cloud_tasks_pb.js";
import { receiveDownloads } from "./download-receiver.js";

/** VisualCron's download options. */
export interface DownloadToOptions {
  /** `connections/{id}` or the connection's display_name. */
  connection: string;
  /** The local folder the files go into (sub folders are created as needed). */
  localFolder: string;
  /**
   * When to replace a file already in the local folder (default: always). The service
   * decides, from what the helper tells it about the local files.
   */
  overwrite?: MessageInitShape<typeof OverwritePolicySchema>;
  /** Set each written file's modification time to its Dropbox client_modified. */
  keepModifiedDate?: boolean;
  /**
   * Delete each downloaded file from Dropbox once it is verified and in place, pinned to
   * the revision downloaded: a file changed in Dropbox since is kept (source "kept",
   * REVISION_CHANGED).
   */
  deleteSource?: boolean;
  /** Called for each file once it is verified and in place, before its source is deleted. */
  onStored?: (result: DownloadResult) => void | Promise<void>;
  signal?: AbortSignal;
}

/** What happened to one file: downloaded (verified, in place), skipped (policy) or failed. */
export type DownloadStatus = "downloaded" | "skipped" | "failed";

/** What happened to a downloaded file's source in Dropbox. */
export type SourceStatus = "untouched" | "deleted" | "kept";

/** The outcome for one file of downloadFileTo / downloadFolder. */
export interface DownloadResult {
  /** The file's path below the local folder, `/`-separated. */
  relativePath: string;
  /** Where the file is (or would have been) written; "" when its path was refused. */
  localPath: string;
  status: DownloadStatus;
  /** The Dropbox file as downloaded, or as not downloaded when skipped. */
  metadata?: ItemMetadata;
  /** With "skipped": why. */
  skipReason?: string;
  /** With "failed": a DropboxConnectorError from the service, or a local failure. */
  error?: Error;
  /** "untouched" unless deleteSource (or deleteDownloadedSources) acted on it. */
  source: SourceStatus;
  /** With source "kept": why, e.g. reason "REVISION_CHANGED". */
  sourceError?: DropboxConnectorError;
}

/** Files per DownloadFiles call: keeps the request with its local_files far below 8 MiB. */
const BATCH = 1000;

/** Downloads the Dropbox file at `path` ("/a/b.txt") into the local folder under its name. */
export async function downloadFileTo(
  tasks: Client<typeof CloudTaskService>,
  options: DownloadToOptions & { path: string },
): Promise<DownloadResult> {
  const name = posix.basename(options.path);
  if (name === "" || /^(id|ns):/.test(options.path)) {
    throw new Error(`${options.path} does not name a file by its path`);
  }
  const [result] = await download(tasks, options, [create(ItemRefSchema, { path: options.path, relativePath: name })], new Map());
  return result!;
}

/**
 * Downloads every file the filter matches into the local folder, keeping the sub folders
 * below filter.folder: one result per file. Lists first and pins each file to the listed
 * revision, so what is compared with the local file is what is downloaded. Throws only for
 * the call as a whole (listing, a broken stream); a file's own failure is in its result.
 */
export async function downloadFolder(
  tasks: Client<typeof CloudTaskService>,
  options: DownloadToOptions & { filter: MessageInitShape<typeof RemoteFileFilterSchema> },
): Promise<DownloadResult[]> {
  const refs: ItemRef[] = [];
  const sizes = new Map<string, bigint>();
  try {
    for await (const page of tasks.listItems({ connection: options.connection, filter: options.filter }, { signal: options.signal })) {
      for (const item of page.items) {
        if (item.kind === ItemKind.FOLDER) continue;
        const relativePath = item.relativePath || item.name;
        refs.push(create(ItemRefSchema, { path: stableRef(item), rev: item.rev, relativePath }));
        sizes.set(relativePath, item.size);
      }
    }
  } catch (err) {
    throw DropboxConnectorError.from(err);
  }
  return download(tasks, options, refs, sizes);
}

/**
 * Thrown by downloadFileTo / downloadFolder when a call as a whole fails (a broken stream,
 * an unknown connection): the DropboxConnectorError, with the results of every file so far
 * in `results` (some may be downloaded, some sources deleted).
 */
export type DownloadFailure = DropboxConnectorError & { results: DownloadResult[] };

/**
 * Deletes from Dropbox the revisions that `results` downloaded (what deleteSource does
 * right away) and records each outcome in its result: a file changed since is kept with
 * sourceError.reason "REVISION_CHANGED". Results not "downloaded" are left alone.
 */
export async function deleteDownloadedSources(
  tasks: Client<typeof CloudTaskService>,
  options: { connection: string; results: DownloadResult[]; signal?: AbortSignal },
): Promise<void> {
  const bySelected = new Map<string, DownloadResult[]>();
  for (const result of options.results) {
    if (result.status !== "downloaded" || result.metadata === undefined) continue;
    const ref = stableRef(result.metadata);
    bySelected.set(ref, [...(bySelected.get(ref) ?? []), result]);
  }
  if (bySelected.size === 0) return;
  const items = [...bySelected.keys()].map((path) => ({ path, rev: bySelected.get(path)![0]!.metadata!.rev }));
  try {
    const stream = tasks.deleteItems(
      { connection: options.connection, selection: { case: "items", value: { items } } },
      { signal: options.signal },
    );
    for await (const response of stream) {
      for (const result of bySelected.get(response.path) ?? []) {
        if (response.outcome.case === "error") {
          result.source = "kept";
          result.sourceError = DropboxConnectorError.fromItemError(response.outcome.value);
        } else if (response.outcome.case === "deleted") {
          result.source = "deleted";
        }
      }
    }
  } catch (err) {
    const failure = DropboxConnectorError.from(err);
    for (const group of bySelected.values()) {
      for (const result of group) {
        if (result.source === "untouched") {
          result.source = "kept";
          result.sourceError = failure;
        }
      }
    }
    throw failure;
  }
}

async function download(
  tasks: Client<typeof CloudTaskService>,
  options: DownloadToOptions,
  refs: ItemRef[],
  sizes: Map<string, bigint>,
): Promise<DownloadResult[]> {
  const results: DownloadResult[] = [];
  for (let start = 0; start < refs.length; start += BATCH) {
    const done: DownloadResult[] = [];
    try {
      await batch(tasks, options, refs.slice(start, start + BATCH), sizes, done);
    } catch (err) {
      const failure: DownloadFailure = Object.assign(DropboxConnectorError.from(err), { results: [...results, ...done] });
      throw failure;
    }
    results.push(...done);
  }
  return results;
}

async function batch(
  tasks: Client<typeof CloudTaskService>,
  options: DownloadToOptions,
  refs: ItemRef[],
  sizes: Map<string, bigint>,
  results: DownloadResult[],
): Promise<void> {
  const sent: ItemRef[] = [];
  const localFiles: LocalFile[] = [];
  for (const ref of refs) {
    const result: DownloadResult = { relativePath: ref.relativePath, localPath: "", status: "failed", source: "untouched" };
    results.push(result);
    try {
      result.localPath = localPathOf(options.localFolder, ref.relativePath);
      const held = await heldLocally(result.localPath, options.overwrite, sizes.get(ref.relativePath));
      if (held !== undefined) {
        held.relativePath = ref.relativePath;
        localFiles.push(held);
      }
    } catch (err) {
      result.error = err as Error;
      continue;
    }
    sent.push(ref);
  }
  if (sent.length === 0) return;
  const request: DownloadFilesRequest = create(DownloadFilesRequestSchema, {
    connection: options.connection,
    selection: { case: "items", value: { items: sent } },
    overwrite: options.overwrite,
    localFiles,
    keepModifiedDate: options.keepModifiedDate ?? false,
  });
  const wanted = results.filter((r) => r.error === undefined);
  let callError: DropboxConnectorError | undefined;
  try {
    await receiveDownloads(tasks.downloadFiles(request, { signal: options.signal }), sent, wanted, options.onStored);
  } catch (err) {
    callError = DropboxConnectorError.from(err);
  }
  for (const result of wanted) {
    if (result.status === "failed" && result.error === undefined) {
      result.error = callError ?? new Error("the service sent no outcome for this file");
    }
  }
  if (options.deleteSource) {
    try {
      await deleteDownloadedSources(tasks, { connection: options.connection, results, signal: options.signal });
    } catch (err) {
      callError ??= DropboxConnectorError.from(err);
    }
  }
  if (callError !== undefined) throw callError;
}

/**
 * What is held at `local` for the service's overwrite decision: undefined when nothing is
 * there or the policy never looks (always). The content_hash is read only for IF_SIZE with
 * DIFFERENT when the sizes match (or the remote size is unknown): the one case it is used.
 */
async function heldLocally(
  local: string,
  policy: MessageInitShape<typeof OverwritePolicySchema> | undefined,
  remoteSize: bigint | undefined,
): Promise<LocalFile | undefined> {
  let info;
  try {
    info = await stat(local);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if (info.isDirectory()) {
    throw new Error(`${local} is a directory; a file cannot replace it`);
  }
  const mode = policy?.mode ?? OverwriteMode.UNSPECIFIED;
  if (mode === OverwriteMode.UNSPECIFIED || mode === OverwriteMode.ALWAYS) return undefined;
  const size = BigInt(info.size);
  const needsHash =
    mode === OverwriteMode.IF_SIZE &&
    policy?.sizeComparison === SizeComparison.DIFFERENT &&
    (remoteSize === undefined || remoteSize === size);
  return create(LocalFileSchema, {
    size,
    modifiedTime: timestampFromDate(info.mtime),
    contentHash: needsHash ? await contentHashOf(local) : "",
  });
}

async function contentHashOf(local: string): Promise<string> {
  const hasher = new ContentHasher();
  for await (const data of createReadStream(local)) {
    hasher.update(data as Buffer);
  }
  return hasher.digest();
}

/** Names a Dropbox file by its id when it has one: a rename meanwhile cannot retarget it. */
function stableRef(item: ItemMetadata): string {
  return item.id || item.pathLower;
}

/** Joins a service-given relative path below folder, refusing any that would leave it. */
function localPathOf(folder: string, relative: string): string {
  for (const part of relative.split("/")) {
    if (part === "" || part === "." || part === ".." || /[\\\0]/.test(part)) {
      throw new Error(`refusing the unsafe relative path ${JSON.stringify(relative)}`);
    }
  }
  return join(folder, ...relative.split("/"));
}
