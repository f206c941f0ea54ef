/**
 * A process-local (L1) cache in front of Redis for hot keys: entries live `ttlMs` from the moment their
 * load was *started*, and an invalidation (a Redis pub/sub message after each write) drops an entry and
 * voids any load in flight for it, so a value read before the write is never stored after the message.
 *
 *   const l1 = new L1Cache<string | null>(250);
 *   const value = await l1.get(key, () => cluster.get(key));
 *   subscriber.on('message', (_channel, key) => l1.invalidate(key));
 *
 * Staleness bound: a value is served at most `ttlMs` after its load started; the value was current at
 * some moment after that start, so a read never returns a value older than `ttlMs` past the write that
 * replaced it — even when the invalidation message is lost (pub/sub is at-most-once). With the messages
 * arriving, staleness is the pub/sub delivery delay. Hand-written: a Map and two counters; the lab
 * measures exactly this policy (lru-cache's `ttl` counts from the store, not from the load's start).
 */
export class L1Cache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly generations = new Map<string, number>();
  hits = 0;
  misses = 0;
  invalidations = 0;

  constructor(
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const started = this.now();
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > started) {
      this.hits += 1;
      return entry.value;
    }
    this.misses += 1;
    const generation = this.generations.get(key) ?? 0;
    const value = await load();
    if ((this.generations.get(key) ?? 0) === generation) this.entries.set(key, { value, expiresAt: started + this.ttlMs });
    return value;
  }

  invalidate(key: string): void {
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    this.entries.delete(key);
    this.invalidations += 1;
  }
}
