/**
 * Sends records one at a time to a partition the caller picks, acks=all, and says where each landed and
 * when it was sent: for experiments that place records on purpose (poison between an account's good
 * events, every event of an account on one partition) and time them (latency = applied − sent).
 *
 *   const sender = await recordSender(env, arena.config.topics);  arena.defer(sender.close);
 *   const sent = await sender.sendEvent(0, envelope);                // { partition: 0, offset: 17, sentAt }
 *   await sender.send(0, 'acct-1', Buffer.from('{"x":1}'), headers);  // raw bytes (poison)
 *
 * Events go out as the relay would send them (docs/ARCHITECTURE.md): key = account id, the Avro envelope
 * in the registry's wire format, the event headers. `close` also deletes the schema subject it registered.
 */
import { EnvelopeSerde, envelopeHeaders, newEnvelope, RegistrySchemaSource, type EventEnvelope, type KafkaHeaders, type TopicNames, type WalletEventPayload } from '../../src/contract.ts';
import { kafka } from '../infra/clients.ts';
import { deleteSubject } from '../infra/isolation.ts';
import { walletEvents } from './event-producer.ts';
import type { LabEnvironment } from '../infra/environment.ts';

export interface Sent {
  partition: number;
  offset: number;
  /** Epoch ms, just before the send. */
  sentAt: number;
}

/** A sender to `topics.events` (its own idempotent producer); `close` it when done. */
export async function recordSender(env: LabEnvironment, topics: Pick<TopicNames, 'events'>) {
  const subject = `${topics.events}-value`;
  const serde = new EnvelopeSerde(new RegistrySchemaSource(env.descriptor.schemaRegistry.url), { subject });
  const producer = kafka(env, `${topics.events}-sender`, { retry: { retries: 10, initialRetryTime: 200 } }).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const send = async (partition: number, key: string, value: Buffer, headers: KafkaHeaders): Promise<Sent> => {
    const sentAt = Date.now();
    const [metadata] = await producer.send({ topic: topics.events, acks: -1, messages: [{ partition, key, value, headers }] });
    return { partition, offset: Number(metadata!.baseOffset), sentAt };
  };
  return {
    /** The envelope as the consumer will read it (Avro, registry wire format). */
    encode: (e: EventEnvelope) => serde.encode(e),
    send,
    sendEvent: async (partition: number, e: EventEnvelope) => send(partition, e.aggregateId, await serde.encode(e), envelopeHeaders(e)),
    close: async () => {
      await producer.disconnect().catch(() => undefined);
      await deleteSubject(env, subject);
    },
  };
}

export type RecordSender = Awaited<ReturnType<typeof recordSender>>;

/**
 * The events of a set of accounts through `sender`: account i on partition i mod `partitions` (so its
 * events keep their order), each event the account's next version.
 *
 *   const stream = accountStream(sender, ['acct-0', 'acct-1'], 3);
 *   await stream.open();                                  // the AccountOpened events, version 1
 *   const { e, sentAt } = await stream.send(5, (accountId) => ({ type: 'FundsDeposited', accountId, amount: 5 }));  // account 5 mod 2
 */
export function accountStream(sender: RecordSender, accounts: string[], partitions: number) {
  const openings = walletEvents(accounts, 0);
  const versions = new Map(accounts.map((a) => [a, 1]));
  return {
    accounts,
    sender,
    openings,
    /** The partition of account i (mod the number of accounts). */
    partitionOf: (i: number) => (i % accounts.length) % partitions,
    open: async () => {
      for (const [i, e] of openings.entries()) await sender.sendEvent(i % partitions, e);
    },
    /** Sends the next event of account i (mod the number of accounts). */
    send: async (i: number, payload: (accountId: string) => WalletEventPayload) => {
      const account = accounts[i % accounts.length]!;
      const e = newEnvelope(payload(account), { id: account, version: versions.set(account, versions.get(account)! + 1).get(account)! });
      return { e, ...(await sender.sendEvent((i % accounts.length) % partitions, e)) };
    },
  };
}
