/**
 * `npm run setup` step: resolves ffmpeg the way the recorder will (FFMPEG_PATH, then
 * ffmpeg-static, then PATH), checks it can record (libx264, aac, hls) and says which one it
 * is. Exits 1 when it cannot record: recordings would fail.
 */
import { checkFfmpeg, resolveFfmpeg } from '../ffmpeg/resolve.ts';

const binaries = resolveFfmpeg();
try {
  const version = checkFfmpeg(binaries);
  process.stdout.write(
    `recorder ffmpeg: ${binaries.ffmpeg} (from ${binaries.source}): ${version}\n`,
  );
} catch (error) {
  process.stderr.write(`setup: ${(error as Error).message}\n`);
  process.exit(1);
}
