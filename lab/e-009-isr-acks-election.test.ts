/**
 * E-009 — ISR, min.insync.replicas, acks and leader election.
 *
 * Question  Which acknowledged writes survive a leader's death, and what decides it: acks, min ISR, or
 *           how the next leader is elected (from the ISR, from the eligible leader replicas, unclean)?
 * Setup     Kafka 4.3.1 KRaft (ELR on), 3 brokers, broker-to-broker links through Toxiproxy, replica.lag.
 *           time.max.ms 3000. Per arm a partition, replicas [1, 2, 3], leader 1, min.insync.replicas (and
 *           unclean.leader.election.enable) set on the topic: the controller reads the topic's value first.
 *           Seen from outside: an admin of its own (leader, ISR, HW), Kafka's TopicCommand (ISR, ELR) and
 *           ClusterTool (unfenced brokers), a fresh consumer reading the log back; ❌1: ConsoleConsumer too.
 * Fault     ❌1 acks=1, min ISR 2: replication from 1 cut; 5 writes; ISR shrinks to {1} (ELR {2, 3}); 5 more;
 *              SIGKILL 1 → 2 elected from the ELR; 1 restarted.
 *           ❌2 min ISR 1, unclean on: replication from 1 cut; 5 acks=all writes, acknowledged once the ISR is
 *              {1} (not below min ISR: no ELR); SIGSTOP 1 → fenced after 6 s → unclean election; SIGCONT.
 *           ❌3/✅ acks=all, kafkajs idempotent producer, min ISR 2, unclean off, a writer all along: SIGKILL 3
 *              (one down), SIGKILL 2 (two down), SIGTERM 1 (controlled stop of the last leader); 2 and 3 back,
 *              then 1. ❌3: after a failed send the writer moves on to the next record; ✅: it sends it again.
 * Expected  ❌1 lost = acked = 10, every write after the cut. acks=1 is acknowledged on the leader's append;
 *              with ISR {1} < min ISR 2 the leader holds the HW at 5 (Kafka ≥ 3.7): nobody could read them.
 *              The controller elects 2 from the ELR — a clean election: 2 has all below the HW — and 1, back,
 *              truncates its log to where the new leader epoch starts (5).
 *           ❌2 lost = acked = 5: acks=all waits for the ISR only, min ISR 1 lets it be the leader alone (HW
 *              10). The new leader was in neither ISR nor ELR: unclean; 1 truncates the 5 on return.
 *           ❌3 lost = 1. The send in flight when 2 died was appended on 1 and failed (timeout, then
 *              NOT_ENOUGH_REPLICAS); kafkajs gives its sequence number to the next record, which 1, back,
 *              takes for a retry of the appended one: acknowledged at that record's offset, never written.
 *           ✅  0 lost, 0 duplicates (the resent record is deduplicated onto its first append). Both: one
 *              down, writes go on; two down, NOT_ENOUGH_REPLICAS; 2 and 3 back, no leader (not in the ISR; 2,
 *              killed, left the ELR on registering again) until 1 returns, elected from the ELR.
 * Numbers   acked, lost (acknowledged, not on the log), onLog, hw (before the death), electedMs, election
 *           (1 ISR, 2 ELR, 3 unclean, judged on TopicCommand's state before). ❌3/✅: ackedElsewhere (acked at
 *           an offset holding another record), unackedOnLog, duplicates, ackedOneDown, rejected,
 *           leaderlessWithTwoBack, unavailableMs (first rejected write → first acknowledged after 1 is back).
 */
