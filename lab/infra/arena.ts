/**
 * An arena: what one experiment arm (or one generated case) needs, fresh and isolated — a migrated
 * database, a topic set, and a failpoint log that the service processes it starts write their crashes
 * to. Disposing it (`await using`, Symbol.asyncDispose) kills those processes, runs what was deferred and
 * removes the topics and the database; the experiment runner (lab/kit) disposes each case's arena when
 * the case ends, pass or fail, so LAB_RUNS=20 never piles up processes and databases.
 *
 *   await using arena = await createArena(env, 'e002_direct', 3);
 *   const command = await arena.start('command', { mode: 'direct' }, 'command.after-commit-before-produce=crash');
 *   expect(arena.crashes()).toHaveLength(1);
 *
 * `disposeArenas` (afterEach) is the safety net for arenas whose case never ended (a timed-out test).
 * The integration suites (lab/integration) take one arena at file scope (beforeAll / afterAll) and the
 * bench one per repetition (bench/scope.ts): one way to get a fresh world, and one way to remove it
 * (topics, consumer groups, schema subjects, Redis keys, database).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { ensureTopics, type CommonConfig, type FailpointName, type ServiceConfigs, type ServiceName } from '../../src/contract.ts';
import { kafka, redis as redisClient } from './clients.ts';
import type { LabEnvironment } from './environment.ts';
import { pendingWaits } from './ports.ts';
import { deadline } from '../util/deadline.ts';
import { deleteGroupsWithPrefix, deleteKeysWithPrefix, deleteSubject, deleteTopicsWithPrefix, isolationId } from './isolation.ts';
import { redisClusterLinks } from './redis-cluster-links.ts';
import { RedisClusterObserver } from '../observe/redis-cluster.ts';
import { Nemesis } from '../nemesis/nemesis.ts';
import { commonConfig, createMigratedDatabase, redisOf, startServiceProcess, type Exactly, type ServiceProcess } from './services.ts';

export type Arena = Awaited<ReturnType<typeof createArena>>;

/** What `arena.start` takes: the service's own keys; the arena fills in the database, brokers and topics. */
export type ArenaServiceConfig<N extends ServiceName> = Omit<ServiceConfigs[N], keyof CommonConfig> & Partial<CommonConfig>;

const live = new Set<() => Promise<void>>();

/**
 * `retryDelaysMs`: the retry topics' delays (one topic each; the consumer's default otherwise).
 * `topics: false`: no topic set of the arena's own (a suite that makes one per scenario with `topicSet`).
 */
export async function createArena(env: LabEnvironment, name: string, partitions = 6, options: { retryDelaysMs?: number[]; topics?: boolean } = {}) {
  const id = isolationId(env, name);
  const database = await createMigratedDatabase(env, id);
  const admin = kafka(env, `${id}-admin`).admin();
  await admin.connect();
  const subjects: string[] = [];
  /** A topic set under `<id>.<scope>` (created, its events subject deleted on disposal) and the common config that names it. */
  const topicSet = async (scope: string, setPartitions = partitions, retryDelaysMs = options.retryDelaysMs): Promise<CommonConfig> => {
    const set = commonConfig(env, { database: id, topicPrefix: `${id}.${scope ? `${scope}.` : ''}`, ...(retryDelaysMs ? { retryDelaysMs } : {}) });
    await ensureTopics(admin, set.topics, setPartitions);
    subjects.push(`${set.topics.events}-value`);
    return set;
  };
  const config = options.topics === false ? commonConfig(env, { database: id, topicPrefix: `${id}.` }) : await topicSet('');
  const keyPrefix = `${id}:`;
  let cache: Redis | undefined;
  const failpointLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), `${id}-`)), 'crashes.jsonl');
  const processes: ServiceProcess[] = [];
  const deferred: Array<() => Promise<unknown>> = [];
  const dispose = trackArena(async () => {
    // Deferred first (heal faults, stop keepers that would restart processes, stop in-process services).
    for (const cleanup of deferred.reverse()) await cleanup().catch(() => undefined);
    for (const p of processes) await p.kill().catch(() => undefined);
    await deleteTopicsWithPrefix(admin, id).catch(() => undefined);
    await deleteGroupsWithPrefix(admin, id).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    for (const subject of subjects) await deleteSubject(env, subject);
    if (cache) await deleteKeysWithPrefix(cache, keyPrefix).then(() => cache?.disconnect(), () => cache?.disconnect());
    await database.drop().catch(() => undefined);
    fs.rmSync(path.dirname(failpointLog), { recursive: true, force: true });
  });
  return {
    id,
    database,
    config,
    admin,
    topicSet,
    /** Where the arena's Redis keys live (`<id>:`), deleted on disposal; `redisConfig()` is a service's Redis config under it. */
    keyPrefix,
    redisConfig: () => redisOf(env, keyPrefix),
    /** One Redis client of the arena (made on first use, unprefixed: keys are read as `keyPrefix + key`). */
    redis: (): Redis => (cache ??= redisClient(env)),
    /** The crash records the dying processes wrote, in order (of one failpoint, when named). */
    crashes: (failpoint?: FailpointName): Array<{ failpoint: FailpointName }> =>
      (fs.existsSync(failpointLog) ? fs.readFileSync(failpointLog, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { failpoint: FailpointName }) : []).filter(
        (c) => failpoint === undefined || c.failpoint === failpoint,
      ),
    /** A service as its own OS process, failpoints armed from the start (LAB_FAILPOINTS syntax). */
    start: async <N extends ServiceName, C extends ArenaServiceConfig<N>>(service: N, extra: Exactly<ArenaServiceConfig<N>, C>, failpoints?: string) => {
      // The common part plus the service's own keys is a ServiceConfigs[N]; TypeScript cannot see it through the generic N.
      const p = await startServiceProcess(service, { ...config, ...extra } as never, { failpointLog, ...(failpoints ? { failpoints } : {}) });
      processes.push(p);
      return p;
    },
    /** A service running in this process, stopped when the arena is disposed. */
    own: <S extends { stop(): Promise<unknown> }>(service: S): S => (deferred.push(() => service.stop()), service),
    /** Runs `cleanup` when the arena is disposed (first: before its processes, topics and database go), newest first. */
    defer: (cleanup: () => Promise<unknown>) => void deferred.push(cleanup),
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}

