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
 *
 * A resolved send() is not proof that every message was appended. kafkajs 2.2.4's sendMessages keeps
 * the responses per broker across its internal retries and only re-sends to brokers that have not
 * answered: when a partition's leader moves (broker killed, reassignment) onto a broker that already
 * answered for other partitions of the batch, that partition's messages are never re-sent, and send()
 * still resolves with the other partitions' metadata (kafkajs issue #1303, PR #1798, unreleased). The
 * relay would then mark rows whose events are on no broker — the loss issue 7 found. So `publish`
 * records the partition the partitioner chose for every message and checks that the response has an
 * acknowledgement (error code 0, an offset) for each of them; otherwise it throws
 * `UnacknowledgedPartitionsError` and the caller treats the whole batch as not published (it is sent
 * again: at-least-once, consumers dedupe by event id).
 *
 * An acknowledgement is not proof either, once a send was retried inside kafkajs (E-001's lost v22).
 * kafkajs numbers an idempotent producer's batches per partition: it adds a request's message count to
 * the partition's sequence before sending and subtracts it when that request fails. When one broker fails
 * a send fast (NOT_LEADER after a leader moved), kafkajs retries while another request of the same
 * attempt is still in flight (to a paused broker, or through a slow link). If the retry sends that
 * partition's records to its new leader, they are numbered after the in-flight ones; when the in-flight
 * request then fails, the subtraction moves the sequence back onto the batch just appended, and the
 * producer's NEXT batch for that partition (same count) carries the same sequence numbers: the broker
 * takes it for a retry of the batch it holds and acknowledges it with that batch's offset, without
 * appending it. So `publish` (1) retires the producer after any send kafkajs retried (seen as the
 * partitioner being asked twice for one message), before its sequence numbers can number another batch,
 * and (2) rejects an acknowledgement whose offset is not past every offset this producer was given
 * before on that partition (`DuplicateAcknowledgementError`): a repeated offset is a duplicate's answer.
 *
 * `verifyAcknowledgements: false` switches both response checks off: the relay then trusts a resolved
 * send() as the pre-fix relay did. It exists only so E-024 can show, next to the verifying relay, what
 * that trust costs (rows marked published whose events are on no broker). It is the anti-pattern, never
 * a tuning knob: the default is true and no service config sets it.
 */
import { Kafka, Partitioners, logLevel as kafkaLogLevel, type ICustomPartitioner, type LogEntry, type Message, type Producer, type RecordMetadata, type RetryOptions } from 'kafkajs';
import type { EventEnvelope } from '../envelope/envelope.ts';
import { RegistrySchemaSource } from '../envelope/schema-source.ts';
import { EnvelopeSerde } from '../envelope/serde.ts';
import type { Logger } from '../observability/logger.ts';
import { envelopeHeaders, type KafkaHeaders } from './headers.ts';

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
  /** The serde to encode with (default: a new one for `${topic}-value`). Publishers of one service share one, so the schema is registered once. */
  serde?: EnvelopeSerde;
  /**
   * Check every send's response (default true): an acknowledgement for each partition the batch touched
   * (`UnacknowledgedPartitionsError`) at an offset past the producer's earlier ones
   * (`DuplicateAcknowledgementError`). false = trust a resolved send(): E-024's anti-pattern, see the header.
   */
  verifyAcknowledgements?: boolean;
  /** Called when a producer is replaced: `failed` after a failed send, `retried` after a send kafkajs retried. */
  onProducerRetired?: (reason: 'failed' | 'retried') => void;
}

/** An event to publish; `headers` (e.g. as stored in an outbox row) default to the envelope's. */
export interface OutgoingEvent {
  envelope: EventEnvelope;
  headers?: KafkaHeaders;
}

/** send() resolved, but without an acknowledgement for some partitions it was given messages for. */
export class UnacknowledgedPartitionsError extends Error {
  override readonly name = 'UnacknowledgedPartitionsError';
  constructor(
    readonly topic: string,
    readonly partitions: number[],
    readonly acknowledged: number[],
  ) {
    super(`producer.send resolved without an acknowledgement for ${topic} partition(s) ${partitions.join(', ')} (acknowledged: ${acknowledged.join(', ') || 'none'}); the batch is treated as not published`);
  }
}

/** send() acknowledged a partition with an offset this producer had already been given: nothing was appended. */
export class DuplicateAcknowledgementError extends Error {
  override readonly name = 'DuplicateAcknowledgementError';
  constructor(
    readonly topic: string,
    readonly partitions: Array<{ partition: number; offset: string; previous: string }>,
  ) {
    super(`producer.send acknowledged ${topic} ${partitions.map((p) => `partition ${p.partition} at offset ${p.offset} (this producer was given ${p.previous} before)`).join(', ')}: the broker took the batch for a duplicate of an earlier one and appended nothing; the batch is treated as not published`);
  }
}

/**
 * The acknowledgements in `metadata` whose offset is not past the highest offset `highest` holds for their
 * partition (what the same producer was acknowledged before). Records a producer appends get ever larger
 * offsets; an acknowledgement at or below an earlier one answers a batch the broker judged a duplicate.
 */
