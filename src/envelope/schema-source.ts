/**
 * Where writer schemas come from. In the services: the schema registry (Confluent API, through
 * @kafkajs/confluent-schema-registry, which also enforces the subject's compatibility on register).
 * In unit tests: an in-memory map, so framing and schema resolution are tested without a cluster.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';

export interface SchemaSource {
  /** Registers (or finds) `schema` under `subject`; returns its registry id. */
  register(subject: string, schema: string): Promise<number>;
  /** The writer type of a registry id; throws `UnknownSchemaIdError` when the id does not exist. */
  writerType(id: number): Promise<avro.Type>;
}

export class UnknownSchemaIdError extends Error {
  override name = 'UnknownSchemaIdError';
}

/**
 * avsc options used for every type, writer and reader alike, so resolution compares like with like.
 * Always pass a copy: avsc stores its registry of named types in the options object it is given.
 */
export const avroOptions: Partial<avro.ForSchemaOptions> = { wrapUnions: 'auto' };

export class RegistrySchemaSource implements SchemaSource {
  private readonly registry: SchemaRegistry;

  constructor(registryUrl: string, private readonly compatibility = 'BACKWARD') {
    this.registry = new SchemaRegistry({ host: registryUrl }, { [SchemaType.AVRO]: avroOptions });
  }

  async register(subject: string, schema: string): Promise<number> {
    const register = () => this.registry.register({ type: SchemaType.AVRO, schema }, { subject, compatibility: this.compatibility as never });
    try {
      return (await register()).id;
    } catch (error) {
      // Two services registering a new subject at once both see "no subject config", both register,
      // and both try to set the subject's compatibility; the loser gets "rule COMPATIBILITY already
      // exists" although its schema is registered. Once more: the config now exists and is compared.
      if (!/already exists/i.test((error as Error).message ?? '')) throw error;
      return (await register()).id;
    }
  }

  async writerType(id: number): Promise<avro.Type> {
    try {
      return (await this.registry.getSchema(id)) as unknown as avro.Type;
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === 404) throw new UnknownSchemaIdError(`schema id ${id} is not in the registry`);
      throw error;
    }
  }
}

export class InMemorySchemaSource implements SchemaSource {
  private readonly byId = new Map<number, avro.Type>();
  private readonly ids = new Map<string, number>();

  async register(subject: string, schema: string): Promise<number> {
    const key = `${subject}\u0000${JSON.stringify(JSON.parse(schema))}`;
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    const id = this.byId.size + 1;
    this.byId.set(id, avro.Type.forSchema(JSON.parse(schema), { ...avroOptions }));
    this.ids.set(key, id);
    return id;
  }

  async writerType(id: number): Promise<avro.Type> {
    const type = this.byId.get(id);
    if (!type) throw new UnknownSchemaIdError(`schema id ${id} is not in the registry`);
    return type;
  }
}
