/**
 * Runs cleanup steps one after the other, every one of them even if an earlier one threw, and
 * then rethrows the first error: a failed publisher close must not leave the platform running.
 */
export async function closeInOrder(steps: (() => unknown)[]): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
}
