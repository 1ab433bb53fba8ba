import { createHash, type Hash } from "node:crypto";

/** Dropbox hashes a file in blocks of this size. */
export const CONTENT_HASH_BLOCK_SIZE = 4 * 1024 * 1024;

/**
 * Dropbox's content_hash, computed incrementally: the SHA-256 of the concatenated SHA-256
 * digests of every 4 MiB block of the file (an empty file hashes no blocks). Feed it the
 * bytes in order, in pieces of any size.
 */
export class ContentHasher {
  private readonly overall: Hash = createHash("sha256");
  private block: Hash = createHash("sha256");
  private blockFill = 0;

  update(data: Uint8Array): this {
    let at = 0;
    while (at < data.length) {
      const take = Math.min(CONTENT_HASH_BLOCK_SIZE - this.blockFill, data.length - at);
      this.block.update(data.subarray(at, at + take));
      this.blockFill += take;
      at += take;
      if (this.blockFill === CONTENT_HASH_BLOCK_SIZE) {
        this.closeBlock();
      }
    }
    return this;
  }

  /** The hash as 64 lower-case hex characters; the hasher is spent afterwards. */
  digest(): string {
    if (this.blockFill > 0) {
      this.closeBlock();
    }
    return this.overall.digest("hex");
  }

  private closeBlock(): void {
    this.overall.update(this.block.digest());
    this.block = createHash("sha256");
    this.blockFill = 0;
  }
}
