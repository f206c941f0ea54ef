/**
 * Envelope ⇄ bytes in the Confluent wire format, Avro via avsc, schemas via a `SchemaSource`.
 *
 *   const serde = new EnvelopeSerde(new RegistrySchemaSource(url), { subject: 'wallet.events-value' });
 *   const bytes = await serde.encode(newEnvelope({ type: 'FundsDeposited', accountId: 'a-1', amount: 500 }, { id: 'a-1', version: 2 }));
 *   const envelope = await serde.decode(bytes); // EnvelopeDecodeError with a `reason` on bad bytes
 *
 * Decoding resolves the writer's schema (by the id in the bytes) to this build's reader schema, so a
 * consumer reads events written with an older or newer compatible schema (the basis of E-006/E-015).
 */
import avro from 'avsc';
import { envelopeSchema, type EventEnvelope, type WalletEventPayload } from './envelope.ts';
import { EnvelopeDecodeError, EnvelopeEncodeError } from './errors.ts';
import { avroOptions, UnknownSchemaIdError, type SchemaSource } from './schema-source.ts';
import { frame, unframe } from './wire-format.ts';

const payloadNamespace = 'lab.wallet';

type AvroEnvelope = Omit<EventEnvelope, 'payload'> & { payload: Record<string, Record<string, unknown>> };

export class EnvelopeSerde {
  private readonly readerSchema: string;
  private readonly readerType: avro.Type;
  /** The schema writes `aggregateVersion` as a decimal string (see `versionAsText`). */
  private readonly versionAsText: boolean;
  private writerId?: Promise<number>;
  private readonly resolvers = new Map<number, Promise<avro.Type | avro.Resolver>>();

  constructor(
    private readonly schemas: SchemaSource,
    private readonly options: { subject: string; schema?: string },
  ) {
    this.readerSchema = options.schema ?? envelopeSchema();
    this.readerType = avro.Type.forSchema(JSON.parse(this.readerSchema), { ...avroOptions });
    this.versionAsText = versionAsText(this.readerType);
  }

  /** The id this serde writes with (registers the schema on first use). */
  schemaId(): Promise<number> {
    this.writerId ??= this.schemas.register(this.options.subject, this.readerSchema).catch((error: unknown) => {
      this.writerId = undefined; // do not cache a failed registration
      throw error;
    });
    return this.writerId;
  }

  async encode(envelope: EventEnvelope): Promise<Buffer> {
    if (envelope.eventType !== envelope.payload.type) {
      throw new EnvelopeEncodeError(`eventType '${envelope.eventType}' does not match payload type '${envelope.payload.type}'`);
    }
    const value = toAvro(envelope, this.versionAsText);
    const errors: string[] = [];
    if (!this.readerType.isValid(value, { errorHook: (path) => errors.push(path.join('.') || '(root)') })) {
      throw new EnvelopeEncodeError(`envelope does not match the Avro schema at: ${errors.join(', ')}`);
    }
    return frame(await this.schemaId(), this.readerType.toBuffer(value));
  }

  async decode(bytes: Buffer | null | undefined): Promise<EventEnvelope> {
    const { schemaId, body } = unframe(bytes);
    const resolver = await this.resolverFor(schemaId);
    let value: AvroEnvelope;
    try {
      value = this.readerType.fromBuffer(body, resolver as avro.Resolver, false) as AvroEnvelope;
    } catch (error) {
      throw new EnvelopeDecodeError('malformed-avro', `body does not decode with schema id ${schemaId}: ${(error as Error).message}`, schemaId, { cause: error });
    }
    return fromAvro(value, schemaId);
  }

  private resolverFor(schemaId: number): Promise<avro.Type | avro.Resolver> {
    let pending = this.resolvers.get(schemaId);
    if (!pending) {
      pending = (async () => {
        let writer: avro.Type;
        try {
          writer = await this.schemas.writerType(schemaId);
        } catch (error) {
          if (error instanceof UnknownSchemaIdError) throw new EnvelopeDecodeError('unknown-schema-id', error.message, schemaId, { cause: error });
          throw error; // registry unreachable: transient, not the message's fault
        }
        try {
          return this.readerType.createResolver(writer);
        } catch (error) {
          throw new EnvelopeDecodeError('incompatible-schema', `writer schema ${schemaId} cannot be read as this envelope: ${(error as Error).message}`, schemaId, { cause: error });
        }
      })();
      this.resolvers.set(schemaId, pending);
      // Only successful and permanent outcomes stay cached; a network failure is retried next time.
      pending.catch((error: unknown) => {
        if (!(error instanceof EnvelopeDecodeError)) this.resolvers.delete(schemaId);
      });
    }
    return pending;
  }
}

/**
 * A breaking change the lab migrates through a new topic (E-015's `….v2`): `aggregateVersion` long →
 * string. A build whose schema says string writes the version as decimal text and reads it back as the
 * number the envelope type has; the rest of the service is unchanged.
 */
function versionAsText(type: avro.Type): boolean {
  return (type as avro.types.RecordType).field?.('aggregateVersion')?.type.typeName === 'string';
}

function toAvro(envelope: EventEnvelope, versionText = false): AvroEnvelope {
  const { type, ...fields } = envelope.payload;
  const version = versionText ? { aggregateVersion: String(envelope.aggregateVersion) as unknown as number } : {};
  return { ...envelope, ...version, payload: { [`${payloadNamespace}.${type}`]: fields } };
}

function fromAvro(value: AvroEnvelope, schemaId: number): EventEnvelope {
  const branches = Object.entries(value.payload ?? {});
  if (branches.length !== 1) throw new EnvelopeDecodeError('invalid-envelope', 'payload is not exactly one union branch', schemaId);
  const [name, fields] = branches[0]!;
  const type = name.slice(name.lastIndexOf('.') + 1);
  if (type !== value.eventType) throw new EnvelopeDecodeError('invalid-envelope', `eventType '${value.eventType}' does not match payload '${type}'`, schemaId);
  const text: unknown = value.aggregateVersion; // a number, or decimal text (versionAsText)
  const version = typeof text === 'string' ? Number(text) : value.aggregateVersion;
  if (typeof text === 'string' && !(/^[0-9]{1,16}$/.test(text) && Number.isSafeInteger(version) && String(version) === text)) {
    throw new EnvelopeDecodeError('invalid-envelope', `aggregateVersion ${JSON.stringify(text)} is not a whole number`, schemaId);
  }
  return { ...value, aggregateVersion: version, payload: { type, ...fields } as WalletEventPayload };
}
