/**
 * Exact integer apportionment (Hamilton / largest remainder) in bigint.
 *
 * Each claim first gets floor(total · weight / Σweight); the units left over
 * (fewer than the number of claims) go one each to the claims with the
 * largest remainders. Ties between equal remainders go to the claim that
 * comes first in the input, so callers pass claims in their tie-break order.
 */
import { BaseError } from "./errors.ts";

export function allocateLargestRemainder({ total, weights }: { total: bigint; weights: readonly bigint[] }): bigint[] {
  const sum = weights.reduce((acc, weight) => {
    if (weight < 0n) throw new BaseError(`Allocation weights must be non-negative, got ${weight}.`);
    return acc + weight;
  }, 0n);
  if (total < 0n) throw new BaseError(`Cannot allocate a negative total (${total}).`);
  if (sum === 0n) {
    if (total === 0n) return weights.map(() => 0n);
    throw new BaseError(`Cannot allocate ${total} over weights that sum to zero.`);
  }
  const shares = weights.map((weight) => (total * weight) / sum);
  const remainders = weights.map((weight) => (total * weight) % sum);
  let leftover = total - shares.reduce((acc, share) => acc + share, 0n);
  const order = weights.map((_, i) => i);
  order.sort((a, b) => (remainders[a]! > remainders[b]! ? -1 : remainders[a]! < remainders[b]! ? 1 : a - b));
  for (let k = 0; leftover > 0n; k++, leftover--) shares[order[k]!]! += 1n;
  return shares;
}
