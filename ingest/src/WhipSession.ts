/**
 * A publisher's WHIP session (RFC 9725): one WebRtcTransport and one Producer per accepted
 * media section, on the router of its IngestStream. Created from a validated offer; closing it
 * closes the transport (and so the producers) and tells the owner.
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
  acceptedExtensions,
  buildAnswer,
  rejectedSection,
  producerRtpParameters,
  supportedFeedback,
  type AnswerSection,
  type RtcSessionOptions,
  type MediaSectionOffer,
  type OfferedCodec,
  type ParsedOffer,
} from '@wisp/core/rtc';

export interface PublishPlan {
  offer: ParsedOffer;
  /** Accepted sections with the codec each one is received with. */
  accepted: { section: MediaSectionOffer; codec: OfferedCodec }[];
}

export class WhipSession extends RtcSession {
  readonly producers: ms.Producer[];

  private constructor(options: RtcSessionOptions & { producers: ms.Producer[] }) {
    super(options);
    this.producers = options.producers;
  }

  static async create(options: {
    id: string;
    streamId: string;
    router: ms.Router;
    plan: PublishPlan;
    media: MediaConfig;
    session: SessionConfig;
  }): Promise<WhipSession> {
    const { router, plan } = options;
    const log = createLogger('WhipSession', { streamId: options.streamId, sessionId: options.id });
    const peer = await PeerTransport.create({
      router,
      offer: plan.offer,
      media: options.media,
      session: options.session,
      log,
    });
    const producers: ms.Producer[] = [];
    try {
      const supported = router.rtpCapabilities.headerExtensions ?? [];
      for (const { section, codec } of plan.accepted) {
        try {
          producers.push(
            await peer.transport.produce({
              kind: section.kind,
              rtpParameters: producerRtpParameters(section, codec, supported),
              keyFrameRequestDelay: options.session.keyframeRequestDelayMs,
              appData: { mid: section.mid },
            }),
          );
        } catch (error) {
          throw clientParameterError(error, `the RTP parameters of mid ${section.mid}`);
        }
      }
      const answer = buildAnswer({
        transport: peer.answerTransport(),
        sections: answerSections(plan, supported),
      });
      const mids = plan.accepted.map(({ section }) => ({
        mid: section.mid,
        kind: section.kind,
        protocol: section.protocol,
      }));
      log.info(
        {
          codecs: plan.accepted.map((a) => a.codec.mimeType),
          rids: plan.accepted.flatMap((a) => a.section.rids),
        },
        'publishing',
      );
      return new WhipSession({ ...options, peer, producers, answer, mids });
    } catch (error) {
      peer.close('error');
      throw error;
    }
  }
}

function answerSections(plan: PublishPlan, supported: ms.RtpHeaderExtension[]): AnswerSection[] {
  const byMid = new Map(plan.accepted.map((a) => [a.section.mid, a]));
  return plan.offer.sections.map((section) => {
    const accepted = byMid.get(section.mid);
    if (!accepted) {
      return rejectedSection({
        ...section,
        formats: section.codecs.map((c) => c.payloadType).join(' '),
      });
    }
    const { codec } = accepted;
    const codecs: AnswerSection['codecs'] = [
      {
        payloadType: codec.payloadType,
        name: codec.mimeType.split('/')[1],
        clockRate: codec.clockRate,
        ...(codec.channels !== undefined ? { channels: codec.channels } : {}),
        ...(codec.fmtp !== undefined ? { fmtp: codec.fmtp } : {}),
        rtcpFeedback: supportedFeedback(section.kind, codec),
      },
    ];
    if (codec.rtxPayloadType !== undefined && section.kind === 'video') {
      codecs.push({
        payloadType: codec.rtxPayloadType,
        name: 'rtx',
        clockRate: codec.clockRate,
        fmtp: `apt=${codec.payloadType}`,
        rtcpFeedback: [],
      });
    }
    return {
      mid: section.mid,
      kind: section.kind,
      protocol: section.protocol,
      accepted: true,
      direction: 'recvonly',
      codecs,
      headerExtensions: acceptedExtensions(section, supported),
      rtcpRsize: section.rtcpRsize,
      // Every offered layer is accepted: OBS aborts if fewer are (field-notes §1).
      recvRids: section.rids,
    };
  });
}
