/**
 * Zipf-distributed ranks from a seeded generator: rank k (0-based) of n comes with probability
 * ∝ 1/(k+1)^s — a few keys take most of the traffic, as product pages, celebrity accounts and popular
 * tenants do. Seeded (mulberry32) so a run's traffic, and so which node and partition turn hot, is the
 * same every run: the ❌ arms of E-011 reproduce without luck.
 *
 *   const next = zipf({ n: 1000, s: 1.2, seed: 11 });
 *   next();   // 0 most often, then 1 …
 *
 * Hand-written (inverse CDF by binary search over the cumulative weights): fast-check has no Zipf
 * arbitrary, and a plain function is what a load loop wants.
 */

/** mulberry32: a small, fast 32-bit PRNG; floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The probability of each rank under Zipf(n, s). */
export function zipfWeights(n: number, s: number): number[] {
  const raw = Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => w / total);
}

/** A sampler of ranks 0 … n-1 under Zipf(n, s), seeded. */
export function zipf(options: { n: number; s: number; seed: number }): () => number {
  const { n, s, seed } = options;
  if (!(n >= 1) || !(s > 0)) throw new RangeError(`zipf needs n ≥ 1 and s > 0, got n ${n}, s ${s}`);
  const cumulative: number[] = [];
  let sum = 0;
  for (const w of zipfWeights(n, s)) cumulative.push((sum += w));
  const random = seededRandom(seed);
  return () => {
    const u = random() * sum;
    let [low, high] = [0, n - 1];
    while (low < high) {
      const mid = (low + high) >> 1;
      if (cumulative[mid]! > u) high = mid;
      else low = mid + 1;
    }
    return low;
  };
}

/** Skew of a load spread: max / mean (1 = even; with m shards, m = everything on one). */
export function skew(loads: readonly number[]): number {
  const total = loads.reduce((a, b) => a + b, 0);
  return loads.length === 0 || total === 0 ? Number.NaN : Math.max(...loads) / (total / loads.length);
}