/** A Kafka-only arena: a prefix for its topics and groups (removed on disposal) and an admin client; what is deferred runs first, newest first. */
export async function createKafkaArena(env: LabEnvironment, name: string) {
  const id = isolationId(env, name);
  const admin = kafka(env, `${id}-admin`).admin();
  await admin.connect();
  const deferred: Array<() => Promise<unknown>> = [];
  const dispose = trackArena(async () => {
    for (const cleanup of deferred.reverse()) await cleanup().catch(() => undefined);
    await deleteTopicsWithPrefix(admin, id).catch(() => undefined);
    await deleteGroupsWithPrefix(admin, id).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  });
  return { id, admin, defer: (cleanup: () => Promise<unknown>) => void deferred.push(cleanup), dispose, [Symbol.asyncDispose]: dispose };
}

/**
 * Makes `cleanup` an arena's idempotent dispose and registers it for the `disposeArenas` safety net (for
 * arenas of another shape than `createArena`'s, e.g. a topic and a proxy of one producer case).
 */
export function trackArena(cleanup: () => Promise<void>, timeoutMs = 45_000): () => Promise<void> {
  let disposed: Promise<void> | undefined;
  // Bounded: a removal that hangs (a client call without a timeout) fails the case with this line
  // instead of holding the test until Vitest's bare timeout.
  const bounded = () => deadline(cleanup(), timeoutMs, () => new Error(`disposing an arena took over ${timeoutMs} ms (still waiting for: ${pendingWaits().join('; ') || 'no waitFor'})`));
  const dispose = (): Promise<void> => (disposed ??= (live.delete(dispose), bounded()));
  live.add(dispose);
  return dispose;
}

/** Tears down every arena not disposed yet, newest first (use as `afterEach(disposeArenas)`). */
export async function disposeArenas(): Promise<void> {
  for (const dispose of [...live].reverse()) await dispose().catch(() => undefined);
}

/**
 * A Redis Cluster arena (suites requiring `redisCluster: true`): a key prefix (`<id>:`), Toxiproxy links
 * of its own in front of every node with the cluster clients made through them (redis-cluster-links.ts),
 * and an outside observer. Disposal runs what was deferred first (heal: restart a killed node, SIGCONT a
 * paused one), then waits until the cluster is healthy again (a killed master rejoins as a replica:
 * roles may have swapped, suites read the topology), deletes the prefix's keys and the proxies. Its
 * nemesis is healed after what was deferred (a load stopped first, then the killed node restarted).
 */
export async function createRedisClusterArena(env: LabEnvironment, name: string) {
  const id = isolationId(env, name);
  const links = await redisClusterLinks(env, id);
  const observer = new RedisClusterObserver(env);
  await observer.waitHealthy();
  const nemesis = new Nemesis(env);
  const deferred: Array<() => Promise<unknown>> = [];
  const dispose = trackArena(async () => {
    for (const cleanup of deferred.reverse()) await cleanup().catch(() => undefined);
    await nemesis.heal().catch(() => undefined);
    await links.remove();
    await observer.waitHealthy().catch(() => undefined);
    await observer.deleteKeys(`${id}:`).catch(() => undefined);
    observer.close();
  }, 150_000);
  return {
    id,
    /** `<id>:<rest>`: the arena's keys (a `{tag}` in `rest` is the key's hash tag). */
    key: (rest: string) => `${id}:${rest}`,
    links,
    observer,
    /** Faults of this arena's case, healed on disposal (after what was deferred). */
    nemesis,
    /** The supervisor's name of the node listening on `port` (for process faults). */
    processOf: (port: number) => `redis-cluster-${observer.ports.indexOf(port) + 1}` as const,
    defer: (cleanup: () => Promise<unknown>) => void deferred.push(cleanup),
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}