import type { Admin, Producer } from 'kafkajs';
import { createTopicsAndWait } from '../src/contract.ts';
import { createKafkaArena } from './infra/arena.ts';
import { directKafka, kafka } from './infra/clients.ts';
import { sleep, waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { atLeast, equals, experiment } from './kit/index.ts';
import { Nemesis } from './nemesis/nemesis.ts';
import { consoleConsumerCount } from './observe/console-consumer.ts';
import { describePartition, electionKind, unfencedBrokers, type PartitionState } from './observe/partition-state.ts';
import { readTopic } from './observe/topic.ts';
import type { History } from './history/history.ts';
import { deadline } from './util/deadline.ts';

const env = labEnvironment({ kafka: { replicationLinks: true, cluster: { 'replica.lag.time.max.ms': '3000' } } });
type Arena = Awaited<ReturnType<typeof createKafkaArena>>;
const [W, A, B] = [5, 5, 5]; // warm-up (replicated everywhere), writes before / after the ISR shrank
const e009 = experiment({ id: 'E-009', title: 'ISR, min ISR, acks and leader election', suite: 'lab/e-009',
  question: 'Which acknowledged writes survive a leader\'s death, and what decides it: acks, min ISR, or how the next leader is elected (from the ISR, from the eligible leader replicas, unclean)?',
  arena: (label) => createKafkaArena(env, `e009_${label}`) });
const electionCode = { none: 0, same: 0, clean: 1, elr: 2, unclean: 3 } as const;

/** The arm's topic (one partition, leader 1, ISR full) and an observer of its own, straight to the brokers. */
async function setup(arena: Arena, configs: Record<string, string>) {
  const topic = `${arena.id}.log`;
  await createTopicsAndWait(arena.admin, [{ topic, replicaAssignment: [{ partition: 0, replicas: [1, 2, 3] }], configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }]);
  // A kafkajs admin that knew a dead broker answered nothing for 60 s after another was elected: it dials
  // only brokers said to be up (`down`), and a failed question drops it (the next one dials afresh).
  let up = env.brokers;
  const connect = async () => { const a = (await directKafka(env, `${arena.id}-observer`, { brokers: up, requestTimeout: 2000, retry: { retries: 0 } })).admin(); await a.connect(); return a; };
  let observer: Admin | undefined; // dialled on the first question: every question is asked again until answered
  const down = (...ids: number[]) => { up = brokersBut(...ids); void observer?.disconnect().catch(() => undefined); observer = undefined; };
  arena.defer(async () => observer?.disconnect());
  const ask = <T>(question: (admin: Admin) => Promise<T>): Promise<T | undefined> =>
    deadline((async () => question((observer ??= await connect())))(), 5000, () => new Error('no answer in 5 s'))
      .catch(() => void (void observer?.disconnect().catch(() => undefined), (observer = undefined)));
  const state = async () => (await ask((a) => a.fetchTopicMetadata({ topics: [topic] })))?.topics[0]?.partitions[0];
  const until = (what: string, test: (p: { leader: number; isr: number[] }) => boolean, timeoutMs = 60_000) =>
    waitFor(`${topic}: ${what}`, async () => { const p = await state(); return p !== undefined && test(p); }, { timeoutMs, intervalMs: 200 });
  const high = async () => { let hw = NaN; await waitFor(`${topic}: its high watermark`, async () => !Number.isNaN((hw = Number((await ask((a) => a.fetchTopicOffsets(topic)))?.[0]?.high)))); return hw; };
  await until('leader 1, ISR full', (p) => p.leader === 1 && p.isr.length === 3);
  return { topic, down, state, until, high };
}

async function producer(arena: Arena, options: { idempotent?: boolean } = {}): Promise<Producer> {
  const p = kafka(env, `${arena.id}-producer`).producer({ allowAutoTopicCreation: false, ...options, ...(options.idempotent ? { maxInFlightRequests: 1, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 } } : {}) });
  await p.connect();
  arena.defer(() => p.disconnect());
  return p;
}

/** `n` writes, one send() each, one after the other; the values (all acknowledged, or it throws). */
async function write(p: Producer, topic: string, tag: string, n: number, acks: -1 | 1): Promise<string[]> {
  for (let i = 0; i < n; i += 1) await p.send({ topic, acks, messages: [{ partition: 0, value: `${tag}-${i}` }] });
  return Array.from({ length: n }, (_, i) => `${tag}-${i}`);
}

