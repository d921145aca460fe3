/** Seeded random numbers, so every contender of a benchmark gets the same graph. @module */

/** mulberry32: a tiny 32-bit PRNG giving numbers in [0, 1); the same seed gives the same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A layered DAG: `layers × width` nodes numbered layer by layer; every node after layer 0 depends on
 * two distinct random nodes of the previous layer. Returns each node's parents (indices).
 */
export function layeredDag(layers: number, width: number, seed: number): number[][] {
  const random = mulberry32(seed)
  const parents: number[][] = []
  for (let l = 0; l < layers; l++) {
    for (let i = 0; i < width; i++) {
      if (l === 0) {
        parents.push([])
        continue
      }
      const base = (l - 1) * width
      const a = Math.floor(random() * width)
      let b = Math.floor(random() * (width - 1))
      if (b >= a) b++
      parents.push([base + a, base + b])
    }
  }
  return parents
}
