import { expect } from 'vitest';
import type { AppError } from '../../src/errors.ts';

/**
 * Runs `fn`, expects it to throw an AppError of `type` with `status`, and returns the error
 * so the caller can check its message.
 */
export function expectAppError(
  fn: () => unknown,
  type: abstract new (...args: never[]) => AppError,
  status: number,
): AppError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected the call to throw').toBeInstanceOf(type);
  const error = thrown as AppError;
  expect(error.status).toBe(status);
  return error;
}