/** The log read back by a fresh consumer: values → offset, offset → value, and how many records. */
async function onLog(topic: string, expected: number) {
  const records = (await readTopic(env, topic, { expected, quietMs: 1000, timeoutMs: 30_000 })).map((r) => [r.value?.toString() ?? '', r.offset] as const);
  return Object.assign(new Map(records), { at: new Map(records.map(([value, offset]) => [offset, value])), records: records.length });
}

const show = (s: PartitionState) => `leader ${s.leader < 0 ? 'none' : s.leader}, ISR [${s.isr}], ELR [${s.elr}], last known ELR [${s.lastKnownElr}]`;
const brokersBut = (...down: number[]) => env.descriptor.kafka.brokers.filter((b) => !down.includes(b.id)).map((b) => b.address);

/** The leader goes (`fault`) while the ISR is {1}; a new one is elected; everything healed, the ISR full again. */
async function leaderDies(nemesis: Nemesis, topic: string, setupOf: Awaited<ReturnType<typeof setup>>, fault: () => Promise<void>, log: (line: string) => void) {
  const before = await describePartition(env, topic);
  await fault();
  const died = Date.now();
  setupOf.down(1);
  await setupOf.until('a new leader', (p) => p.leader > 0 && p.leader !== 1);
  const electedMs = Date.now() - died;
  const after = await describePartition(env, topic, 0, brokersBut(1));
  const kind = electionKind(before, after.leader);
  log(`before: ${show(before)}; ${electedMs} ms after broker 1 went: ${show(after)} — ${kind === 'elr' ? 'elected from the ELR' : kind === 'clean' ? 'elected from the ISR' : `a${kind === 'unclean' ? 'n unclean' : ` ${kind}`} election`}`);
  await nemesis.heal(); setupOf.down();
  await setupOf.until('ISR full again', (p) => p.isr.length === 3, 180_000);
  return { before, electedMs, election: electionCode[kind] };
}

e009.arm('❌ acks=1: the leader dies while its followers lag', {
  label: 'acks1', caseTimeoutMs: 360_000,
  expect: { acked: equals(A + B), lost: equals('acked'), onLog: equals(W), console: equals('onLog'), hw: equals(W), election: equals(electionCode.elr) },
  sometimes: { diedLagging: atLeast(1) },
  run: async ({ arena, history, log }) => {
    const nemesis = new Nemesis(env, history); arena.defer(() => nemesis.heal());
    const s = await setup(arena, { 'min.insync.replicas': '2' });
    const p = await producer(arena);
    await write(p, s.topic, 'warm-up', W, -1);
    await nemesis.cutReplication({ from: 1 });
    const acked = await write(p, s.topic, 'before-shrink', A, 1);
    await s.until('ISR shrunk to the leader', (st) => st.isr.length === 1);
    acked.push(...(await write(p, s.topic, 'after-shrink', B, 1)));
    const hw = await s.high();
    const died = await leaderDies(nemesis, s.topic, s, () => nemesis.kill('broker-1'), log);
    const found = await onLog(s.topic, W);
    const console = await consoleConsumerCount(env, s.topic, `${arena.id}-console`); // its group is the arena's (removed with it)
    return { acked: acked.length, lost: acked.filter((v) => !found.has(v)).length, onLog: found.size, console, hw, electedMs: died.electedMs, election: died.election,
      diedLagging: died.before.leader === 1 && died.before.isr.length === 1 && hw < W + acked.length ? 1 : 0 };
  },
});

