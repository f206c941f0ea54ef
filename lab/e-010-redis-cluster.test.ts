/**
 * E-010 — Redis Cluster: slots, hash tags, Lua, failover.
 *
 * Question  What does a Redis Cluster refuse (multi-key commands, MULTI and Lua across slots), what do
 *           clients lose when a master dies (failed operations, acknowledged writes), and what keeps
 *           both at 0 — hash tags, a retry budget longer than the failover, WAIT, min-replicas-to-write,
 *           and live resharding?
 * Setup     Six redis-server nodes, three masters with a replica each (`labEnvironment({ redisCluster:
 *           true })`, cluster-node-timeout 5 s). Every client command crosses a Toxiproxy proxy per node:
 *           ioredis 6's `natMap` maps each announced address, CLUSTER SLOTS and MOVED/ASK alike, to its
 *           node's proxy. An observer outside the clients asks each node straight (CLUSTER NODES, INFO
 *           errorstats/replication, SCAN): the loss is counted on every node, not by the client.
 * Fault     SIGKILL of one tag's master under load; in the lag arms first SIGSTOP of its replica, writes
 *           the master acknowledges, SIGCONT once it is dead. Not timing luck: 16 MB of filler fills the
 *           kernel's socket buffers towards the stopped replica, and INFO (growth of master_repl_offset
 *           minus of total_net_repl_output_bytes) proves every marker still in the master's memory when
 *           it is killed. Resharding: `redis-cli --cluster reshard` of 500 slots under load.
 * Expected  ❌ cross-slot (keys of two slots, on one master and on two): MGET, MSET, MULTI and EVAL fail
 *              with CROSSSLOT, counted by the nodes' errorstats too — except MULTI over two masters,
 *              which ioredis refuses itself ("All keys in the pipeline should belong to the same slots
 *              allocation group") before it reaches a node.
 *           ✅ hash tags: the same commands on `{tag}` keys work; concurrent Lua transfers conserve money.
 *           ❌ default client: operations on the dead master's slots fail (ioredis gives up after 16
 *              redirections ≈ 1 s, the failover takes ≈ 5–7 s) and every acknowledged marker is lost.
 *           ✅ retry budget (maxRedirections 100 × retryDelayOnFailover 500 ms ≈ 25 s) + WAIT 1: 0 failed,
 *              0 WAIT-confirmed writes lost; the fault fired: some write was held > 3 s across the
 *              outage, and WAIT answered 0 while the new master had no replica yet (retried).
 *           ✅ min-replicas-to-write 1 (max lag 1 s) under the lag choreography: the master refuses the
 *              markers with NOREPLICAS once its replica is silent: 0 acknowledged, 0 lost.
 *           ✅ resharding under load, the client waiting 100 ms between MOVED redirections: 0 failed, 500
 *              slots moved, ASK/MOVED answered by the client, every acknowledged write on a node. With
 *              ioredis's default (retryDelayOnMoved 0) 1 run in 4 lost an op: redis-cli 7.0 moves a slot's
 *              ownership node by node (SETSLOT NODE in list order), and while the source already answers
 *              MOVED → target and the target still MOVED → source, 16 redirections pass in milliseconds.
 * Numbers   failed by kind, lost, failoverMs (kill → replica serving, cluster ok), clientOutageMs (first →
 *           last failure the client saw), unsentBytes, redirections; `[e-010]` lines.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Cluster } from 'ioredis';
import { createRedisClusterArena } from './infra/arena.ts';
import { redisCliBinaries } from './infra/local/redis-cluster.ts';
import { which } from './infra/prerequisites.ts';
import { sleep, waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { above, atLeast, equals, experiment } from './kit/index.ts';
import { servesSlot, slotCount, type ClusterNode } from './observe/redis-cluster.ts';
import { errorKind, kindsLine, startLoad } from './workloads/load.ts';

const env = labEnvironment({ redisCluster: true });
type Arena = Awaited<ReturnType<typeof createRedisClusterArena>>;
const e010 = experiment({ id: 'E-010', title: 'Redis Cluster: slots, hash tags, Lua, failover', suite: 'lab/e-010',
  question: 'What does a Redis Cluster refuse (multi-key commands, MULTI and Lua across slots), what do clients lose when a master dies (failed operations, acknowledged writes), and what keeps both at 0 — hash tags, a retry budget longer than the failover, WAIT, min-replicas-to-write, and live resharding?',
  arena: (label) => createRedisClusterArena(env, `e010_${label}`) });
const transfer = `local from = tonumber(redis.call('GET', KEYS[1]) or '0')
if from < tonumber(ARGV[1]) then return 0 end
redis.call('DECRBY', KEYS[1], ARGV[1]); redis.call('INCRBY', KEYS[2], ARGV[1]); return 1`;
const markers = 20;

/** Each attempt `rounds` times; failures by kind. */
async function tryAll(attempts: Record<string, () => Promise<unknown>>, rounds: number) {
  const byKind: Record<string, number> = {};
  for (let round = 0; round < rounds; round += 1) for (const attempt of Object.values(attempts)) await attempt().catch((e: unknown) => void (byKind[errorKind(e)] = (byKind[errorKind(e)] ?? 0) + 1));
  return { attempts: rounds * Object.keys(attempts).length, failed: Object.values(byKind).reduce((a, b) => a + b, 0), byKind };
}

