/**
 * Decides how a WHEP offer is served from a live stream's producers: for each offered
 * section, the producer of its kind and the viewer's payload type for the producer's codec.
 * Malformed SDP -> 400; a viewer that can't receive what is being published -> 422.
 */
import type { types as ms } from 'mediasoup';
import {
  UnprocessableError,
  parseOffer,
  sameFormat,
  type MediaKind,
  type MediaSectionOffer,
  type OfferedCodec,
  type ParsedOffer,
} from '@wisp/core';

export interface ServedSection {
  section: MediaSectionOffer;
  producer: ms.Producer;
  /** The producer's media codec (its first, non-RTX codec). */
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

export function planView(sdp: string, producers: readonly ms.Producer[]): ViewPlan {
  const offer = parseOffer(sdp);
  const served: ServedSection[] = [];
  const servedKinds = new Set<MediaKind>();
  for (const section of offer.sections) {
    if (section.rejected) continue;
    if (section.direction === 'sendonly' || section.direction === 'inactive') {
      throw new UnprocessableError(
        `mid ${section.mid} is ${section.direction}: a WHEP offer must receive (recvonly)`,
      );
    }
    const producer = producers.find((p) => p.kind === section.kind);
    if (!producer || servedKinds.has(section.kind)) continue;
    const producerCodec = producer.rtpParameters.codecs.find((c) => !/\/rtx$/i.test(c.mimeType))!;
    const viewerCodec = section.codecs.find((c) => sameFormat(section.kind, c, producerCodec));
    if (!viewerCodec) {
      const offered = section.codecs.map((c) => c.mimeType).join(', ');
      throw new UnprocessableError(
        `the stream's ${section.kind} is ${producerCodec.mimeType} ` +
          `${JSON.stringify(producerCodec.parameters ?? {})}, which this player does not offer (${offered})`,
      );
    }
    servedKinds.add(section.kind);
    served.push({ section, producer, producerCodec, viewerCodec });
  }
  if (served.length === 0) {
    throw new UnprocessableError(
      `nothing to play: the offer asks for ${offer.sections.map((s) => s.kind).join(', ') || 'no media'}, ` +
        `the stream has ${producers.map((p) => p.kind).join(', ')}`,
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
