/**
 * Suffix array construction by SA-IS (Nong, Zhang & Chan 2009), O(n) time.
 * Port of the AtCoder Library implementation onto typed arrays so 10M+ token
 * texts stay within a few hundred MB. The end of the text compares lower than
 * every symbol (no explicit sentinel is needed).
 */

/** Below this size a comparison sort is faster than SA-IS's bookkeeping. */
const naiveThreshold = 16;

/**
 * Suffix array of `text`, whose symbols must be integers in [0, alphabetSize).
 * Returns suffix start positions in lexicographic order.
 */
export function buildSuffixArray(text: Int32Array | Uint32Array, alphabetSize: number): Int32Array {
  return saIs(
    text instanceof Int32Array ? text : new Int32Array(text.buffer, text.byteOffset, text.length),
    alphabetSize - 1,
  );
}

/** Reference implementation (comparison sort) for tests and tiny inputs. */
export function buildSuffixArrayNaive(text: ArrayLike<number>): Int32Array {
  const order = Array.from({ length: text.length }, (_, i) => i);
  order.sort((a, b) => compareSuffixes(text, a, b));
  return Int32Array.from(order);
}

function compareSuffixes(text: ArrayLike<number>, a: number, b: number): number {
  if (a === b) return 0;
  const n = text.length;
  while (a < n && b < n) {
    if (text[a] !== text[b]) return text[a]! < text[b]! ? -1 : 1;
    a++;
    b++;
  }
  // The shorter suffix (the one that ran out) sorts first.
  return a === n ? -1 : 1;
}

function saIs(s: Int32Array, upper: number): Int32Array {
  const n = s.length;
  if (n < naiveThreshold) return buildSuffixArrayNaive(s);

  const sa = new Int32Array(n);
  // ls[i] = 1 when suffix i is S-type (smaller than suffix i + 1).
  const ls = new Uint8Array(n);
  for (let i = n - 2; i >= 0; i--) ls[i] = s[i] === s[i + 1] ? ls[i + 1]! : s[i]! < s[i + 1]! ? 1 : 0;

  // Bucket boundaries: sumL[c] = start of c's L-bucket, sumS[c] = start of c's S-bucket.
  const sumL = new Int32Array(upper + 2);
  const sumS = new Int32Array(upper + 2);
  for (let i = 0; i < n; i++) {
    if (ls[i] === 0) sumS[s[i]!]!++;
    else sumL[s[i]! + 1]!++;
  }
  for (let c = 0; c <= upper; c++) {
    sumS[c]! += sumL[c]!;
    if (c < upper) sumL[c + 1]! += sumS[c]!;
  }

  const buf = new Int32Array(upper + 2);
  const induce = (lms: Int32Array): void => {
    sa.fill(-1);
    buf.set(sumS);
    for (let k = 0; k < lms.length; k++) {
      const d = lms[k]!;
      if (d === n) continue;
      sa[buf[s[d]!]!++] = d;
    }
    buf.set(sumL);
    sa[buf[s[n - 1]!]!++] = n - 1;
    for (let i = 0; i < n; i++) {
      const v = sa[i]!;
      if (v >= 1 && ls[v - 1] === 0) sa[buf[s[v - 1]!]!++] = v - 1;
    }
    buf.set(sumL);
    for (let i = n - 1; i >= 0; i--) {
      const v = sa[i]!;
      if (v >= 1 && ls[v - 1] === 1) sa[--buf[s[v - 1]! + 1]!] = v - 1;
    }
  };

  // LMS positions (S-type preceded by L-type), numbered in text order.
  const lmsMap = new Int32Array(n + 1).fill(-1);
  let m = 0;
  for (let i = 1; i < n; i++) if (ls[i - 1] === 0 && ls[i] === 1) lmsMap[i] = m++;
  const lms = new Int32Array(m);
  for (let i = 1, k = 0; i < n; i++) if (ls[i - 1] === 0 && ls[i] === 1) lms[k++] = i;

  induce(lms);
  if (m === 0) return sa;

  const sortedLms = new Int32Array(m);
  for (let i = 0, k = 0; i < n; i++) if (lmsMap[sa[i]!] !== -1) sortedLms[k++] = sa[i]!;

  // Name LMS substrings; equal substrings share a name.
  const reduced = new Int32Array(m);
  let reducedUpper = 0;
  reduced[lmsMap[sortedLms[0]!]!] = 0;
  for (let i = 1; i < m; i++) {
    let l = sortedLms[i - 1]!;
    let r = sortedLms[i]!;
    const endL = lmsMap[l]! + 1 < m ? lms[lmsMap[l]! + 1]! : n;
    const endR = lmsMap[r]! + 1 < m ? lms[lmsMap[r]! + 1]! : n;
    let same = true;
    if (endL - l !== endR - r) same = false;
    else {
      while (l < endL && s[l] === s[r]) {
        l++;
        r++;
      }
      if (l === n || s[l] !== s[r]) same = false;
    }
    if (!same) reducedUpper++;
    reduced[lmsMap[sortedLms[i]!]!] = reducedUpper;
  }

  const reducedSa = saIs(reduced, reducedUpper);
  for (let i = 0; i < m; i++) sortedLms[i] = lms[reducedSa[i]!]!;
  induce(sortedLms);
  return sa;
}
