/**
 * What the consumer parked and what came back: the DLQ and retry topics of one topic set, and the
 * replayed copies on its events topic, read from outside (lab/observe/topic.ts: a fresh read_committed
 * observer group, never the services' own code paths).
 *
 *   const parked = deadLetters(env, admin, topics);
 *   await parked.caughtUp(12);                       // the DLQ holds ≥ 12 records (waits for them)
 *   const dlq = await parked.read(12);               // every dead letter, with its headers and bytes
 *   await parked.count();  await parked.retried();   // DLQ records; records per retry topic { 'retry-1': 3, … }
 *   const copies = await parked.replayed(eventsBefore + 30);  // events-topic records by replay id
 */
import type { Admin } from 'kafkajs';
import type { LabEnvironment } from '../infra/environment.ts';
import { waitFor } from '../infra/ports.ts';
import { readTopic, recordCount, type ObservedRecord } from './topic.ts';
import { eventHeaders, type TopicNames } from '../../src/contract.ts';

export function deadLetters(env: LabEnvironment, admin: Admin, topics: TopicNames) {
  return {
    /** Records in the DLQ now. */
    count: () => recordCount(admin, topics.dlq),
    /** Waits until the DLQ holds at least `n` records. */
    caughtUp: (n: number, timeoutMs = 60_000) => waitFor(`${n} records in the DLQ`, async () => (await recordCount(admin, topics.dlq)) >= n, { timeoutMs }),
    /** Every dead letter (at least `expected`, then a quiet period, so extra ones show up too). */
    read: (expected: number, timeoutMs = 30_000) => readTopic(env, topics.dlq, { expected, quietMs: 300, timeoutMs }),
    /** Records sent to each retry topic, by level (`retry-1` …): one per hop. */
    retried: async (): Promise<Record<string, number>> =>
      Object.fromEntries(await Promise.all(topics.retry.map(async (topic, i) => [`retry-${i + 1}`, await recordCount(admin, topic)] as const))),
    /** The replayed copies on the events topic (read until it holds `expected` records), by replay id. */
    replayed: async (expected: number): Promise<Map<string, ObservedRecord[]>> => {
      const byReplay = new Map<string, ObservedRecord[]>();
      for (const record of await readTopic(env, topics.events, { expected, quietMs: 300, timeoutMs: 30_000 })) {
        const replayId = record.headers[eventHeaders.replayId];
        if (replayId !== undefined) byReplay.set(replayId, [...(byReplay.get(replayId) ?? []), record]);
      }
      return byReplay;
    },
  };
}
