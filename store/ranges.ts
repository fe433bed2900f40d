/** Range requests (RFC 9110 §14): one byte range per request, which is what resuming and sampling clients ask. */

export type ByteRange = { start: number; end: number };

/**
 * The range a Range header asks of a `size`-byte object: `bytes=a-b`, `bytes=a-` or `bytes=-n`; "unsatisfiable"
 * (416) when it starts past the end; undefined to serve the whole object: no header, several ranges, or one that
 * does not parse, which RFC 9110 lets a server ignore.
 */
export function requestedRange(header: string | undefined, size: number): ByteRange | "unsatisfiable" | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=([0-9]*)-([0-9]*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "") {
    const suffix = Number(last);
    return suffix === 0 || size === 0 ? "unsatisfiable" : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return undefined;
  if (start >= size) return "unsatisfiable";
  return { start, end: last === "" ? size - 1 : Math.min(Number(last), size - 1) };
}
