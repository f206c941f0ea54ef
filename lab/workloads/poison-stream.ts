/**
 * The poison-isolation workload: a paced stream of good deposits over a set of accounts, with poison
 * records (lab/clients/poison-producer.ts) interleaved on the SAME partitions, next to the accounts
 * whose events they would hold up; and the same stream without poison, as a baseline.
 *
 *   e005.property('…', { cases: poisonStreamCases, … })      // generator: accounts, deposits, the poison plan
 *   const baseline = await pacedPhase(stream, pool, c.good);                 // good events, applied, latencies
 *   const among = await pacedPhase(stream, pool, c.good, poisonPlan(c));    // …and the poison sent next to them
 *
 * Checked by lab/checkers/dead-letter.ts (every poison record a complete dead letter at attempt 1) and
 * lab/checkers/applied.ts (every good event applied once); the latencies are applied − sent.
 */
import fc from 'fast-check';
import type mysql from 'mysql2/promise';
import type { ParkedRecord } from '../checkers/dead-letter.ts';
import { errorClassOf, poisonKinds, poisonRecord, type PoisonKind } from '../clients/poison-producer.ts';
import type { accountStream } from '../clients/record-sender.ts';
import { sleep } from '../infra/ports.ts';
import { appliedAt, waitApplied } from '../observe/database.ts';
import type { EventEnvelope } from '../../src/contract.ts';

export const poisonStreamCases = fc.record({
  accounts: fc.integer({ min: 3, max: 6 }),
  /** Good deposits per phase. */
  good: fc.integer({ min: 30, max: 45 }),
  /** Extra poison beyond one of each kind: which kind, next to which account, after which good deposit. */
  poison: fc.array(fc.record({ kind: fc.constantFrom(...poisonKinds), account: fc.nat(), after: fc.nat() }), { minLength: 5, maxLength: 30 }),
  /** After which good deposit the one of each kind goes. */
  at: fc.array(fc.nat(), { minLength: poisonKinds.length, maxLength: poisonKinds.length }),
});
export type PoisonStreamCase = typeof poisonStreamCases extends fc.Arbitrary<infer C> ? C : never;

/** Every kind once, then the extra ones; account and position within the case's bounds. */
export function poisonPlan(c: PoisonStreamCase): Array<{ kind: PoisonKind; account: number; after: number }> {
  return [...poisonKinds.map((kind, k) => ({ kind, account: k, after: c.at[k]! })), ...c.poison].map((p) => ({ ...p, account: p.account % c.accounts, after: p.after % c.good }));
}

/** Pause between the records of a stream. */
export const paceMs = 10;

/** A paced phase: sends it, waits until its good events are applied; their latencies (DB applied_at − sent). */
export async function pacedPhase(stream: ReturnType<typeof accountStream>, pool: mysql.Pool, count: number, plan?: ReturnType<typeof poisonPlan>) {
  const sent = await pacedDeposits(stream, count, plan);
  const ids = sent.good.map((g) => g.e.eventId);
  await waitApplied(pool, ids, plan ? 'the deposits sent among poison' : 'the baseline deposits');
  const times = await appliedAt(pool, ids);
  return { ...sent, events: sent.good.map((g) => g.e), latencies: sent.good.map((g) => times.get(g.e.eventId)! - g.sentAt) };
}

/** Sends `count` deposits round the accounts, paced, and after deposit i the plan's poison for i; returns what was sent. */
export async function pacedDeposits(stream: ReturnType<typeof accountStream>, count: number, plan: ReturnType<typeof poisonPlan> = []) {
  const good: Array<{ e: EventEnvelope; sentAt: number }> = [];
  const parked: Array<ParkedRecord & { kind: PoisonKind }> = [];
  for (let i = 0; i < count; i += 1) {
    good.push(await stream.send(i, (accountId) => ({ type: 'FundsDeposited', accountId, amount: 100 + i })));
    await sleep(paceMs);
    for (const p of plan.filter((q) => q.after === i)) {
      const record = await poisonRecord(stream.sender.encode, p.kind, stream.accounts[p.account]!);
      parked.push({ ...record, ...(await stream.sender.send(stream.partitionOf(p.account), record.key, record.value, record.headers)), errorClass: errorClassOf(p.kind), attempts: 1, truncated: p.kind === 'oversized' });
      await sleep(paceMs);
    }
  }
  return { good, poison: parked };
}