const multiKey = (c: Cluster, [a, b]: string[]) => ({
  mget: () => c.mget(a!, b!), mset: () => c.mset(a!, '100', b!, '100'),
  multi: () => c.multi().set(a!, '100').set(b!, '100').exec(), lua: () => c.eval(transfer, 2, a!, b!, '1'),
});

/** Two keys of different slots, served by one master (`apart` false) or by two, as the nodes say now. */
async function keyPair(arena: Arena, apart: boolean): Promise<string[]> {
  const { masters } = await arena.observer.topology();
  const owner = async (key: string) => ((slot) => masters.findIndex((m) => servesSlot(m, slot)))(await arena.observer.slotOf(key));
  const [first, home] = [arena.key('{k-0}'), await owner(arena.key('{k-0}'))];
  for (let i = 1; ; i += 1) if (((await owner(arena.key(`{k-${i}}`))) !== home) === apart) return [first, arena.key(`{k-${i}}`)];
}

e010.arm('❌ multi-key commands, MULTI and Lua across slots', {
  label: 'crossslot',
  expect: { failed: equals('attempts'), crossslot: equals(35), refusedByClient: equals(5) },
  run: async ({ arena, log }) => {
    const client = arena.links.client();
    const before = (await arena.observer.errors())['CROSSSLOT'] ?? 0;
    const [same, apart] = [await tryAll(multiKey(client, await keyPair(arena, false)), 5), await tryAll(multiKey(client, await keyPair(arena, true)), 5)];
    const crossslot = ((await arena.observer.errors())['CROSSSLOT'] ?? 0) - before;
    const refusedByClient = Object.entries({ ...apart.byKind }).filter(([kind]) => kind.startsWith('All keys in the pipeline')).reduce((sum, [, n]) => sum + n, 0);
    log(`two slots of one master: ${same.failed} of ${same.attempts} failed (${kindsLine(same.byKind)}); of two masters: ${apart.failed} of ${apart.attempts} (${kindsLine(apart.byKind)}); the nodes counted ${crossslot} CROSSSLOT replies`);
    return { attempts: same.attempts + apart.attempts, failed: same.failed + apart.failed, crossslot, refusedByClient };
  },
});

