/**
 * Decides, before any resource is allocated, whether a WHIP offer can be published and how:
 * malformed SDP -> 400, offers we cannot take whole -> 422 (RFC 9725 §4.4.2-4.4.3: no
 * partially successful answers).
 */
import { UnprocessableError, ValidationError } from '@wisp/core';
import { parseOffer, selectPublishCodec, type MediaKind } from '@wisp/core/rtc';
import type { PublishPlan } from './WhipSession.ts';

export function planPublish(sdp: string): PublishPlan {
  const offer = parseOffer(sdp);
  if (offer.otherSections.length > 0) {
    throw new UnprocessableError(
      `unsupported media sections (${offer.otherSections.map((s) => s.kind).join(', ')}): ` +
        'WHIP here takes one audio and/or one video track',
    );
  }
  const live = offer.sections.filter((s) => !s.rejected);
  if (live.length === 0) throw new ValidationError('the offer has no media to publish');
  const seen = new Set<MediaKind>();
  const accepted = live.map((section) => {
    if (section.direction === 'recvonly' || section.direction === 'inactive') {
      throw new UnprocessableError(
        `mid ${section.mid} is ${section.direction}: a WHIP offer must send (sendonly)`,
      );
    }
    if (seen.has(section.kind)) {
      throw new UnprocessableError(
        `more than one ${section.kind} track: WHIP carries a single MediaStream with at most one audio and one video track`,
      );
    }
    seen.add(section.kind);
    if (section.rids.length > 0 && section.kind !== 'video') {
      throw new UnprocessableError('simulcast is only supported on video');
    }
    if (section.rids.length > 8) throw new UnprocessableError('at most 8 simulcast layers');
    return { section, codec: selectPublishCodec(section) };
  });
  const ssrcs = accepted.flatMap(({ section }) =>
    section.ssrcs.flatMap((s) => (s.rtxSsrc !== undefined ? [s.ssrc, s.rtxSsrc] : [s.ssrc])),
  );
  if (new Set(ssrcs).size !== ssrcs.length) {
    throw new ValidationError('the offer uses one SSRC for two streams');
  }
  return { offer, accepted };
}
