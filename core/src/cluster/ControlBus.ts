/**
 * The control bus: cluster-wide notifications (a stream went live or offline, its key was
 * rotated, it was deleted) so that every node can react at once, instead of polling the
 * registries. Delivery is best effort, like Redis pub/sub: a node that is disconnected when an
 * event is published misses it, so nothing may depend on an event for correctness; the
 * registries and the state store remain the truth.
 */

export type ControlEvent =
  /** `node` claimed the stream with `epoch`: viewers may now be sent there. */
  | { type: 'streamLive'; streamId: string; node: string; epoch: number }
  /** The owner with `epoch` on `node` stopped (publisher left, takeover, shutdown...). */
  | { type: 'streamOffline'; streamId: string; node: string; epoch: number; reason: string }
  /** The stream key changed: sessions authorized with the old key must be re-checked. */
  | { type: 'keyRotated'; streamId: string }
  /** The stream no longer exists: every session of it must end. */
  | { type: 'streamDeleted'; streamId: string }
  /**
   * A composition was created (its record names the recorder node that writes it), or
   * should end. `streamId` is its first source, `recordingId` its recording.
   */
  | { type: 'compositionStarted' | 'compositionStopped'; streamId: string; recordingId: string };

export type ControlEventType = ControlEvent['type'];

export interface ControlBus {
  /**
   * Delivered to every subscriber in every process (this one included), at most once each;
   * best effort (pub/sub). Resolves once the event is handed over, not once it is handled.
   */
  publish(event: ControlEvent): Promise<void>;
  /**
   * Returns an unsubscribe function. A throwing handler is logged and does not break the
   * bus. Subscriptions survive a Redis reconnect.
   */
  subscribe(handler: (event: ControlEvent) => void): () => void;
}

/** Whether `value` is a well-formed ControlEvent (a message from another process is checked). */
export function isControlEvent(value: unknown): value is ControlEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Record<string, unknown>;
  if (typeof event.streamId !== 'string') return false;
  switch (event.type) {
    case 'streamLive':
      return typeof event.node === 'string' && typeof event.epoch === 'number';
    case 'streamOffline':
      return (
        typeof event.node === 'string' &&
        typeof event.epoch === 'number' &&
        typeof event.reason === 'string'
      );
    case 'keyRotated':
    case 'streamDeleted':
      return true;
    case 'compositionStarted':
    case 'compositionStopped':
      return typeof event.recordingId === 'string';
    default:
      return false;
  }
}
