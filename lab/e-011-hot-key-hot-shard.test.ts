/**
 * E-011 — Hot key / hot shard.
 *
 * Question  Real traffic is Zipf-shaped: a few items take most reads and most events. Does one Redis
 *           node and one Kafka partition then carry most of the load, and how far do key splitting, a
 *           local L1 cache and a better partition key bring the skew down — at what staleness?
 * Setup     Redis Cluster (three masters; clients through a Toxiproxy proxy per node, natMap), 1000 items
 *           `{item-<rank>}` (the hash tag pins an item's slot whatever the arena's prefix); Kafka topic of
 *           6 partitions. Traffic from a seeded Zipf generator (s = 1.8, n = 1000: the top item ≈ 53 %
 *           of it, so its node and partition serve most whatever the slot layout — E-010 leaves one
 *           resharded and roles swapped), the same sequence every run (lab/generators/zipf.ts).
 * Fault     None injected: the skew is the fault. Measured from outside: per-node GET calls from each
 *           master's INFO commandstats (CONFIG RESETSTAT first), per-partition record counts from
 *           ListOffsets (high − low watermark: also the lag of a group that has consumed nothing yet).
 * Expected  ❌ reads straight to Redis: skew (max/mean of the masters' GETs) > 1.5, the hot item's node
 *              serving most reads (hotShare > 0.5).
 *           ✅ key splitting: the 16 hottest items (94 % of reads) kept in 6 copies each, two per master
 *              (tags chosen by CLUSTER KEYSLOT), a read picks one copy, a write sets all 6: skew < 1.25
 *              whatever the layout (the other 6 % on one node at worst: 1.12).
 *           ✅ L1 cache (TTL 250 ms from the load's start; one of two service instances also invalidated by
 *              pub/sub after every write, the other by its TTL only, as if every message were lost) while
 *              a writer updates the 5 hottest items: no node serves most (skew < 1.5, hotShare < 0.5: the
 *              ~20 keys read more often than the TTL now cost Redis alike, what skew remains is their
 *              placement), Redis sees < 20 % of reads; staleness (read start − acknowledgement of the write
 *              that replaced the value read) stays below the stated bound, the TTL, in both instances
 *              (lab/clients/l1-cache.ts); the TTL-only instance really served stale reads ("sometimes").
 *           ❌ events keyed by item: partition skew (max/mean record count) > 2, hotShare > 0.5.
 *           ✅ events keyed by order (per-order ordering kept, per-item ordering given up): skew < 1.25.
 * Numbers   skew, hotShare (the busiest node/partition's share), gets, redisShare (GETs / reads), staleReads,
 *           maxStalenessMs (…TtlOnly: the instance without invalidation); `[e-011]` lines per arm.
 */
import { createTopicsAndWait } from '../src/contract.ts';
import { L1Cache } from './clients/l1-cache.ts';
import { seededRandom, skew, zipf } from './generators/zipf.ts';
import { createKafkaArena, createRedisClusterArena } from './infra/arena.ts';
import { kafka } from './infra/clients.ts';
import { sleep } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { above, atLeast, below, equals, experiment } from './kit/index.ts';
import { watermarks } from './observe/topic.ts';

const env = labEnvironment({ redisCluster: true });
type Arena = Awaited<ReturnType<typeof createRedisClusterArena>>;
const e011 = experiment({ id: 'E-011', title: 'Hot key / hot shard', suite: 'lab/e-011',
  question: 'Real traffic is Zipf-shaped: a few items take most reads and most events. Does one Redis node and one Kafka partition then carry most of the load, and how far do key splitting, a local L1 cache and a better partition key bring the skew down — at what staleness?',
  arena: (label) => createRedisClusterArena(env, `e011_${label}`) });
const [items, s, reads] = [1000, 1.8, 12_000];
const ranks = (seed: number, count: number) => Array.from({ length: count }, zipf({ n: items, s, seed }));
const share = (loads: number[]) => Math.max(...loads) / loads.reduce((a, b) => a + b, 0);

/** `count` operations on `concurrency` workers, yielding between operations (L1 hits settle at once). */
async function drive(count: number, op: (i: number) => Promise<unknown>, concurrency = 8) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await op(next++), await new Promise((resolve) => setImmediate(resolve));
  }));
}

/** Writes every item (`keysOf(rank)`), resets the nodes' stats, runs `read`, returns the masters' GET calls. */
async function measureReads(arena: Arena, keysOf: (rank: number) => string[], read: () => Promise<void>) {
  const client = arena.links.client();
  await drive(items, (rank) => Promise.all(keysOf(rank).map((key) => client.set(key, 'v0'))));
  const { masters } = await arena.observer.topology();
  await arena.observer.resetStats();
  await read();
  const calls = await arena.observer.calls(['get']);
  const gets = masters.map((m) => calls.get(m.port) ?? 0);
  return { gets, skew: skew(gets), hotShare: share(gets), total: gets.reduce((a, b) => a + b, 0) };
}