e009.arm('❌ min ISR 1 + unclean election: acks=all writes acknowledged by the leader alone', {
  label: 'unclean', caseTimeoutMs: 360_000,
  expect: { acked: equals(A), lost: equals('acked'), onLog: equals(W), hw: equals(W + A), election: equals(electionCode.unclean) },
  sometimes: { diedLagging: atLeast(1) },
  run: async ({ arena, history, log }) => {
    const nemesis = new Nemesis(env, history); arena.defer(() => nemesis.heal());
    const s = await setup(arena, { 'min.insync.replicas': '1', 'unclean.leader.election.enable': 'true' });
    const p = await producer(arena, { idempotent: true });
    await write(p, s.topic, 'warm-up', W, -1);
    await nemesis.cutReplication({ from: 1 });
    // The first write waits: the followers lag only once the leader has a record they lack, and after
    // replica.lag.time.max.ms the leader drops them from the ISR, which then satisfies min ISR 1.
    const acked = await write(p, s.topic, 'alone', A, -1);
    await s.until('ISR shrunk to the leader', (st) => st.isr.length === 1);
    const hw = await s.high();
    const died = await leaderDies(nemesis, s.topic, s, () => nemesis.pause('broker-1'), log);
    const found = await onLog(s.topic, W);
    return { acked: acked.length, lost: acked.filter((v) => !found.has(v)).length, onLog: found.size, hw, electedMs: died.electedMs, election: died.election,
      diedLagging: died.before.isr.length === 1 && died.before.elr.length === 0 ? 1 : 0 };
  },
});

/** Writes records one by one (acks=all) till stopped: each attempt's outcome, time, offset acknowledged;
 * after a failed send it sends the same record again (`resend`) or moves on to the next. */
function writer(p: Producer, topic: string, resend: boolean) {
  const attempts: Array<{ value: string; at: number; offset?: number; error?: string }> = [];
  let running = true;
  const errorType = (e: unknown): string => { // the protocol error under kafkajs's retry wrapper
    for (let c = e as { type?: string; cause?: unknown } | undefined; c; c = c.cause as typeof c) if (c.type) return c.type; return (e as Error).name; };
  const done = (async () => {
    for (let i = 0; running; await sleep(50)) {
      const value = `w-${i}`;
      try {
        const [meta] = await p.send({ topic, acks: -1, timeout: 5000, messages: [{ partition: 0, value }] });
        attempts.push({ value, at: Date.now(), offset: Number(meta!.baseOffset) });
        i += 1;
      } catch (error) {
        attempts.push({ value, at: Date.now(), error: errorType(error) });
        if (!resend) i += 1;
        await sleep(200);
      }
    }
  })();
  return { attempts, acked: () => attempts.filter((a) => a.offset !== undefined), stop: async () => { running = false; await done; } };
}

