/**
 * Produces wallet events straight to a topic, exactly as the relay would (the contract in
 * docs/ARCHITECTURE.md): key = account id, Avro envelope in the Confluent wire format, event headers.
 * For experiments about the consumer side, so they do not depend on the producer side's behaviour.
 */
import { EnvelopeSerde, envelopeHeaders, newEnvelope, RegistrySchemaSource, type EventEnvelope, type TopicNames } from '../../src/contract.ts';
import { kafka } from '../infra/clients.ts';
import type { LabEnvironment } from '../infra/environment.ts';

/** Account openings, then `deposits` deposits per account, with versions 1, 2, 3 … per account. */
export function walletEvents(accounts: string[], deposits: number, amount = (i: number) => 100 + i): EventEnvelope[] {
  const events: EventEnvelope[] = accounts.map((id) => newEnvelope({ type: 'AccountOpened', accountId: id, owner: `owner of ${id}`, currency: 'KRW' }, { id, version: 1 }));
  for (let i = 0; i < deposits; i += 1) {
    for (const id of accounts) events.push(newEnvelope({ type: 'FundsDeposited', accountId: id, amount: amount(i) }, { id, version: i + 2 }));
  }
  return events;
}

export async function produceEvents(env: LabEnvironment, topics: TopicNames, events: EventEnvelope[]): Promise<void> {
  const serde = new EnvelopeSerde(new RegistrySchemaSource(env.descriptor.schemaRegistry.url), { subject: `${topics.events}-value` });
  const producer = kafka(env, 'lab-event-producer').producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const messages = await Promise.all(events.map(async (e) => ({ key: e.aggregateId, value: await serde.encode(e), headers: envelopeHeaders(e) })));
    for (let i = 0; i < messages.length; i += 500) await producer.send({ topic: topics.events, acks: -1, messages: messages.slice(i, i + 500) });
  } finally {
    await producer.disconnect();
  }
}