e010.arm('✅ hash-tagged keys in one slot: multi-key, MULTI and an atomic Lua transfer', {
  label: 'tagged',
  expect: { slots: equals(1), failed: equals(0), crossslot: equals(0), total: equals(2000) },
  sometimes: { refusedTransfers: atLeast(1) },
  run: async ({ arena, log }) => {
    const keys = [arena.key('{wallet-1}:alice'), arena.key('{wallet-1}:bob')];
    const slots = new Set(await Promise.all(keys.map((k) => arena.observer.slotOf(k)))).size;
    const [client, before] = [arena.links.client(), (await arena.observer.errors())['CROSSSLOT'] ?? 0];
    const seen = await tryAll(multiKey(client, keys), 5);
    await client.mset(keys[0]!, '1000', keys[1]!, '1000');
    const amounts = Array.from({ length: 400 }, (_, i) => [(i * 37) % 300, i % 2] as const);
    const results = await Promise.all(amounts.map(([amount, way]) => client.eval(transfer, 2, keys[way]!, keys[1 - way]!, String(amount))));
    const total = (await client.mget(keys[0]!, keys[1]!)).reduce((sum, v) => sum + Number(v), 0);
    const crossslot = ((await arena.observer.errors())['CROSSSLOT'] ?? 0) - before;
    log(`tagged keys in ${slots} slot: ${seen.failed} of ${seen.attempts} failed; 400 concurrent Lua transfers, ${results.filter((r) => r === 0).length} refused for funds, total ${total}`);
    return { slots, failed: seen.failed, crossslot, total, refusedTransfers: results.filter((r) => r === 0).length };
  },
});

/** The master serving `tag`'s slot and its replica, as the nodes see them now. */
async function shardOf(arena: Arena, tag: string) {
  const slot = await arena.observer.slotOf(arena.key(`{${tag}}`));
  const { masters, replicas } = await arena.observer.topology();
  return ((master) => ({ master, replica: replicas.find((r) => r.master === master.id)! }))(masters.find((m) => servesSlot(m, slot))!);
}

/**
 * SIGSTOP the replica, fill the kernel's socket buffers towards it, then `write` the markers. Returns a
 * lower bound of the stream bytes still in the master's memory — what it produced since `start` minus
 * what it wrote to the socket since (at `start` it cannot have written more than its offset) — and the
 * bytes the markers took: a bound ≥ those bytes means no marker left the process (the stream is FIFO).
 */
async function lagReplica(arena: Arena, tag: string, write: (key: string) => Promise<unknown>, fillerMb = 16) {
  const { master, replica } = await shardOf(arena, tag);
  const start = await arena.observer.replication(master.port);
  await arena.nemesis.pause(arena.processOf(replica.port));
  const client = arena.links.client();
  for (let i = 0; i < fillerMb; i += 1) await client.set(arena.key(`{${tag}}:filler:${i}`), 'x'.repeat(1 << 20));
  const before = (await arena.observer.replication(master.port)).offset;
  const outcomes = await Promise.allSettled(Array.from({ length: markers }, (_, i) => write(arena.key(`{${tag}}:marker:${i}`))));
  const after = await arena.observer.replication(master.port);
  return { master, replica, outcomes, unsentBytes: after.offset - start.offset - (after.sentBytes - start.sentBytes), markerBytes: after.offset - before };
}

/** SIGKILL the master, SIGCONT its replica, wait until it serves as master; restart the old master (rejoins as replica). */
async function failover(arena: Arena, shard: { master: { port: number }; replica: { id: string; port: number } }, afterPromotion: () => Promise<unknown> = async () => undefined) {
  const killedAt = (await arena.nemesis.kill(arena.processOf(shard.master.port)), Date.now()); // dead, not just signalled
  await arena.nemesis.healTarget(arena.processOf(shard.replica.port));
  await arena.observer.waitForPromotion(shard.replica.id, shard.master.port);
  const failoverMs = Date.now() - killedAt;
  await afterPromotion();
  await arena.nemesis.healTarget(arena.processOf(shard.master.port));
  await arena.observer.waitHealthy();
  return failoverMs;
}

/** Keys under `prefix` that no node holds (every node asked, the restarted old master too). */
async function missing(arena: Arena, prefix: string, expected: string[]) {
  const held = new Set([...(await arena.observer.keysByNode(arena.key(prefix))).values()].flatMap((keys) => [...keys]));
  return expected.filter((key) => !held.has(key)).length;
}

