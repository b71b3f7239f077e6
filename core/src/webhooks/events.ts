/**
 * The webhook events (docs/api.md#webhooks): their types and payloads. Every payload carries
 * `streamId`; the envelope is the Standard Webhooks one, `{ type, timestamp, data }`, plus
 * the event `id` (also sent as the `webhook-id` header).
 */
import { randomBytes } from 'node:crypto';
import type { WebhookEvent } from '../store/WebhookOutbox.ts';

export type WebhookEventType =
  | 'stream.started'
  | 'stream.ended'
  | 'stream.key_rotated'
  | 'stream.deleted'
  | 'recording.ready'
  | 'recording.failed';

export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = [
  'stream.started',
  'stream.ended',
  'stream.key_rotated',
  'stream.deleted',
  'recording.ready',
  'recording.failed',
];

/** The codec of each published track by kind, e.g. `{ audio: 'audio/opus', video: 'video/H264' }`. */
export type StreamCodecs = Partial<Record<'audio' | 'video', string>>;

export interface StreamStartedData extends Record<string, unknown> {
  streamId: string;
  /** The WHIP session (its URL is `/whip/<sessionId>`). */
  sessionId: string;
  /** The ingest node it is published to. */
  node: string;
  codecs: StreamCodecs;
  startedAt: string;
}

export interface StreamEndedData extends StreamStartedData {
  endedAt: string;
  durationSeconds: number;
  /** Why the session ended: `deleted` (WHIP DELETE), `replaced` (takeover), `key-revoked`, ... */
  reason: string;
}

export interface RecordingEventData extends Record<string, unknown> {
  streamId: string;
  recordingId: string;
  kind: 'broadcast' | 'composition';
  streamIds?: string[];
  hlsUrl: string;
  posterUrl: string;
  startedAt: string;
  endedAt: string | null;
  durationSeconds: number;
  parts: number;
  error?: string;
}

export interface WebhookEventData {
  'stream.started': StreamStartedData;
  'stream.ended': StreamEndedData;
  'stream.key_rotated': { streamId: string };
  'stream.deleted': { streamId: string };
  'recording.ready': RecordingEventData;
  'recording.failed': RecordingEventData;
}

/** A new event id: `msg_` + 128 random bits (base64url). */
export function newWebhookEventId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`;
}

/** The event of `type` with `data`, now (or `at`), with a fresh id unless one is given. */
export function webhookEvent<T extends WebhookEventType>(
  type: T,
  data: WebhookEventData[T],
  options: { id?: string; at?: Date } = {},
): WebhookEvent {
  return {
    id: options.id ?? newWebhookEventId(),
    type,
    timestamp: (options.at ?? new Date()).toISOString(),
    data,
  };
}
