/**
 * The benchmark's webhook receiver in a process of its own, so that receiving and verifying
 * (the `standardwebhooks` package) do not take CPU from the platform being measured, as a
 * real receiver would not. Run with the secret as the first argument; prints
 * `{"url": ...}` once listening, then one JSON line per verified request:
 * `{ id, type, timestamp, at, verified }` (`at`: arrival, ms since the epoch; both
 * processes share the machine's clock). A request that fails verification is answered 401
 * and not reported, so the benchmark waits for it in vain and fails.
 */
import { WebhookReceiver } from '../../../server/test/support/webhookReceiver.ts';

const secret = process.argv[2];
if (!secret) throw new Error('usage: webhookReceiverProcess.ts <whsec_ secret>');
const receiver = await WebhookReceiver.start(secret);
receiver.respond = (request) => {
  const event = request.verified as { id?: string; type?: string; timestamp?: string } | undefined;
  process.stdout.write(
    `${JSON.stringify({
      id: event?.id ?? request.headers['webhook-id'],
      type: event?.type,
      timestamp: event?.timestamp,
      at: request.at,
      verified: event !== undefined,
    })}\n`,
  );
  return 200;
};
process.stdout.write(`${JSON.stringify({ url: receiver.url })}\n`);
process.on('SIGTERM', () => void receiver.stop().then(() => process.exit(0)));