e010.arm('❌ a master SIGKILLed under default client settings, its replica lagging', {
  label: 'default', caseTimeoutMs: 240_000,
  expect: { failed: above(0), markersUnsent: equals(1), acknowledged: equals(markers), lost: equals(markers) },
  run: async ({ arena, log }) => {
    const client = arena.links.client(); // ioredis defaults: maxRedirections 16, retryDelayOnFailover 100 ms
    const load = startLoad((i) => client.set(arena.key(`load:${i}`), String(i)), { concurrency: 4 });
    arena.defer(() => load.stop());
    const lag = await lagReplica(arena, 'lost', (key) => client.set(key, '1'));
    const failoverMs = await failover(arena, lag, () => sleep(2000));
    const seen = await load.stop();
    const acked = lag.outcomes.filter((o) => o.status === 'fulfilled').length;
    const lost = await missing(arena, '{lost}:marker', Array.from({ length: markers }, (_, i) => arena.key(`{lost}:marker:${i}`)));
    const loadLost = await missing(arena, 'load:', seen.acknowledged.map((i) => arena.key(`load:${i}`)));
    const clientOutageMs = (seen.lastFailureAt ?? 0) - (seen.firstFailureAt ?? 0);
    log(`default client: ${seen.failed} of ${seen.ok + seen.failed} operations failed (${kindsLine(seen.byKind)}), client outage ${clientOutageMs} ms; failover ${failoverMs} ms`);
    log(`replica stopped: ${acked} markers acknowledged, ${lag.unsentBytes} stream bytes never left the master (markers: ${lag.markerBytes}); lost on every node: ${lost} markers, ${loadLost} load writes`);
    return { failed: seen.failed, markersUnsent: lag.unsentBytes >= lag.markerBytes ? 1 : 0, acknowledged: acked, lost, loadLost, failoverMs, clientOutageMs, unsentBytes: lag.unsentBytes };
  },
});

/** SET + WAIT 1 on one connection (a pipeline goes to the key's master) until a replica has it. ioredis redirects
 *  a pipeline only when all its commands failed alike, never SET + WAIT: then the plain SET takes the retry budget. */
async function durableSet(client: Cluster, key: string, value: string, waited: { count: number }) {
  for (const until = Date.now() + 90_000; Date.now() < until; ) {
    const [[setError] = [], [waitError, replicas] = []] = (await client.pipeline().set(key, value).call('WAIT', '1', '500').exec()) ?? [];
    if (setError ?? waitError) await client.set(key, value);
    else if (Number(replicas) >= 1) return;
    else waited.count += 1;
  }
  throw new Error('NOTREPLICATED no replica confirmed within 90 s');
}

e010.arm('✅ a retry budget longer than the failover, and WAIT 1', {
  label: 'budget', caseTimeoutMs: 240_000,
  expect: { failed: equals(0), lost: equals(0) },
  sometimes: { waited: atLeast(1), slowestMs: above(3000) },
  run: async ({ arena, log }) => {
    const client = arena.links.client({ maxRedirections: 100, retryDelayOnFailover: 500 });
    const waited = { count: 0 };
    const load = startLoad((i) => durableSet(client, arena.key(`load:${i}`), String(i), waited), { concurrency: 4 });
    arena.defer(() => load.stop());
    await sleep(1000);
    const failoverMs = await failover(arena, await shardOf(arena, 'safe'));
    await sleep(1000);
    const seen = await load.stop();
    const lost = await missing(arena, 'load:', seen.acknowledged.map((i) => arena.key(`load:${i}`)));
    log(`retry budget ≈ 25 s, WAIT 1: ${seen.ok} confirmed, ${seen.failed} failed (${kindsLine(seen.byKind)}), ${waited.count} WAITs answered 0 replicas and were retried, the slowest write took ${seen.slowestOkMs} ms; lost ${lost}; failover ${failoverMs} ms`);
    return { confirmed: seen.ok, failed: seen.failed, lost, waited: waited.count, slowestMs: seen.slowestOkMs, failoverMs };
  },
});

