/**
 * A viewer's WHEP session: one WebRtcTransport on a fan-out router and one Consumer per
 * served section. Consumers are created active: mediasoup asks the publisher for a keyframe
 * exactly once, when the viewer's DTLS connects, i.e. when the viewer can use it. (Creating
 * them paused and resuming on connect sent a second request a few ms later, which libwebrtc
 * encoders drop, and cost some joins a second; see KEYFRAME_REQUEST_DELAY_MS.)
 */
import type { types as ms } from 'mediasoup';
import {
  NotFoundError,
  ValidationError,
  clientParameterError,
  createLogger,
  type MediaConfig,
  type SessionConfig,
} from '@wisp/core';
import {
  PeerTransport,
  RtcSession,
  buildAnswer,
  rejectedSection,
  normalizedMimeType,
  supportedFeedback,
  type AnswerSection,
  type RtcSessionOptions,
  type MediaSectionOffer,
} from '@wisp/core/rtc';
import type { ServedSection, ViewPlan } from './planView.ts';
import { SessionEvents } from './WhepEvents.ts';

/**
 * One simulcast (or SVC) video the viewer receives, for the WHEP layer extension (wish-wg
 * webrtc-http-egress-events: `mediaId` is the section's mid, layer ids count from 0 = lowest).
 */
export interface MediaLayers {
  mediaId: string;
  spatialLayers: number;
  temporalLayers: number;
  /** True while the SFU picks the layer from the viewer's bandwidth (the default). */
  auto: boolean;
  preferred: { spatialLayerId: number; temporalLayerId: number } | null;
  current: { spatialLayerId: number; temporalLayerId: number } | null;
}

export class WhepSession extends RtcSession {
  readonly consumers: ms.Consumer[];
  /** The session's event streams (WHEP server-sent events extension); they end with it. */
  readonly events = new SessionEvents();
  /** Mids whose layer the viewer chose (the others are automatic). */
  readonly #manualLayers = new Set<string>();

  private constructor(options: RtcSessionOptions & { consumers: ms.Consumer[] }) {
    super(options);
    this.consumers = options.consumers;
    this.once('closed', ({ reason }) => {
      // The publisher left (or was replaced): say so before the streams end with the session.
      if (reason === 'stream-offline') this.events.send('inactive', {});
      this.events.close();
    });
    for (const consumer of this.consumers) {
      consumer.on('producerclose', () => this.close('stream-offline'));
    }
  }

  /** The session's videos with more than one layer (empty: nothing to choose). */
  layers(): MediaLayers[] {
    return this.consumers.flatMap((consumer) => {
      const counts = layerCounts(consumer);
      if (!counts) return [];
      const layers = (l: ms.ConsumerLayers | undefined) =>
        l ? { spatialLayerId: l.spatialLayer, temporalLayerId: l.temporalLayer ?? 0 } : null;
      return [
        {
          mediaId: consumer.rtpParameters.mid ?? '',
          ...counts,
          auto: !this.#manualLayers.has(consumer.rtpParameters.mid ?? ''),
          preferred: layers(consumer.preferredLayers),
          current: layers(consumer.currentLayers),
        },
      ];
    });
  }

  /**
   * Caps a video at a layer (mediasoup's preferred layers: it still goes lower when the
   * viewer's bandwidth estimate demands), or gives the choice back to the SFU (`auto`: the
   * highest layers preferred, as at the start).
   */
  async selectLayers(
    mediaId: string,
    choice: 'auto' | { spatialLayerId?: number; temporalLayerId?: number },
  ): Promise<void> {
    const consumer = this.consumers.find((c) => c.rtpParameters.mid === mediaId);
    const counts = consumer && layerCounts(consumer);
    if (!consumer || !counts) throw new NotFoundError(`no layered media ${mediaId}`);
    const top = {
      spatialLayer: counts.spatialLayers - 1,
      temporalLayer: counts.temporalLayers - 1,
    };
    if (choice === 'auto') {
      this.#manualLayers.delete(mediaId);
      await consumer.setPreferredLayers(top);
      return;
    }
    const { spatialLayerId = top.spatialLayer, temporalLayerId = top.temporalLayer } = choice;
    if (spatialLayerId > top.spatialLayer || temporalLayerId > top.temporalLayer) {
      throw new ValidationError(
        `mid ${mediaId} has ${counts.spatialLayers} spatial and ${counts.temporalLayers} temporal layers`,
      );
    }
    this.#manualLayers.add(mediaId);
    await consumer.setPreferredLayers({
      spatialLayer: spatialLayerId,
      temporalLayer: temporalLayerId,
    });
  }

  static async create(options: {
    id: string;
    streamId: string;
    router: ms.Router;
    /** Track id -> the producer to consume in `router`. */
    producerIds: ReadonlyMap<string, string>;
    plan: ViewPlan;
    media: MediaConfig;
    session: SessionConfig;
  }): Promise<WhepSession> {
    const { router, plan } = options;
    const log = createLogger('WhepSession', { streamId: options.streamId, sessionId: options.id });
    const peer = await PeerTransport.create({
      router,
      offer: plan.offer,
      media: options.media,
      session: options.session,
      log,
    });
    try {
      const consumers: ms.Consumer[] = [];
      for (const served of plan.served) {
        try {
          consumers.push(
            await peer.transport.consume({
              producerId: options.producerIds.get(served.track.id) ?? served.track.id,
              rtpCapabilities: viewerCapabilities(served, router),
              // mediasoup writes this in the MID header extension: it must be the viewer's mid.
              mid: served.section.mid,
              paused: false,
            }),
          );
        } catch (error) {
          throw clientParameterError(error, `the capabilities of mid ${served.section.mid}`);
        }
      }
      const answer = buildAnswer({
        transport: peer.answerTransport(),
        sections: answerSections(plan, consumers, options.streamId),
      });
      const mids = plan.served.map(({ section }) => ({
        mid: section.mid,
        kind: section.kind,
        protocol: section.protocol,
      }));
      return new WhepSession({ ...options, peer, consumers, answer, mids });
    } catch (error) {
      peer.close('error');
      throw error;
    }
  }
}

