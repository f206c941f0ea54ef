import { describe, expect, it } from 'vitest';
import { checkDeadLetters, deadLetterProblems, type DeadLetter, type ParkedRecord } from '../../lab/checkers/dead-letter.ts';
import { failureHeaders } from '../../src/kafka/headers.ts';

const context = { topic: 'x.wallet.events', groupId: 'x.projection', checkedAt: 2_000 };
const parked = (eventId: string, over: Partial<ParkedRecord> = {}): ParkedRecord => ({ eventId, key: 'acct-0', value: Buffer.from(`value of ${eventId}`), partition: 1, offset: 7, sentAt: 1_000, errorClass: 'invalid-amount', attempts: 1, ...over });
/** The dead letter the consumer writes for `p`: complete. */
const letter = (p: ParkedRecord, headers: Record<string, string | undefined> = {}, value: Buffer | null = p.value): DeadLetter => ({
  key: p.key,
  eventId: p.eventId,
  value,
  headers: {
    [failureHeaders.errorClass]: p.errorClass, [failureHeaders.errorMessage]: 'amount must be > 0', [failureHeaders.originalTopic]: context.topic, [failureHeaders.originalPartition]: String(p.partition),
    [failureHeaders.originalOffset]: String(p.offset), [failureHeaders.attempts]: String(p.attempts), [failureHeaders.consumerGroup]: context.groupId, [failureHeaders.firstFailureAt]: '1500',
    ...headers,
  },
});

describe('dead-letter checker', () => {
  it('passes a complete dead letter per parked record', () => {
    const records = [parked('a'), parked('b', { attempts: 4, errorClass: 'FailpointError' })];
    const v = checkDeadLetters(records, records.map((p) => letter(p)), context);
    expect(v.valid).toBe(true);
    expect(v.counts).toMatchObject({ missing: 0, incomplete: 0, duplicated: 0, unexpected: 0, parked: 2, inDlq: 2 });
  });

  it('names every missing or wrong part of a dead letter', () => {
    const p = parked('a');
    const problems = deadLetterProblems(
      { ...letter(p, { [failureHeaders.attempts]: '2', [failureHeaders.errorMessage]: undefined, [failureHeaders.firstFailureAt]: '2500', [failureHeaders.retryNotBefore]: '3000' }, Buffer.from('changed')), key: 'acct-9' },
      p,
      context,
    );
    expect(problems).toEqual([
      `${failureHeaders.attempts} = 2, expected 1`,
      'no error message',
      'first failure at 2500, outside [1000, 2000]',
      'a retry-not-before header on a dead letter',
      'key acct-9, expected acct-0',
      'value bytes changed',
    ]);
  });

  it('accepts a marked proper prefix for a record too large for the DLQ, and nothing else', () => {
    const p = parked('big', { value: Buffer.alloc(100, 'x'), truncated: true, errorClass: 'bad-magic-byte' });
    const marks = { [failureHeaders.valueTruncated]: 'true', [failureHeaders.originalValueBytes]: '100' };
    expect(deadLetterProblems(letter(p, marks, Buffer.alloc(10, 'x')), p, context)).toEqual([]);
    expect(deadLetterProblems(letter(p, marks, Buffer.alloc(10, 'y')), p, context)).toEqual(['fallback value (10 bytes) is not a proper prefix of the original']);
    expect(deadLetterProblems(letter(p, {}, Buffer.alloc(10, 'x')), p, context)).toEqual([`${failureHeaders.valueTruncated} = undefined, expected true`, `${failureHeaders.originalValueBytes} = undefined, expected 100`]);
  });

  it('flags missing, incomplete, duplicated and unexpected dead letters', () => {
    const [a, b, c] = [parked('a'), parked('b'), parked('c')];
    const v = checkDeadLetters([a, b, c], [letter(a), letter(a), letter(b, { [failureHeaders.originalOffset]: '8' }), letter(parked('stranger'))], context);
    expect(v.valid).toBe(false);
    expect(v.counts).toMatchObject({ missing: 1, incomplete: 1, duplicated: 1, unexpected: 1 });
    expect(v.examples.missing).toEqual(['c']);
    expect(v.examples.incomplete).toEqual([{ eventId: 'b', problems: [`${failureHeaders.originalOffset} = 8, expected 7`] }]);
  });
});
