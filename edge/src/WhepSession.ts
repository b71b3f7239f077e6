/**
 * A viewer's WHEP session: one WebRtcTransport on a fan-out router and one Consumer per
 * served section. Consumers are created active: mediasoup asks the publisher for a keyframe
 * exactly once, when the viewer's DTLS connects, i.e. when the viewer can use it. (Creating
 * them paused and resuming on connect sent a second request a few ms later, which libwebrtc
 * encoders drop, and cost some joins a second; see KEYFRAME_REQUEST_DELAY_MS.)
 */
import type { types as ms } from 'mediasoup';
import {
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

export class WhepSession extends RtcSession {
  readonly consumers: ms.Consumer[];

  private constructor(options: RtcSessionOptions & { consumers: ms.Consumer[] }) {
    super(options);
    this.consumers = options.consumers;
    for (const consumer of this.consumers) {
      consumer.on('producerclose', () => this.close('stream-offline'));
    }
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
