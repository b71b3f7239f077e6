/**
 * Decides how a WHEP offer is served from a live stream's tracks: for each offered section,
 * the track of its kind and the viewer's payload type for the track's codec. Malformed SDP ->
 * 400; a viewer that can't receive what is being published -> 422.
 */
import type { types as ms } from 'mediasoup';
import { UnprocessableError } from '@wisp/core';
import {
  parseOffer,
  sameFormat,
  type MediaKind,
  type MediaSectionOffer,
  type OfferedCodec,
  type ParsedOffer,
  type StreamTrack,
} from '@wisp/core/rtc';

export interface ServedSection {
  section: MediaSectionOffer;
  track: StreamTrack;
  /** The track's media codec (its first, non-RTX codec). */
  producerCodec: ms.RtpCodecParameters;
  /** The viewer's codec (and payload type) matching it. */
  viewerCodec: OfferedCodec;
}

export interface ViewPlan {
  offer: ParsedOffer;
  served: ServedSection[];
  /** Identifies the payload-type mapping: viewers with equal keys share a fan-out router. */
  mappingKey: string;
}

/** `offer` is the SDP text, or the offer already parsed (parseOffer) to reject bad SDP early. */
export function planView(sdp: string | ParsedOffer, tracks: readonly StreamTrack[]): ViewPlan {
  const offer = typeof sdp === 'string' ? parseOffer(sdp) : sdp;
  const served: ServedSection[] = [];
  const servedKinds = new Set<MediaKind>();
  for (const section of offer.sections) {
    if (section.rejected) continue;
    if (section.direction === 'sendonly' || section.direction === 'inactive') {
      throw new UnprocessableError(
        `mid ${section.mid} is ${section.direction}: a WHEP offer must receive (recvonly)`,
      );
    }
    const track = tracks.find((t) => t.kind === section.kind);
    if (!track || servedKinds.has(section.kind)) continue;
    const producerCodec = track.codec;
    const viewerCodec = section.codecs.find((c) => sameFormat(section.kind, c, producerCodec));
    if (!viewerCodec) {
      const offered = section.codecs.map((c) => c.mimeType).join(', ');
      throw new UnprocessableError(
        `the stream's ${section.kind} is ${producerCodec.mimeType} ` +
          `${JSON.stringify(producerCodec.parameters ?? {})}, which this player does not offer (${offered})`,
      );
    }
    servedKinds.add(section.kind);
    served.push({ section, track, producerCodec, viewerCodec });
  }
  if (served.length === 0) {
    throw new UnprocessableError(
      `nothing to play: the offer asks for ${offer.sections.map((s) => s.kind).join(', ') || 'no media'}, ` +
        `the stream has ${tracks.map((t) => t.kind).join(', ')}`,
    );
  }
  const pts = served.map((s) => s.viewerCodec.payloadType);
  if (new Set(pts).size !== pts.length) {
    throw new UnprocessableError('the offer uses one payload type for two media sections');
  }
  // Audio first: mediasoup allocates RTX payload types after each codec (see EdgeStream).
  served.sort((a, b) =>
    a.section.kind === b.section.kind ? 0 : a.section.kind === 'audio' ? -1 : 1,
  );
  const mappingKey = served.map((s) => `${s.section.kind}:${s.viewerCodec.payloadType}`).join('|');
  return { offer, served, mappingKey };
}
