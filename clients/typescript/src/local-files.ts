import { createReadStream } from "node:fs";
import { opendir } from "node:fs/promises";
import { join, relative, sep } from "node:path";

/** The service takes at most this much data per message. */
export const CHUNK_SIZE = 2 * 1024 * 1024;

/** A local file and the path it gets under the destination folder. */
export interface LocalFile {
  localPath: string;
  /** `/`-separated, e.g. "sub/a.txt". */
  relativePath: string;
}

/**
 * The file's bytes from `start` in pieces of at most CHUNK_SIZE, read only as fast as the
 * consumer asks for them: the stream holds about one chunk ahead, whatever the file's size.
 */
export async function* readChunks(
  path: string,
  start = 0,
): AsyncGenerator<{ offset: number; data: Buffer }> {
  let offset = start;
  for await (const data of createReadStream(path, { start, highWaterMark: CHUNK_SIZE })) {
    const buf = data as Buffer;
    yield { offset, data: buf };
    offset += buf.length;
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
