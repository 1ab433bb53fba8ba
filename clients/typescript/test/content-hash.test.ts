import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import { CONTENT_HASH_BLOCK_SIZE, ContentHasher } from "../src/content-hash.js";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest();

/** The definition, all at once: SHA-256 over the SHA-256 of each 4 MiB block. */
function reference(data: Buffer): string {
  const digests = [];
  for (let at = 0; at < data.length; at += CONTENT_HASH_BLOCK_SIZE) {
    digests.push(sha256(data.subarray(at, at + CONTENT_HASH_BLOCK_SIZE)));
  }
  return createHash("sha256").update(Buffer.concat(digests)).digest("hex");
}

test("an empty file hashes no blocks", () => {
  assert.equal(new ContentHasher().digest(), createHash("sha256").digest("hex"));
});

test("pieces that straddle block edges hash as the whole", () => {
  const data = randomBytes(2 * CONTENT_HASH_BLOCK_SIZE + 12345);
  const hasher = new ContentHasher();
  // Odd piece sizes, so that pieces cross the 4 MiB edges at different places.
  for (let at = 0, step = 1; at < data.length; at += step, step = (step * 7919) % 3_000_001 + 1) {
    hasher.update(data.subarray(at, at + step));
  }
  assert.equal(hasher.digest(), reference(data));
});

test("a file of exactly one block has one block digest", () => {
  const data = randomBytes(CONTENT_HASH_BLOCK_SIZE);
  assert.equal(new ContentHasher().update(data).digest(), reference(data));
  assert.equal(reference(data), createHash("sha256").update(sha256(data)).digest("hex"));
});
