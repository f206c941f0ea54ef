/**
 * Dead-letter checker: is every record that should be parked in the DLQ there, with what an operator
 * needs to act on it?
 *
 *   const v = checkDeadLetters(parked, dlqRecords, { topic: topics.events, groupId, checkedAt: Date.now() });
 *   v.counts.missing + v.counts.incomplete     // 0: every parked record is a complete dead letter
 *
 * Complete means: the error class and a message; the origin (topic, partition, offset, consumer group);
 * the attempts it took; a first-failure time between its send and the check; no retry-not-before (it is
 * not going to be retried); the original key; the original value bytes — or, for a record too large for
 * the DLQ, the fallback: a proper prefix of the value, marked truncated, with the full size.
 * Pure: lab/observe/dead-letters.ts reads the DLQ.
 */
import { failureHeaders } from '../../src/contract.ts';
import { verdict, type Verdict } from './verdict.ts';

/** A record the consumer should have parked, as it was sent, and how it should have failed. */
export interface ParkedRecord {
  eventId: string;
  key: string;
  value: Buffer;
  partition: number;
  offset: number;
  /** Epoch ms. */
  sentAt: number;
  errorClass: string;
  attempts: number;
  /** Too large for the DLQ with its failure headers: a truncated fallback is expected. */
  truncated?: boolean;
}

/** A record read from the DLQ. */
export interface DeadLetter {
  key: string | null;
  eventId: string | undefined;
  headers: Record<string, string | undefined>;
  value: Buffer | null;
}

export interface DeadLetterContext {
  /** The topic the records were sent to. */
  topic: string;
  groupId: string;
  /** When the DLQ was read (epoch ms): no first failure after it. */
  checkedAt: number;
}

/** What is missing or wrong on one dead letter (empty: complete). */
export function deadLetterProblems(record: DeadLetter, parked: ParkedRecord, context: DeadLetterContext): string[] {
  const h = record.headers;
  const problems: string[] = [];
  const want = (name: string, value: string) => {
    if (h[name] !== value) problems.push(`${name} = ${h[name]}, expected ${value}`);
  };
  want(failureHeaders.errorClass, parked.errorClass);
  want(failureHeaders.originalTopic, context.topic);
  want(failureHeaders.originalPartition, String(parked.partition));
  want(failureHeaders.originalOffset, String(parked.offset));
  want(failureHeaders.attempts, String(parked.attempts));
  want(failureHeaders.consumerGroup, context.groupId);
  if (!h[failureHeaders.errorMessage]) problems.push('no error message');
  const first = Number(h[failureHeaders.firstFailureAt]);
  if (!(first >= parked.sentAt && first <= context.checkedAt)) problems.push(`first failure at ${h[failureHeaders.firstFailureAt]}, outside [${parked.sentAt}, ${context.checkedAt}]`);
  if (h[failureHeaders.retryNotBefore] !== undefined) problems.push('a retry-not-before header on a dead letter');
  if (record.key !== parked.key) problems.push(`key ${record.key}, expected ${parked.key}`);
  if (parked.truncated) {
    want(failureHeaders.valueTruncated, 'true');
    want(failureHeaders.originalValueBytes, String(parked.value.length));
    const kept = record.value ?? Buffer.alloc(0);
    if (!(kept.length < parked.value.length && parked.value.subarray(0, kept.length).equals(kept))) problems.push(`fallback value (${kept.length} bytes) is not a proper prefix of the original`);
  } else if (!record.value?.equals(parked.value)) {
    problems.push('value bytes changed');
  }
  return problems;
}

/**
 * `missing`: parked, not in the DLQ; `incomplete`: in the DLQ without what an operator needs (with the
 * problems); `duplicated`: in the DLQ more than once; `unexpected`: in the DLQ, never parked.
 */
export function checkDeadLetters(parked: ParkedRecord[], dlq: DeadLetter[], context: DeadLetterContext): Verdict {
  const byId = new Map<string, DeadLetter[]>();
  for (const record of dlq) byId.set(record.eventId ?? '', [...(byId.get(record.eventId ?? '') ?? []), record]);
  const expected = new Set(parked.map((p) => p.eventId));
  const missing: string[] = [];
  const incomplete: Array<{ eventId: string; problems: string[] }> = [];
  for (const p of parked) {
    const record = byId.get(p.eventId)?.[0];
    if (!record) missing.push(p.eventId);
    else {
      const problems = deadLetterProblems(record, p, context);
      if (problems.length) incomplete.push({ eventId: p.eventId, problems });
    }
  }
  const duplicated = [...byId].filter(([id, records]) => expected.has(id) && records.length > 1).map(([id, records]) => ({ id, times: records.length }));
  const unexpected = [...byId.keys()].filter((id) => !expected.has(id));
  return verdict('dead letters complete', { missing, incomplete, duplicated, unexpected }, { parked: parked.length, inDlq: dlq.length });
}