e010.arm('✅ min-replicas-to-write 1 refuses writes its lagging replica lacks', {
  label: 'minreplicas', caseTimeoutMs: 240_000,
  expect: { refused: equals(markers), acknowledged: equals(0), lost: equals(0) },
  run: async ({ arena, log }) => {
    const shard = await shardOf(arena, 'guarded');
    const master = arena.observer.node(shard.master.port);
    await master.config('SET', 'min-replicas-to-write', '1', 'min-replicas-max-lag', '1');
    arena.defer(() => master.config('SET', 'min-replicas-to-write', '0'));
    const client = arena.links.client();
    const lag = await lagReplica(arena, 'guarded', async (key) => {
      await waitFor('the master to count no good replica', async () => (await arena.observer.replication(shard.master.port)).goodReplicas === 0, { timeoutMs: 20_000, intervalMs: 100 });
      return client.set(key, '1');
    }, 0);
    const failoverMs = await failover(arena, lag);
    const refusals = lag.outcomes.filter((o) => o.status === 'rejected').map((o) => errorKind(o.reason));
    const acked = Array.from({ length: markers }, (_, i) => i).filter((i) => lag.outcomes[i]!.status === 'fulfilled');
    const lost = await missing(arena, '{guarded}:marker', acked.map((i) => arena.key(`{guarded}:marker:${i}`)));
    log(`min-replicas-to-write 1: ${refusals.length} markers refused (${[...new Set(refusals)].join(', ')}), ${acked.length} acknowledged, ${lost} of them lost; failover ${failoverMs} ms`);
    return { refused: refusals.filter((k) => k === 'NOREPLICAS').length, acknowledged: acked.length, lost, failoverMs };
  },
});

e010.arm('✅ live resharding under load', {
  label: 'reshard', caseTimeoutMs: 240_000,
  expect: { failed: equals(0), moved: equals(500), lost: equals(0) },
  sometimes: { redirections: atLeast(1) },
  run: async ({ arena, log }) => {
    const client = arena.links.client({ retryDelayOnMoved: 100 }); // rides out the SETSLOT NODE window (header)
    const load = startLoad(async (i) => void (await client.set(arena.key(`r:${i % 3000}`), String(i)), await client.get(arena.key(`r:${(i * 7) % 3000}`))), { concurrency: 4 });
    arena.defer(() => load.stop());
    await waitFor('keys in every slot range', async () => load.started() > 3000, { timeoutMs: 60_000 });
    const [[from, to], errorsBefore] = [(await arena.observer.topology()).masters as [ClusterNode, ClusterNode], await arena.observer.errors()];
    const reshard = (src: string, dst: string) => promisify(execFile)(which(redisCliBinaries)!, ['--cluster', 'reshard', `127.0.0.1:${from.port}`, '--cluster-from', src, '--cluster-to', dst, '--cluster-slots', '500', '--cluster-yes'], { maxBuffer: 64 << 20 });
    arena.defer(() => reshard(to.id, from.id)); // the slot counts back for the next suite
    await reshard(from.id, to.id);
    const seen = await load.stop();
    const [after, errors] = [await arena.observer.topology(), await arena.observer.errors()];
    const moved = slotCount(from) - slotCount(after.nodes.find((n) => n.id === from.id)!);
    const redirections = ['ASK', 'MOVED', 'TRYAGAIN'].reduce((sum, kind) => sum + (errors[kind] ?? 0) - (errorsBefore[kind] ?? 0), 0);
    const lost = await missing(arena, 'r:', [...new Set(seen.acknowledged.map((i) => arena.key(`r:${i % 3000}`)))]);
    log(`resharding ${moved} slots under load: ${seen.ok} operations, ${seen.failed} failed (${kindsLine(seen.byKind)}), ${redirections} ASK/MOVED/TRYAGAIN answered by the client, lost ${lost}`);
    return { failed: seen.failed, moved, redirections, lost };
  },
});
