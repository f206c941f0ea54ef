/** Why a message could not be decoded. The reason becomes the DLQ's error class header. */
export type DecodeFailure = 'empty' | 'bad-magic-byte' | 'truncated' | 'unknown-schema-id' | 'incompatible-schema' | 'malformed-avro' | 'invalid-envelope';

export class EnvelopeDecodeError extends Error {
  override name = 'EnvelopeDecodeError';
  constructor(
    readonly reason: DecodeFailure,
    message: string,
    readonly schemaId?: number,
    options?: { cause?: unknown },
  ) {
    super(`${reason}: ${message}`, options);
  }
}

export class EnvelopeEncodeError extends Error {
  override name = 'EnvelopeEncodeError';
}
