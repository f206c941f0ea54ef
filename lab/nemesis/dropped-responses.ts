/**
 * Dropped produce responses, on a causal schedule: a downstream `timeout` toxic on one producer's link
 * (requests reach the broker, responses never come back) until the producer has timed out `drops`
 * produce requests; the link is healed on the `drops`-th REQUEST_TIMEOUT event, so the producer's retry
 * (after its fixed backoff) is the first request to cross the healed link. Timing luck plays no part.
 *
 *   const drop = await dropProduceResponses(nemesis, producer, proxy.name, 2, async () => { …look at the broker… });
 *   try { await producer.send(…) } finally { await nemesis.heal(); await drop.settled(); }
 *   drop.timeouts(), drop.healMs()     // how many produce requests timed out; timeout → healed, the last one
 */
import type { Producer } from 'kafkajs';
import type { Nemesis } from './nemesis.ts';

export async function dropProduceResponses(nemesis: Nemesis, producer: Producer, proxy: string, drops: number, afterEachDrop: () => Promise<void> = async () => {}) {
  let timeouts = 0;
  let healMs = 0;
  let chain: Promise<void> = Promise.resolve();
  producer.on(producer.events.REQUEST_TIMEOUT, (event) => {
    if (event.payload.apiName !== 'Produce') return;
    timeouts += 1;
    const timedOutAt = performance.now();
    const last = timeouts === drops;
    chain = chain.then(async () => {
      if (last) {
        await nemesis.heal();
        healMs = performance.now() - timedOutAt;
      }
      await afterEachDrop();
    });
  });
  await nemesis.timeout(proxy, 0);
  return { timeouts: () => timeouts, healMs: () => healMs, settled: () => chain };
}