const item = (arena: Arena, rank: number) => arena.key(`{item-${rank}}`);

e011.arm('❌ Zipf reads straight to Redis Cluster: one node serves most', {
  label: 'hot',
  expect: { skew: above(1.5), hotShare: above(0.5) },
  run: async ({ arena, log }) => {
    const client = arena.links.client();
    const sequence = ranks(11, reads);
    const seen = await measureReads(arena, (rank) => [item(arena, rank)], () => drive(reads, (i) => client.get(item(arena, sequence[i]!))));
    log(`Zipf s=${s}: GETs per master ${seen.gets.join(' / ')}, skew ${seen.skew.toFixed(2)}, the hot node ${(seen.hotShare * 100).toFixed(0)} %`);
    return { skew: seen.skew, hotShare: seen.hotShare, gets: seen.total };
  },
});

/** Copy tags of `rank` whose slots put `perMaster` copies on every master (CLUSTER KEYSLOT per candidate). */
async function copiesOf(arena: Arena, rank: number, perMaster: number): Promise<string[]> {
  const { masters } = await arena.observer.topology();
  const chosen = new Map(masters.map((m) => [m.port, [] as string[]]));
  for (let j = 0; [...chosen.values()].some((c) => c.length < perMaster); j += 1) {
    const key = arena.key(`{item-${rank}#${j}}`);
    const slot = await arena.observer.slotOf(key);
    const owner = chosen.get(masters.find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b))!.port)!;
    if (owner.length < perMaster) owner.push(key);
  }
  return [...chosen.values()].flat();
}

e011.arm('✅ the hottest keys split across tags on every master', {
  label: 'split',
  expect: { skew: below(1.25) },
  sometimes: { splitKeys: atLeast(1) },
  run: async ({ arena, log }) => {
    const client = arena.links.client();
    const copies = new Map<number, string[]>();
    for (let rank = 0; rank < 16; rank += 1) copies.set(rank, await copiesOf(arena, rank, 2));
    const keysOf = (rank: number) => copies.get(rank) ?? [item(arena, rank)];
    const [sequence, pick] = [ranks(11, reads), seededRandom(5)];
    const seen = await measureReads(arena, keysOf, () => drive(reads, (i) => ((keys) => client.get(keys[Math.floor(pick() * keys.length)]!))(keysOf(sequence[i]!))));
    log(`16 hottest items in 6 copies each (writes × 6): GETs per master ${seen.gets.join(' / ')}, skew ${seen.skew.toFixed(2)}, the busiest node ${(seen.hotShare * 100).toFixed(0)} %`);
    return { skew: seen.skew, hotShare: seen.hotShare, gets: seen.total, splitKeys: copies.size };
  },
});

