/**
 * The publish admission hook (`PUBLISH_HOOK_URL`): before a WHIP publish is accepted, the
 * ingest POSTs `{ streamId, remoteAddress, userAgent }`, signed like the webhooks, and the
 * publish goes ahead only on a 2xx within `timeoutMs`. Any other answer refuses it (403).
 * No answer in time, or no answer at all (unreachable, connection reset), follows
 * `onTimeout`: `deny` (fail closed, the default) or `allow`.
 */
import { ForbiddenError } from '../errors.ts';
import { createLogger, type Logger } from '../logger.ts';
import { newWebhookEventId } from './events.ts';
import type { WebhookSigner } from './signing.ts';

export interface PublishRequest {
  streamId: string;
  /** The publisher's address as this node sees it (the TCP peer). */
  remoteAddress: string | null;
  userAgent: string | null;
}

export interface PublishHookOptions {
  url: string;
  signer: WebhookSigner;
  timeoutMs: number;
  onTimeout: 'deny' | 'allow';
}

export class PublishHook {
  readonly #options: PublishHookOptions;
  readonly #log: Logger;

  constructor(options: PublishHookOptions) {
    this.#options = options;
    this.#log = createLogger('PublishHook', { url: options.url });
  }

  /** Resolves when the publish may go ahead; throws ForbiddenError (403) otherwise. */
  async admit(request: PublishRequest): Promise<void> {
    const { url, signer, timeoutMs, onTimeout } = this.#options;
    const body = JSON.stringify({
      streamId: request.streamId,
      remoteAddress: request.remoteAddress,
      userAgent: request.userAgent,
    });
    const log = this.#log.child({ streamId: request.streamId });
    const started = Date.now();
    let status: number;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'wisp-publish-hook',
          ...signer.headers(newWebhookEventId(), body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      await response.body?.cancel().catch(() => undefined);
    } catch (error) {
      const err = error as Error & { cause?: { code?: string } };
      const why =
        err.name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : (err.cause?.code ?? err.message);
      if (onTimeout === 'allow') {
        log.warn({ error: why }, 'publish hook did not answer: allowed (PUBLISH_HOOK_ON_TIMEOUT)');
        return;
      }
      log.warn({ error: why }, 'publish hook did not answer: refused');
      throw new ForbiddenError('the publish admission hook did not answer in time');
    }
    const ms = Date.now() - started;
    if (status >= 200 && status < 300) {
      log.debug({ status, ms }, 'publish allowed by the hook');
      return;
    }
    log.info({ status, ms }, 'publish refused by the hook');
    throw new ForbiddenError('the publish admission hook refused this publish');
  }
}
