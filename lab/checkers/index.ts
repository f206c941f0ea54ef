export * from './delivery.ts';
export * from './order.ts';
export * from './state.ts';
export * from './verdict.ts';
export * from './dead-letter.ts';
export * from './replay.ts';
export * from './applied.ts';
