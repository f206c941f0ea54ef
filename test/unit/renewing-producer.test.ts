/**
 * RenewingProducer: after a failed send no other record goes through that kafkajs producer (its sequence
 * numbers were taken back: the next record could be deduplicated onto the failed one and never written).
 */
import type { Producer, RecordMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { RenewingProducer } from '../../src/kafka/renewing-producer.ts';

const topic = 't';
const ack = (offset: number): RecordMetadata => ({ topicName: topic, partition: 0, errorCode: 0, baseOffset: String(offset) });

/** Fake producers numbered from 1; `answers` decides each send's outcome by call order. */
function factory(answers: Array<'ok' | 'fail' | 'slow-fail'>) {
  const sends: Array<{ producer: number; key: string }> = [];
  const disconnected: number[] = [];
  let created = 0;
  let call = 0;
  const create = () => {
    const id = (created += 1);
    return {
      connect: async () => undefined,
      disconnect: async () => void disconnected.push(id),
      send: async ({ messages }: { messages: Array<{ key: string }> }) => {
        const answer = answers[call++] ?? 'ok';
        sends.push({ producer: id, key: messages[0]!.key });
        if (answer === 'slow-fail') await new Promise((resolve) => setTimeout(resolve, 50));
        if (answer !== 'ok') throw new Error('NOT_ENOUGH_REPLICAS after the append');
        return [ack(call)];
      },
    } as unknown as Producer;
  };
  return { create, sends, disconnected, created: () => created };
}

describe('RenewingProducer', () => {
  it('keeps one producer while sends succeed', async () => {
    const f = factory(['ok', 'ok']);
    const publisher = new RenewingProducer(f.create);
    await publisher.connect();
    await publisher.send(topic, { key: 'a', value: 'a' });
    await publisher.send(topic, { key: 'b', value: 'b' });
    expect(f.created()).toBe(1);
    expect(publisher.retired).toBe(0);
  });

  it('replaces the producer after a failed send: the next record goes through a new one', async () => {
    const f = factory(['fail', 'ok']);
    const retired: unknown[] = [];
    const publisher = new RenewingProducer(f.create, (error) => retired.push(error));
    await expect(publisher.send(topic, { key: 'a', value: 'a' })).rejects.toThrow('NOT_ENOUGH_REPLICAS');
    await publisher.send(topic, { key: 'b', value: 'b' });
    expect(f.sends).toEqual([{ producer: 1, key: 'a' }, { producer: 2, key: 'b' }]);
    expect(f.disconnected).toEqual([1]);
    expect(publisher.retired).toBe(1);
    expect(retired).toHaveLength(1);
  });

  it('lets no concurrent send slip in on the failing producer', async () => {
    const f = factory(['slow-fail', 'ok', 'ok']);
    const publisher = new RenewingProducer(f.create);
    const results = await Promise.allSettled(['a', 'b', 'c'].map((key) => publisher.send(topic, { key, value: key })));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(f.sends).toEqual([{ producer: 1, key: 'a' }, { producer: 2, key: 'b' }, { producer: 2, key: 'c' }]);
  });

  it('a send resolved without an acknowledgement counts as failed, and replaces the producer too', async () => {
    let created = 0;
    const publisher = new RenewingProducer(() => ({ connect: async () => undefined, disconnect: async () => undefined, send: async () => ((created += 1), []) }) as unknown as Producer);
    await expect(publisher.send(topic, { key: 'a', value: 'a' })).rejects.toThrow(/without an acknowledgement/);
    expect(publisher.retired).toBe(1);
  });
});
