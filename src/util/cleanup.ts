// Cleanup that never hides the error it cleans up after. After a wasm heap overflow, disposing tensors
// can fail too (the heap's bookkeeping may be what overflowed); a `finally { x.dispose() }` would then
// replace the first, meaningful error by "memory access out of bounds" from dispose.

/** Runs `cleanup`; if `failure` is set (the body threw it), an error from cleanup is attached to it, not thrown. */
export function cleanupAfter(failure: { error: unknown } | null, cleanup: () => void): void {
  if (failure === null) return cleanup();
  try {
    cleanup();
  } catch (e) {
    if (failure.error instanceof Error && !("suppressed" in failure.error))
      Object.defineProperty(failure.error, "suppressed", { value: e });
  }
}

/** `body()`, then `cleanup()` however it ends; when both throw, body's error is the one thrown. */
export async function withCleanup<T>(body: () => Promise<T> | T, cleanup: () => void): Promise<T> {
  let failure: { error: unknown } | null = null;
  try {
    return await body();
  } catch (error) {
    failure = { error };
    throw error;
  } finally {
    cleanupAfter(failure, cleanup);
  }
}
