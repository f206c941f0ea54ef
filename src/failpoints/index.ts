export * from './failpoints.ts';
export * from './names.ts';
