/**
 * The balance cache's pure decisions, separate from Redis and the DB so each is unit tested with an
 * injected clock and random source:
 *
 *   jitteredTtl        TTL ± a fraction, so keys populated together do not expire together (E-008:
 *                      synchronized expiry is what turns one popular key's refresh into a stampede)
 *   shouldRefreshEarly XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache Stampede
 *                      Prevention", VLDB 2015): refresh before expiry with a probability that rises as
 *                      expiry nears and with how long a recompute takes, so usually one reader refreshes
 *                      a hot key while everyone else still gets a fresh hit
 *   entryState         fresh / stale (past freshness but inside the stale-serving window) / expired
 */
import type { CachedBalance } from './balance-store.ts';

/**
 * `ttlMs` scaled by a uniform factor in [1 - jitter, 1 + jitter) (`random()` in [0, 1)); never below
 * 1 ms. `jitter` is a fraction (0.1 = ±10 %), clamped to [0, 1].
 */
export function jitteredTtl(ttlMs: number, jitter: number, random: () => number = Math.random): number {
  const fraction = Math.min(1, Math.max(0, Number.isFinite(jitter) ? jitter : 0));
  const factor = 1 + fraction * (2 * random() - 1);
  return Math.max(1, Math.round(ttlMs * factor));
}

export interface EarlyRefreshInput {
  now: number;
  /** When the entry stops being fresh (epoch ms). */
  freshUntil: number;
  /** How long the last recompute (DB read) took, ms: XFetch's delta. */
  computeMs: number;
  /** XFetch's beta: > 1 favours earlier refreshes, < 1 later ones; 1 is the paper's optimum. */
  beta: number;
  /** Uniform in (0, 1]; injected for tests. */
  random: () => number;
}

/**
 * XFetch: refresh when `now - computeMs * beta * ln(random) >= freshUntil`. ln(random) <= 0, so the
 * left side is `now` pushed forward by a random, exponentially distributed gap scaled by the recompute
 * time. Past `freshUntil` it is always true; with computeMs = 0 it is true only at expiry.
 */
export function shouldRefreshEarly(input: EarlyRefreshInput): boolean {
  // random() may return exactly 0 (Math.random's range is [0, 1)): ln(0) = -Infinity means "refresh now",
  // which is the limit of the formula anyway; keep it finite so the comparison stays well-defined.
  const r = Math.min(1, Math.max(Number.MIN_VALUE, input.random()));
  const gap = -Math.max(0, input.computeMs) * Math.max(0, input.beta) * Math.log(r);
  return input.now + gap >= input.freshUntil;
}

export type EntryState = 'missing' | 'fresh' | 'stale' | 'expired';

/**
 * fresh   now < freshUntil
 * stale   freshUntil <= now < freshUntil + staleMs: servable (flagged) while one caller refreshes
 * expired later (Redis normally deleted it already: its PX is ttl + staleMs)
 */
export function entryState(entry: Pick<CachedBalance, 'freshUntil'> | undefined, now: number, staleMs: number): EntryState {
  if (!entry || !Number.isFinite(entry.freshUntil)) return 'missing';
  if (now < entry.freshUntil) return 'fresh';
  if (now < entry.freshUntil + Math.max(0, staleMs)) return 'stale';
  return 'expired';
}
