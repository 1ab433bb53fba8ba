import { randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { setTimeout as sleep } from "node:timers/promises";

/** Writes `size` random bytes to `path` a MiB at a time, so the test holds little itself. */
export async function writeRandomFile(path: string, size: number): Promise<void> {
  const out = await open(path, "w");
  try {
    for (let written = 0; written < size; ) {
      const piece = randomBytes(Math.min(1024 * 1024, size - written));
      await out.write(piece);
      written += piece.length;
    }
  } finally {
    await out.close();
  }
}

setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

/**
 * Memory this process holds live: the JS heap plus Buffers and other ArrayBuffers, after
 * full collections. Node frees a dead Buffer's memory a moment after the collection that
 * found it, hence the pauses: without them garbage would be counted as held.
 */
export async function liveBytes(): Promise<number> {
  collectGarbage();
  await sleep(5);
  collectGarbage();
  await sleep(5);
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/**
 * Runs `work` while sampling live memory and resolves to its result and the peak growth
 * over the start (and, for information, the peak growth of the resident set).
 */
export async function peakGrowthDuring<T>(
  work: () => Promise<T>,
): Promise<{ result: T; peakGrowth: number; peakRssGrowth: number; samples: number }> {
  const baseline = await liveBytes();
  const rssBaseline = process.memoryUsage.rss();
  let peak = baseline;
  let rssPeak = rssBaseline;
  let samples = 0;
  let done = false;
  const sampling = (async () => {
    while (!done) {
      rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
      peak = Math.max(peak, await liveBytes());
      samples += 1;
    }
  })();
  try {
    const result = await work();
    return { result, peakGrowth: peak - baseline, peakRssGrowth: rssPeak - rssBaseline, samples };
  } finally {
    done = true;
    await sampling;
  }
}
