export * from './answer.ts';
export * from './fragment.ts';
export * from './offer.ts';
