/**
 * Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian int, then the Avro body.
 * Hand-written (five bytes) because the decode path must say *why* bytes are bad — consumers route by
 * reason (DLQ error class) — while the registry client's decode throws one generic error.
 */
import { EnvelopeDecodeError } from './errors.ts';

export const MAGIC_BYTE = 0;
export const HEADER_LENGTH = 5;

export function frame(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

export function unframe(bytes: Buffer | null | undefined): { schemaId: number; body: Buffer } {
  if (!bytes || bytes.length === 0) throw new EnvelopeDecodeError('empty', 'message has no value (tombstone or empty payload)');
  if (bytes[0] !== MAGIC_BYTE) {
    throw new EnvelopeDecodeError('bad-magic-byte', `first byte is 0x${bytes[0]!.toString(16).padStart(2, '0')}, expected 0x00 (Confluent wire format); was this produced without the schema registry serializer?`);
  }
  if (bytes.length < HEADER_LENGTH + 1) throw new EnvelopeDecodeError('truncated', `message is ${bytes.length} bytes, shorter than the 5-byte header plus a body`);
  return { schemaId: bytes.readInt32BE(1), body: bytes.subarray(HEADER_LENGTH) };
}
