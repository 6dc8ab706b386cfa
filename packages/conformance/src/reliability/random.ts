/** A small seeded generator (mulberry32), so a failing run can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A seed from the environment (`PORTLAYER_SEED`) or the clock, for runs that print it. */
export function seedFromEnv(): number {
  const given = typeof process === 'object' ? process.env.PORTLAYER_SEED : undefined
  const n = given === undefined ? Number.NaN : Number(given)
  return Number.isSafeInteger(n) ? n : Date.now() % 2_147_483_647
}