export function repeatedAcknowledgements(topic: string, metadata: RecordMetadata[], highest: ReadonlyMap<number, bigint>): Array<{ partition: number; offset: string; previous: string }> {
  const repeated: Array<{ partition: number; offset: string; previous: string }> = [];
  for (const m of metadata) {
    const offset = m.baseOffset ?? m.offset;
    const previous = highest.get(m.partition);
    if (m.topicName !== topic || offset === undefined || previous === undefined) continue;
    if (BigInt(offset) <= previous) repeated.push({ partition: m.partition, offset, previous: String(previous) });
  }
  return repeated;
}

/**
 * The partitions of `messages` (as `partitionOf` recorded them) that `metadata` does not acknowledge:
 * no entry with error code 0 and an offset for that topic and partition.
 */
export function unacknowledgedPartitions(topic: string, messages: Message[], partitionOf: (message: Message) => number | undefined, metadata: RecordMetadata[]): { missing: number[]; acknowledged: number[] } {
  const acknowledged = new Set(metadata.filter((m) => m.topicName === topic && m.errorCode === 0 && (m.baseOffset ?? m.offset) !== undefined).map((m) => m.partition));
  const expected = new Set<number>();
  for (const message of messages) {
    const partition = partitionOf(message);
    // A message the partitioner never saw was never grouped into a request: as unacknowledged as it gets.
    expected.add(partition ?? -1);
  }
  const missing = [...expected].filter((partition) => !acknowledged.has(partition)).sort((a, b) => a - b);
  return { missing, acknowledged: [...acknowledged].sort((a, b) => a - b) };
}

export class EventPublisher {
  readonly serde: EnvelopeSerde;
  private readonly kafka: Kafka;
  private producer?: Promise<Producer>;
  /** The partition kafkajs's partitioner chose for each message we sent (see the header). */
  private readonly partitionOf = new WeakMap<Message, number>();
  /** How often the partitioner was asked for each message: more than once = kafkajs retried the send. */
  private readonly partitionings = new WeakMap<Message, number>();
  /** Per producer, the highest offset each partition acknowledged to it (see the header, (2)). */
  private readonly highestAcknowledged = new WeakMap<Producer, Map<number, bigint>>();

  constructor(private readonly config: EventPublisherConfig) {
    this.serde = config.serde ?? new EnvelopeSerde(new RegistrySchemaSource(config.schemaRegistryUrl), { subject: `${config.topic}-value` });
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

  /**
   * Encodes every event, then sends them in order in ONE producer.send (acks=-1), and resolves only when
   * every partition the batch touched acknowledged it (throws UnacknowledgedPartitionsError otherwise).
   */
  async publish(events: OutgoingEvent[]): Promise<RecordMetadata[]> {
    if (events.length === 0) return [];
    // Encoded concurrently (the registry lookup is cached after the first; order is kept by index).
    const messages: Message[] = await Promise.all(events.map((event) => this.toMessage(event)));
    const producer = await this.connectedProducer();
    let metadata: RecordMetadata[];
    try {
      metadata = await producer.send({ topic: this.config.topic, acks: -1, messages });
      if (this.config.verifyAcknowledgements !== false) this.verify(producer, messages, metadata);
    } catch (error) {
      this.config.onProducerRetired?.('failed');
      await this.discardProducer(producer);
      throw error;
    }
    // The acknowledgements are good, but a retried send may have left a request of an earlier attempt in
    // flight, whose failure will rewind this producer's sequence numbers (header, (1)): the next batch goes
    // out on a new producer. Disconnected in the background: that request may be held for seconds.
    if (messages.some((message) => (this.partitionings.get(message) ?? 0) > 1)) {
      this.config.onProducerRetired?.('retried');
      void this.discardProducer(producer);
    }
    return metadata;
  }

  /** Throws unless `metadata` acknowledges every partition of `messages`, each past this producer's earlier offsets (see the header). */
  private verify(producer: Producer, messages: Message[], metadata: RecordMetadata[]): void {
    const { missing, acknowledged } = unacknowledgedPartitions(this.config.topic, messages, (message) => this.partitionOf.get(message), metadata);
    if (missing.length) throw new UnacknowledgedPartitionsError(this.config.topic, missing, acknowledged);
    const highest = this.highestAcknowledged.get(producer) ?? new Map<number, bigint>();
    const repeated = repeatedAcknowledgements(this.config.topic, metadata, highest);
    if (repeated.length) throw new DuplicateAcknowledgementError(this.config.topic, repeated);
    for (const m of metadata) {
      const offset = m.baseOffset ?? m.offset;
      if (m.topicName === this.config.topic && offset !== undefined) highest.set(m.partition, BigInt(offset));
    }
    this.highestAcknowledged.set(producer, highest);
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
        // Wrapped to remember each message's partition, which publish() checks against the response.
        createPartitioner: this.recordingPartitioner,
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

  private readonly recordingPartitioner: ICustomPartitioner = () => {
    const partitioner = Partitioners.DefaultPartitioner();
    return (args) => {
      const partition = partitioner(args);
      this.partitionOf.set(args.message, partition);
      this.partitionings.set(args.message, (this.partitionings.get(args.message) ?? 0) + 1);
      return partition;
    };
  };

  private async discardProducer(producer: Producer): Promise<void> {
    const pending = this.producer;
    if (pending) {
      const current = await pending.catch(() => undefined);
      if (current === producer && this.producer === pending) this.producer = undefined;
    }
    await producer.disconnect().catch(() => undefined);
  }
}