/** Spatial and temporal layer counts of a simulcast/SVC consumer ("L3T3", "S2T1"). */
function layerCounts(
  consumer: ms.Consumer,
): { spatialLayers: number; temporalLayers: number } | undefined {
  if (consumer.kind !== 'video' || (consumer.type !== 'simulcast' && consumer.type !== 'svc')) {
    return undefined;
  }
  const mode = consumer.rtpParameters.encodings?.[0]?.scalabilityMode ?? '';
  const match = /^[LS](\d+)T(\d+)/.exec(mode);
  if (!match) return undefined;
  const counts = { spatialLayers: Number(match[1]), temporalLayers: Number(match[2]) };
  return counts.spatialLayers > 1 || counts.temporalLayers > 1 ? counts : undefined;
}

/**
 * The viewer's capabilities for one section, in mediasoup's terms: the producer's codec at the
 * viewer's payload type (the fan-out router was created with that payload type), no RTX
 * (NACKed packets are resent on the media SSRC instead), and the viewer's header extensions
 * that mediasoup forwards, at the viewer's ids.
 */
function viewerCapabilities(served: ServedSection, router: ms.Router): ms.RtpCapabilities {
  const { section, producerCodec, viewerCodec } = served;
  const codec: ms.RtpCodecCapability = {
    kind: section.kind,
    mimeType: normalizedMimeType(section.kind, producerCodec),
    preferredPayloadType: viewerCodec.payloadType,
    clockRate: producerCodec.clockRate,
    parameters: { ...(producerCodec.parameters as Record<string, unknown>) },
    rtcpFeedback: supportedFeedback(section.kind, viewerCodec),
  };
  if (section.kind === 'audio') codec.channels = producerCodec.channels ?? 2;
  const supported = router.rtpCapabilities.headerExtensions ?? [];
  // At the viewer's own ids: wisp's mediasoup patch renames the forwarded extensions per
  // consumer (infra/mediasoup/README.md), so Firefox (transport-cc 7) and libwebrtc
  // (transport-cc 3) viewers both get bandwidth estimation.
  const headerExtensions = section.headerExtensions
    .filter((ext) => supported.some((s) => s.uri === ext.uri && s.kind === section.kind))
    .map((ext) => ({
      kind: section.kind,
      uri: ext.uri as ms.RtpHeaderExtensionUri,
      preferredId: ext.id,
      preferredEncrypt: false,
      direction: 'sendrecv' as const,
    }));
  return { codecs: [codec], headerExtensions };
}

/**
 * The answer's sections in the offer's m-line order: served sections, then rejected ones
 * (media we don't have, data channels) with port 0, so the answer has as many m-lines as the
 * offer (JSEP).
 */
function answerSections(
  plan: ViewPlan,
  consumers: ms.Consumer[],
  streamId: string,
): AnswerSection[] {
  const msidStream = `wisp-${streamId}`;
  const media = plan.offer.sections.map((section) => ({ index: section.index, section }));
  const others = plan.offer.otherSections.map((other) => ({
    index: other.index,
    answer: rejectedSection(other),
  }));
  const mediaAnswers = media.map(({ index, section }) => ({
    index,
    answer: mediaAnswer(section),
  }));
  return [...mediaAnswers, ...others].sort((a, b) => a.index - b.index).map((a) => a.answer);

  function mediaAnswer(section: MediaSectionOffer): AnswerSection {
    const index = plan.served.findIndex((s) => s.section.mid === section.mid);
    const served = plan.served[index];
    const consumer = consumers[index];
    if (!served || !consumer) {
      return rejectedSection({
        ...section,
        formats: section.codecs.map((c) => c.payloadType).join(' '),
      });
    }
    const { viewerCodec } = served;
    const sent = consumer.rtpParameters.codecs[0];
    const encoding = consumer.rtpParameters.encodings?.[0];
    return {
      mid: section.mid,
      kind: section.kind,
      protocol: section.protocol,
      accepted: true,
      direction: 'sendonly',
      codecs: [
        {
          payloadType: viewerCodec.payloadType,
          name: viewerCodec.mimeType.split('/')[1],
          clockRate: viewerCodec.clockRate,
          ...(viewerCodec.channels !== undefined ? { channels: viewerCodec.channels } : {}),
          ...(viewerCodec.fmtp !== undefined ? { fmtp: viewerCodec.fmtp } : {}),
          rtcpFeedback: sent.rtcpFeedback ?? [],
        },
      ],
      headerExtensions: (consumer.rtpParameters.headerExtensions ?? []).map((e) => ({
        id: e.id,
        uri: e.uri,
      })),
      rtcpRsize: section.rtcpRsize,
      msid: { streamId: msidStream, trackId: `${section.kind}-${consumer.id}` },
      ...(encoding?.ssrc !== undefined
        ? { ssrcs: { ssrc: encoding.ssrc, cname: consumer.rtpParameters.rtcp?.cname ?? 'wisp' } }
        : {}),
    };
  }
}