/** Brokers go one by one under a writer (3 SIGKILL, 2 SIGKILL, 1 controlled stop), come back 2 and 3 first, then 1. */
async function oneByOne({ arena, history, log }: { arena: Arena; history: History; log: (line: string) => void }, resend: boolean) {
  const nemesis = new Nemesis(env, history);
  // Brokers restarted side by side (one after the other can outlast the arena's disposal budget), then the rest.
  arena.defer(async () => { await Promise.all([1, 2, 3].map((id) => nemesis.healTarget(`broker-${id}`))); await nemesis.heal(); });
  const s = await setup(arena, { 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false' });
  const w = writer(await producer(arena, { idempotent: true }), s.topic, resend);
  arena.defer(() => w.stop());
  const ackedSince = (t: number) => w.acked().filter((a) => a.at > t).length;
  await waitFor('5 writes acknowledged', async () => w.acked().length >= 5, { timeoutMs: 30_000 });
  await nemesis.kill('broker-3');
  s.down(3);
  await s.until('ISR {1, 2}', (st) => st.isr.length === 2 && !st.isr.includes(3));
  const shrunk = Date.now();
  await waitFor('5 writes acknowledged with broker 3 down', async () => ackedSince(shrunk) >= 5, { timeoutMs: 30_000 });
  const ackedOneDown = ackedSince(shrunk);
  await nemesis.kill('broker-2');
  s.down(2, 3);
  const twoDown = Date.now();
  const rejections = () => w.attempts.filter((a) => a.at > twoDown && /NOT_ENOUGH_REPLICAS/.test(a.error ?? '')).length;
  await waitFor('a write rejected with NOT_ENOUGH_REPLICAS', async () => rejections() >= 1, { timeoutMs: 60_000 });
  const lastLeader = await describePartition(env, s.topic, 0, brokersBut(2, 3));
  await nemesis.stop('broker-1'); // returns once it exited: no broker is left to answer
  await Promise.all([nemesis.healTarget('broker-2'), nemesis.healTarget('broker-3')]);
  s.down(1);
  await waitFor('brokers 2 and 3 unfenced again', async () => (await unfencedBrokers(brokersBut(1)).catch(() => [])).length === 2, { timeoutMs: 90_000, intervalMs: 500 });
  // The controller elects on unfence; 5 s of samples after both are back show whether it did.
  let led = 0;
  for (const end = Date.now() + 5000; Date.now() < end; await sleep(250)) if (((await s.state())?.leader ?? -1) > 0) led += 1;
  const withTwoBack = await describePartition(env, s.topic, 0, brokersBut(1));
  await nemesis.healTarget('broker-1');
  s.down();
  await s.until('a leader again', (st) => st.leader > 0, 120_000);
  const elected = await describePartition(env, s.topic, 0);
  const returned = Date.now();
  await waitFor('a write acknowledged after broker 1 returned', async () => ackedSince(returned) >= 1, { timeoutMs: 120_000 });
  await w.stop();
  await nemesis.heal();
  await s.until('ISR full again', (st) => st.isr.length === 3, 180_000);
  const acked = w.acked();
  const found = await onLog(s.topic, acked.length);
  const firstRejected = w.attempts.find((a) => a.at > twoDown && a.error)!.at;
  log(`${resend ? 'resend' : 'move on'}: last leader: ${show(lastLeader)}; 2 and 3 back: ${show(withTwoBack)}; 1 back: ${show(elected)}`);
  log(`${resend ? 'resend' : 'move on'}: ${w.attempts.filter((a) => a.error).length} of ${w.attempts.length} sends failed (${[...new Set(w.attempts.filter((a) => a.error).map((a) => a.error))].join(', ')}); acknowledged at an offset holding another record: ${acked.filter((a) => found.at.get(a.offset!) !== a.value).map((a) => `${a.value} → ${a.offset} (${found.at.get(a.offset!)})`).join(', ') || 'none'}`);
  const ackedValues = new Set(acked.map((a) => a.value));
  return { acked: acked.length, lost: acked.filter((a) => !found.has(a.value)).length, ackedElsewhere: acked.filter((a) => found.at.get(a.offset!) !== a.value).length,
    unackedOnLog: new Set(w.attempts.filter((a) => a.error && !ackedValues.has(a.value) && found.has(a.value)).map((a) => a.value)).size, duplicates: found.records - found.size,
    ackedOneDown, rejected: rejections(), leaderlessWithTwoBack: led === 0 && withTwoBack.leader < 0 ? 1 : 0,
    unavailableMs: acked.find((a) => a.at > returned)!.at - firstRejected, election: electionCode[electionKind(withTwoBack, elected.leader)] };
}

const sawEveryState = { ackedOneDown: atLeast(1), rejected: atLeast(1), leaderlessWithTwoBack: atLeast(1) };

e009.arm('❌ acks=all, idempotent (kafkajs), min ISR 2: the writer moves on after a failed send', {
  label: 'moveon', caseTimeoutMs: 540_000,
  expect: { lost: equals(1), ackedElsewhere: equals(1), unackedOnLog: equals(1), duplicates: equals(0), election: equals(electionCode.elr) },
  sometimes: sawEveryState,
  run: (context) => oneByOne(context, false),
});

e009.arm('✅ acks=all, idempotent, min ISR 2, clean election only: a failed send is sent again', {
  label: 'resend', caseTimeoutMs: 540_000,
  expect: { lost: equals(0), ackedElsewhere: equals(0), duplicates: equals(0), election: equals(electionCode.elr) },
  sometimes: sawEveryState,
  run: (context) => oneByOne(context, true),
});
