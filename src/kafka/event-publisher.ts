/**
 * Publishes event envelopes to `topics.events` exactly as the pipeline's contract says:
 *   key = envelope.aggregateId (UTF-8), value = EnvelopeSerde (Avro, Confluent wire format, subject
 *   `${topic}-value`), headers { event-id, event-type, trace-id, aggregate-id }, acks = -1.
 * One module so the outbox relay and the command-service's `direct` mode produce byte-identical records.
 *
 * Producer settings:
 *   idempotent: true (default)  the broker drops retried duplicates (producer id + sequence numbers);
 *                               maxInFlightRequests 5 keeps per-partition order (Kafka guarantees it for
 *                               idempotent producers with at most 5 in flight).
 *   idempotent: false           the E-003 anti-pattern: a retry after a lost response writes the record
 *                               twice, and with 5 in flight a retried request can overtake a later one.
 * Retries are kafkajs's defaults (5, from 300 ms, ≈ 9 s in all) in both modes unless `retry` is given.
 * (kafkajs documents MAX_SAFE_INTEGER retries for idempotent producers, but 2.2.4's Kafka#producer always
 * passes a merged retry object, so the bounded default applies; we rely on that being bounded: an endless
 * retry never reports a dead cluster, so the relay could neither record the failure nor back off.)
 * After a failed send the producer is thrown away and a new one (new producer id) is made for the next
 * attempt, so no sequence state survives an abandoned batch.
 */
import { Kafka, Partitioners, logLevel as kafkaLogLevel, type LogEntry, type Message, type Producer, type RetryOptions } from 'kafkajs';
import type { EventEnvelope } from '../envelope/envelope.ts';
import { RegistrySchemaSource } from '../envelope/schema-source.ts';
import { EnvelopeSerde } from '../envelope/serde.ts';
import type { Logger } from '../observability/logger.ts';
import { eventHeaders, type KafkaHeaders } from './headers.ts';

export interface EventPublisherConfig {
  brokers: string[];
  schemaRegistryUrl: string;
  /** `topics.events`; the serde's subject is `${topic}-value`. */
  topic: string;
  clientId: string;
  idempotent?: boolean;
  /** kafkajs retry options for connecting and sending (default: kafkajs's own defaults). */
  retry?: RetryOptions;
  logger?: Logger;
}

/** An event to publish; `headers` (e.g. as stored in an outbox row) default to the envelope's. */
export interface OutgoingEvent {
  envelope: EventEnvelope;
  headers?: KafkaHeaders;
}

/** The Kafka headers every event record carries. */
export function envelopeHeaders(envelope: EventEnvelope): KafkaHeaders {
  return {
    [eventHeaders.eventId]: envelope.eventId,
    [eventHeaders.eventType]: envelope.eventType,
    [eventHeaders.traceId]: envelope.traceId,
    [eventHeaders.aggregateId]: envelope.aggregateId,
  };
}

export class EventPublisher {
  readonly serde: EnvelopeSerde;
  private readonly kafka: Kafka;
  private producer?: Promise<Producer>;

  constructor(private readonly config: EventPublisherConfig) {
    this.serde = new EnvelopeSerde(new RegistrySchemaSource(config.schemaRegistryUrl), { subject: `${config.topic}-value` });
    const logger = config.logger?.child({ component: 'kafkajs' });
    this.kafka = new Kafka({
      clientId: config.clientId,
      brokers: config.brokers,
      connectionTimeout: 3000,
      ...(config.retry ? { retry: config.retry } : {}),
      // kafkajs logs every failed connection attempt at ERROR; the services log each failed publish
      // once with its consequence (500, backoff), so kafkajs's own lines go to debug.
      logLevel: kafkaLogLevel.WARN,
      logCreator: () => (entry: LogEntry) => logger?.debug({ namespace: entry.namespace, ...entry.log }, entry.log.message),
    });
  }

  get idempotent(): boolean {
    return this.config.idempotent ?? true;
  }

  /** Connects now (optional: `publish` connects on first use). */
  async connect(): Promise<void> {
    await this.connectedProducer();
  }

  /** Encodes every event, then sends them in order in ONE producer.send (acks=-1). */
  async publish(events: OutgoingEvent[]): Promise<void> {
    if (events.length === 0) return;
    const messages: Message[] = [];
    for (const event of events) messages.push(await this.toMessage(event));
    const producer = await this.connectedProducer();
    try {
      await producer.send({ topic: this.config.topic, acks: -1, messages });
    } catch (error) {
      await this.discardProducer(producer);
      throw error;
    }
  }

  async toMessage(event: OutgoingEvent): Promise<Message> {
    return {
      key: event.envelope.aggregateId,
      value: await this.serde.encode(event.envelope),
      headers: event.headers ?? envelopeHeaders(event.envelope),
    };
  }

  async disconnect(): Promise<void> {
    const pending = this.producer;
    this.producer = undefined;
    if (pending) await pending.then((producer) => producer.disconnect()).catch(() => undefined);
  }

  private connectedProducer(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: this.idempotent,
        maxInFlightRequests: 5,
        // Java's murmur2 partitioner: the same key lands on the same partition as with any other client.
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
      });
      try {
        await producer.connect();
      } catch (error) {
        await producer.disconnect().catch(() => undefined);
        throw error;
      }
      return producer;
    })();
    const pending = this.producer;
    // A failed connect is not cached: the next publish tries again with a fresh producer.
    pending.catch(() => {
      if (this.producer === pending) this.producer = undefined;
    });
    return pending;
  }

  private async discardProducer(producer: Producer): Promise<void> {
    if (this.producer) {
      const current = await this.producer.catch(() => undefined);
      if (current === producer) this.producer = undefined;
    }
    await producer.disconnect().catch(() => undefined);
  }
}
