export * from './envelope.ts';
export * from './errors.ts';
export * from './schema-source.ts';
export * from './serde.ts';
export * from './wire-format.ts';
