import { open, opendir } from "node:fs/promises";
import { join, relative, sep } from "node:path";

/** The service takes at most this much data per message. */
export const MAX_CHUNK_SIZE = 2 * 1024 * 1024;

/**
 * What the helpers send per message unless told otherwise. Half the maximum, because
 * connect-es holds several copies of each message on its way out (the message, its
 * serialized form, its gRPC envelope, the HTTP/2 queue): measured, an upload stream holds
 * about nine chunks' worth at its peak, ~9 MiB at 1 MiB and ~16 MiB at 2 MiB, whatever the
 * file's size.
 */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;

/** A chunk size from options, checked against what the service accepts. */
export function chunkSizeOf(requested: number | undefined): number {
  const size = requested ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_CHUNK_SIZE) {
    throw new RangeError(`chunkSize must be an integer from 1 to ${MAX_CHUNK_SIZE}, not ${size}`);
  }
  return size;
}

/** A local file and the path it gets under the destination folder. */
export interface LocalFile {
  localPath: string;
  /** `/`-separated, e.g. "sub/a.txt". */
  relativePath: string;
}

/**
 * The file's bytes from `start` in pieces of `chunkSize` (the last one shorter), each read
 * only when the consumer asks for it. No read-ahead: while a gRPC stream waits on flow
 * control, nothing more of the file is in memory.
 */
export async function* readChunks(
  path: string,
  start = 0,
  chunkSize = DEFAULT_CHUNK_SIZE,
): AsyncGenerator<{ offset: number; data: Buffer }> {
  const file = await open(path, "r");
  try {
    for (let offset = start; ; ) {
      const buffer = Buffer.allocUnsafe(chunkSize);
      let filled = 0;
      while (filled < chunkSize) {
        const { bytesRead } = await file.read(buffer, filled, chunkSize - filled, offset + filled);
        if (bytesRead === 0) {
          break;
        }
        filled += bytesRead;
      }
      if (filled === 0) {
        return;
      }
      yield { offset, data: buffer.subarray(0, filled) };
      offset += filled;
      if (filled < chunkSize) {
        return;
      }
    }
  } finally {
    await file.close();
  }
}

/**
 * The bytes of `source` (a Node stream or any async iterable) as chunks of exactly
 * `chunkSize` (the last one shorter), holding at most one chunk's worth of its pieces.
 */
export async function* rechunk(
  source: AsyncIterable<Uint8Array | string>,
  chunkSize: number,
): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of source) {
    let rest = typeof piece === "string" ? Buffer.from(piece) : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    while (rest.length > 0) {
      const take = Math.min(chunkSize - pendingBytes, rest.length);
      pending.push(rest.subarray(0, take));
      pendingBytes += take;
      rest = rest.subarray(take);
      if (pendingBytes === chunkSize) {
        yield Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) {
    yield Buffer.concat(pending, pendingBytes);
  }
}

/** Every regular file under `root`, depth first in name order, with `/`-separated paths. */
export async function* walkFiles(root: string, dir = root): AsyncGenerator<LocalFile> {
  const entries = [];
  for await (const entry of await opendir(dir)) {
    entries.push(entry);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const localPath = join(dir, entry.name);
    if (entry.isDirectory()) {
      yield* walkFiles(root, localPath);
    } else if (entry.isFile()) {
      yield { localPath, relativePath: relative(root, localPath).split(sep).join("/") };
    }
  }
}
