/**
 * Seeded randomness shared by tests and the benchmark (xoshiro128**: 32-bit
 * integer arithmetic only, so deterministic on every machine).
 */
export type Random = {
  /** Uniform float in [0, 1). */
  next(): number
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number
  pick<T>(items: readonly T[]): T
}

export function createRandom(seed: number): Random {
  let a = seed >>> 0 || 0x9e3779b9
  let b = 0x243f6a88 ^ a
  let c = 0xb7e15162
  let d = 0x6a09e667
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0
    const t = b << 9
    c ^= a
    d ^= b
    b ^= c
    a ^= d
    c ^= t
    d = rotl(d, 11)
    return result / 4294967296
  }
  for (let i = 0; i < 16; i++) next()
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
