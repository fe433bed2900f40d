/** A pass-through stream that counts and sha256-hashes what flows through it, for uploads and downloads alike. */
import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import type { Hex } from "viem";

export type ByteLimit = { maxBytes: number; tooLong: (bytes: number) => Error };

/** Passes bytes on while counting and hashing them; past `limit.maxBytes` it fails the stream with `tooLong`'s error. */
export class Sha256Meter extends Transform {
  bytes = 0;
  private readonly hash = createHash("sha256");
  private readonly limit: ByteLimit | undefined;

  constructor(limit?: ByteLimit) {
    super();
    this.limit = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.limit && this.bytes > this.limit.maxBytes) return done(this.limit.tooLong(this.bytes));
    this.hash.update(chunk);
    done(null, chunk);
  }

  /** sha256 of everything that passed, 0x hex; once, after the stream ended. */
  sha256(): Hex {
    return `0x${this.hash.digest("hex")}`;
  }
}
