import { open, rename } from "node:fs/promises";

/** Replaces `file` with `text` so that a reader (or a crash) sees the old or the new bytes, never half. */
export async function writeAtomically(file: string, text: string) {
  const scratch = `${file}.partial`;
  const handle = await open(scratch, "w");
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(scratch, file);
}
