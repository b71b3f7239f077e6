/**
 * Standard Webhooks signing (https://www.standardwebhooks.com), with the reference
 * `standardwebhooks` package: `webhook-id`, `webhook-timestamp` (Unix seconds) and
 * `webhook-signature` (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`). Receivers
 * verify with the same package (`new Webhook(secret).verify(body, headers)`), which also
 * refuses timestamps more than 5 minutes off: each attempt is signed when it is sent.
 */
import { Webhook } from 'standardwebhooks';

export class WebhookSigner {
  readonly #webhook: Webhook;

  /** `secret`: `whsec_` + base64 (WEBHOOK_SECRET). */
  constructor(secret: string) {
    this.#webhook = new Webhook(secret);
  }

  /** The three headers for `body` sent as message `id` at `at`. */
  headers(id: string, body: string, at = new Date()): Record<string, string> {
    return {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': this.#webhook.sign(id, at, body),
    };
  }
}
