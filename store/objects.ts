/**
 * The store's directory: one file per object, `<dir>/<name>`, the layout createDirectoryContentStore writes, so
 * either can use the other's directory. Objects are written durably (a temporary file, fsynced, linked into place,
 * the directory fsynced) and never rewritten.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";

/** Temporary files start with a dot, which no object name does, so they are never served. */
const temporaryFile = /^\..*\.tmp$/;

export class ObjectDirectory {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Creates the directory and removes temporaries a crash left behind (one server per directory). */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const leftovers = (await readdir(this.dir)).filter((file) => temporaryFile.test(file));
    await Promise.all(leftovers.map((file) => rm(path.join(this.dir, file), { force: true })));
  }

  pathOf(name: string): string {
    return path.join(this.dir, name);
  }

  async has(name: string): Promise<boolean> {
    return stat(this.pathOf(name)).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return false;
        throw error;
      },
    );
  }

  /** A fresh temporary path for an upload of `name`: unique, so concurrent uploads of one name never share it. */
  temporaryPathFor(name: string): string {
    return path.join(this.dir, `.${name}.${randomBytes(8).toString("hex")}.tmp`);
  }

  /**
   * Makes the written and fsynced `temporary` the object `name`, unless that exists; true when this created it.
   * A hard link, not a rename: it fails when the name exists, so of concurrent uploads exactly one creates the
   * object and none replaces a file a reader has open.
   */
  async commit(temporary: string, name: string): Promise<boolean> {
    try {
      await link(temporary, this.pathOf(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      return false;
    } finally {
      await unlink(temporary);
    }
    await this.syncDirectory();
    return true;
  }

  /** Writes a small object whole; true when this created it. */
  async writeBytes(name: string, bytes: Uint8Array): Promise<boolean> {
    const temporary = this.temporaryPathFor(name);
    try {
      await writeFile(temporary, bytes, { flush: true });
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return this.commit(temporary, name);
  }

  /** The new directory entry is durable only once the directory itself is synced. */
  private async syncDirectory(): Promise<void> {
    const handle = await open(this.dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
