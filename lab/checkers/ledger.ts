/**
 * The composed ledger checker (after Jepsen's bank workload): from independent observations of one run
 * of the wallet pipeline, E-001's verdicts — every committed event on the topic and applied (no loss),
 * every acknowledged command applied, applied once, notified once, per-account order on the topic and in
 * the projection, money conserved, projection = domain, cache = DB. Pure: lab/observe/ledger.ts gathers
 * the observations.
 */
import { checkDelivery, type Attempt } from './delivery.ts';
import { checkPerKeyOrder } from './order.ts';
import { checkCache, checkConservation, checkEffectsOnce, checkProjection, stalenessMs, type BalanceState } from './state.ts';
import type { Verdict } from './verdict.ts';

export interface LedgerObservations {
  /** Every committed event (the outbox), with its account, version and commit time (epoch ms). */
  committed: Array<{ eventId: string; key: string; version: number; at: number }>;
  /** Event ids on the events topic in partition/offset order (duplicates included). */
  onTopic: string[];
  /** Applications per event id, and the applications in apply order. */
  applied: Map<string, number>;
  appliedInOrder: Array<{ key: string; version: number; eventId: string }>;
  /** The clients' commands with the outcome they saw (from the history). */
  acknowledged: Attempt[];
  notifications: Map<string, number>;
  money: { ledger: number; balances: number };
  domain: Map<string, BalanceState>;
  projected: Map<string, BalanceState>;
  cached: Map<string, BalanceState | undefined>;
  /** Live balance reads during the run. */
  reads: Array<{ key: string; time: number; version: number }>;
}

export function checkLedger(o: LedgerObservations): { verdicts: Verdict[]; topicDuplicates: number; stalenessMs: number[] } {
  const committed = o.committed.map((e) => ({ id: e.eventId, outcome: 'ok' as const }));
  // First occurrence of each event on the topic: duplicates are the relay's at-least-once and allowed
  // (the consumer's dedupe is what "applied once" checks).
  const firstOnTopic = [...new Set(o.onTopic)];
  const versionOf = new Map(o.committed.map((e) => [e.eventId, { key: e.key, version: e.version }]));
  const topicOrder = checkPerKeyOrder(firstOnTopic.filter((id) => versionOf.has(id)).map((id) => versionOf.get(id)!), { startVersion: 1 });
  topicOrder.checker = 'per-key order on the topic'; // tells publish-side from apply-side reordering
  const truth = new Map<string, Array<{ version: number; time: number }>>();
  for (const e of o.committed) truth.set(e.key, [...(truth.get(e.key) ?? []), { version: e.version, time: e.at }]);
  const verdicts = [
    checkDelivery(committed, o.applied.keys(), 'no loss'),
    checkDelivery(o.acknowledged, [...o.applied.keys()].filter((id) => o.acknowledged.some((a) => a.id === id)), 'acknowledged applied'),
    checkEffectsOnce(o.applied, 'applied once'),
    checkEffectsOnce(o.notifications, 'notified once'),
    checkDelivery(committed, firstOnTopic, 'every committed row on the topic'),
    topicOrder,
    checkPerKeyOrder(o.appliedInOrder, { startVersion: 1 }),
    checkConservation(o.money.ledger, o.money.balances),
    checkProjection(o.domain, o.projected),
    checkCache(o.projected, o.cached),
  ];
  return { verdicts, topicDuplicates: o.onTopic.length - firstOnTopic.length, stalenessMs: stalenessMs(o.reads, truth) };
}

/** How many anomalies a verdict found (any example counts, as do `recovered` ones; an unknown verdict is one). */
export function anomalies(v: Verdict): number {
  return Object.keys(v.examples).reduce((n, name) => n + (v.counts[name] ?? 0), 0) || (v.valid === true ? 0 : 1);
}
