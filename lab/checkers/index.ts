export * from './delivery.ts';
export * from './order.ts';
export * from './state.ts';
export * from './verdict.ts';