e011.arm('✅ an L1 cache per instance (TTL 250 ms; pub/sub invalidation in one): skew and staleness', {
  label: 'l1',
  expect: { skew: below(1.5), hotShare: below(0.5), redisShare: below(0.2), maxStalenessMs: below('ttlMs'), maxStalenessTtlOnlyMs: below('ttlMs') },
  sometimes: { invalidated: atLeast(1), staleReadsTtlOnly: atLeast(1) },
  run: async ({ arena, log }) => {
    const ttlMs = 250;
    const channel = arena.key('invalidate');
    const acks = new Map<string, number[]>(); // key → acknowledgement time of version v at index v
    // Instance 1 is invalidated by pub/sub; instance 2 only by its TTL (a lost message): the bound exercised.
    const instances = await Promise.all([1, 2].map(async (seed) => {
      const [client, subscriber, l1] = [arena.links.client(), arena.links.client(), new L1Cache<string | null>(ttlMs)];
      if (seed === 1) await subscriber.subscribe(channel);
      subscriber.on('message', (_channel: string, key: string) => l1.invalidate(key));
      return { client, l1, sequence: ranks(seed, reads / 2), staleness: [] as number[] };
    }));
    const writer = arena.links.client();
    let writing = true;
    // Started once the items are written (measureReads): a write racing that 'v0' would read as stale.
    const writes = async () => {
      for (let n = 0; writing; n += 1) {
        const key = item(arena, n % 5);
        const versions = acks.get(key) ?? [0];
        await writer.set(key, `v${versions.length}`);
        acks.set(key, [...versions, Date.now()]);
        await writer.publish(channel, key);
        await sleep(50);
      }
    };
    const read = async ({ client, l1, sequence, staleness }: (typeof instances)[number], i: number) => {
      // Stale: the value read had been replaced before the read started (a read overlapping the write may
      // return either; a run that measured at the read's end counted a 291 ms GET as 291 ms stale).
      const [key, startedAt] = [item(arena, sequence[i]!), Date.now()];
      const version = Number((await l1.get(key, () => client.get(key)))?.slice(1));
      const replacedAt = acks.get(key)?.[version + 1];
      if (replacedAt !== undefined && replacedAt < startedAt) staleness.push(startedAt - replacedAt);
    };
    const seen = await measureReads(arena, (rank) => [item(arena, rank)], async () => {
      const writing$ = writes();
      // Paced (≥ 1 ms a read per worker): the reads span seconds of writes, not the first few of them.
      await Promise.all(instances.map((instance) => drive(reads / 2, async (i) => (await read(instance, i), await sleep(1)), 2)));
      writing = false;
      await writing$;
    });
    const [hits, invalidated] = [instances.reduce((sum, x) => sum + x.l1.hits, 0), instances.reduce((sum, x) => sum + x.l1.invalidations, 0)];
    const [[invalidatedStale, ttlOnlyStale], written] = [instances.map((x) => x.staleness), [...acks.values()].reduce((sum, v) => sum + v.length - 1, 0)];
    const [maxStalenessMs, maxStalenessTtlOnlyMs] = [Math.max(0, ...invalidatedStale!), Math.max(0, ...ttlOnlyStale!)];
    log(`L1 TTL ${ttlMs} ms: ${hits} of ${reads} reads local (${written} writes meanwhile), GETs per master ${seen.gets.join(' / ')}, skew ${seen.skew.toFixed(2)}`);
    log(`staleness (bound: the TTL): with invalidation ${invalidatedStale!.length} stale reads, max ${maxStalenessMs} ms (${invalidated} messages); TTL only ${ttlOnlyStale!.length} stale reads, max ${maxStalenessTtlOnlyMs} ms`);
    return { skew: seen.skew, hotShare: seen.hotShare, gets: seen.total, redisShare: seen.total / reads, hits, written, invalidated, staleReads: invalidatedStale!.length, maxStalenessMs, staleReadsTtlOnly: ttlOnlyStale!.length, maxStalenessTtlOnlyMs, ttlMs };
  },
});

/** 6000 order events for Zipf items, keyed by `keyOf`, to a fresh 6-partition topic; per-partition counts by ListOffsets. */
async function partitionLoad(arena: Awaited<ReturnType<typeof createKafkaArena>>, keyOf: (order: number, item: number) => string) {
  const topic = `${arena.id}.orders`;
  await createTopicsAndWait(arena.admin, [{ topic, numPartitions: 6 }]);
  // Idempotent: a batch kafkajs resends after a timeout on this loaded machine is not appended twice (a run counted 6085).
  const producer = kafka(env, `${arena.id}-producer`).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  arena.defer(() => producer.disconnect());
  const sequence = ranks(23, 6000);
  for (let at = 0; at < sequence.length; at += 500) {
    await producer.send({ topic, acks: -1, messages: sequence.slice(at, at + 500).map((rank, k) => ({ key: keyOf(at + k, rank), value: JSON.stringify({ order: at + k, item: rank }) })) });
  }
  const counts = (await watermarks(arena.admin, topic)).sort((a, b) => a.partition - b.partition).map((p) => Number(p.high) - Number(p.low));
  return { counts, skew: skew(counts), hotShare: share(counts), records: counts.reduce((a, b) => a + b, 0) };
}

e011.arm('❌ events keyed by item: one partition carries most', {
  label: 'kafka_item', arena: (label) => createKafkaArena(env, `e011_${label}`),
  expect: { skew: above(2), hotShare: above(0.5), records: equals(6000) },
  run: async ({ arena, log }) => {
    const seen = await partitionLoad(arena, (_order, rank) => `item-${rank}`);
    log(`keyed by item: records per partition ${seen.counts.join(' / ')}, skew ${seen.skew.toFixed(2)}, the hot partition ${(seen.hotShare * 100).toFixed(0)} %`);
    return { skew: seen.skew, hotShare: seen.hotShare, records: seen.records };
  },
});

e011.arm('✅ events keyed by order: the partitions share the load', {
  label: 'kafka_order', arena: (label) => createKafkaArena(env, `e011_${label}`),
  expect: { skew: below(1.25), records: equals(6000) },
  run: async ({ arena, log }) => {
    const seen = await partitionLoad(arena, (order) => `order-${order}`);
    log(`keyed by order: records per partition ${seen.counts.join(' / ')}, skew ${seen.skew.toFixed(2)}, the busiest partition ${(seen.hotShare * 100).toFixed(0)} %`);
    return { skew: seen.skew, hotShare: seen.hotShare, records: seen.records };
  },
});
