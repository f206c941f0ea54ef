/**
 * Closed-loop balance readers (E-008): `readers` concurrent clients, each spread over the query-service
 * processes round-robin, each reading a balance (`pick()` chooses the account), waiting `thinkMs`, and
 * reading again until stopped. Every answer's latency and `source` (cache / db / stale) is kept.
 *
 *   const load = startReaders(services.map((s) => s.url), { readers: 210, thinkMs: 100, pick: () => hot });
 *   await sleep(10_000);
 *   const { latencies, sources, errors, stoppedAt } = await load.stop();
 *
 * Closed loop on purpose: a stampede is the readers that arrive while a key is being recomputed, so the
 * load must be "hundreds of clients each asking again soon", not a fixed arrival rate that piles up.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

export interface ReadersResult {
  latencies: number[];
  sources: Record<string, number>;
  errors: number;
  /** Epoch ms when the last reader stopped asking (in-flight answers are awaited). */
  stoppedAt: number;
}

export function startReaders(urls: string[], options: { readers: number; thinkMs: number; pick: () => string }) {
  const pools = urls.map((url) => new Pool(url, { connections: Math.ceil(options.readers / urls.length), headersTimeout: 30_000, bodyTimeout: 30_000 }));
  const latencies: number[] = [];
  const sources: Record<string, number> = {};
  let errors = 0;
  let running = true;
  const reader = async (index: number) => {
    const pool = pools[index % pools.length]!;
    await sleep(Math.random() * options.thinkMs); // spread the readers' phases: no artificial lockstep
    while (running) {
      const started = performance.now();
      try {
        const response = await pool.request({ method: 'GET', path: `/accounts/${encodeURIComponent(options.pick())}/balance` });
        const body = (await response.body.json()) as { source?: string };
        if (response.statusCode === 200 && body.source) sources[body.source] = (sources[body.source] ?? 0) + 1;
        else errors += 1;
      } catch {
        errors += 1;
      }
      latencies.push(performance.now() - started);
      await sleep(options.thinkMs);
    }
  };
  const all = Array.from({ length: options.readers }, (_, i) => reader(i));
  return {
    stop: async (): Promise<ReadersResult> => {
      running = false;
      const stoppedAt = Date.now();
      await Promise.all(all);
      await Promise.all(pools.map((p) => p.close()));
      return { latencies, sources, errors, stoppedAt };
    },
  };
}
