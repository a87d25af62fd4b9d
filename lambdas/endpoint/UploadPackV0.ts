import { ValidationError } from '../shared/errors/index.ts';
import { decodePktLines, encodeFlush, encodePktLine, FLUSH } from '../shared/git/pktLine.ts';
import type { RefSnapshot } from '../shared/git/RefSnapshot.ts';
import { assertLineCount, FetchArgumentsBuilder, type FetchArguments } from './fetchArguments.ts';
import { MirrorFetch, type MirrorContent } from './MirrorFetch.ts';
import type { SideBandMode } from './packFraming.ts';
import { answerWithPack, packTooLargeMessage, type UploadPackAnswer } from './UploadPackV2.ts';

export interface UploadPackV0Options {
  /** git's `uploadpack.allowReachableSHA1InWant`: commits reachable from a ref may be wanted by id, not only ref tips. */
  readonly allowReachableSha1InWant: boolean;
  /** Most pack bytes one answer carries; past it the answer ends (with an error on side-band 3 when the client takes side-band). @default no limit */
  readonly maxPackBytes?: number;
  /** Most objects one request's walk may visit; past it, an `ERR` line. @default MAX_WALK_OBJECTS */
  readonly maxWalkObjects?: number;
}

const ZERO_OID = '0'.repeat(40);

/** What the region offers a protocol v0/v1 client, in git's words. */
function capabilities(snapshot: RefSnapshot, options: UploadPackV0Options): string {
  return [
    'multi_ack',
    'thin-pack',
    'side-band',
    'side-band-64k',
    'ofs-delta',
    'shallow',
    'deepen-since',
    'deepen-not',
    'deepen-relative',
    'no-progress',
    'include-tag',
    'multi_ack_detailed',
    ...(options.allowReachableSha1InWant ? ['allow-tip-sha1-in-want', 'allow-reachable-sha1-in-want'] : []),
    'no-done',
    ...(snapshot.head !== undefined && snapshot.refs.has(snapshot.head) ? [`symref=HEAD:${snapshot.head}`] : []),
    'filter',
    'object-format=sha1',
    'agent=git-geo',
  ].join(' ');
}

/**
 * The smart HTTP ref advertisement for `info/refs?service=git-upload-pack` (protocol v0, or v1
 * with its version line): HEAD, every ref and the peeled value of each annotated tag, the
 * capabilities on the first line, as git http-backend writes it.
 */
export function uploadPackV0Advertisement(snapshot: RefSnapshot, version: 0 | 1, options: UploadPackV0Options): Buffer {
  const lines: Buffer[] = [encodePktLine('# service=git-upload-pack\n'), encodeFlush()];
  if (version === 1) lines.push(encodePktLine('version 1\n'));
  const refs: [string, string][] = [];
  const head = snapshot.head === undefined ? undefined : snapshot.refs.get(snapshot.head);
  if (head !== undefined) refs.push([head, 'HEAD']);
  for (const [name, oid] of snapshot.refs) {
    refs.push([oid, name]);
    const peeled = snapshot.peeled.get(name);
    if (peeled !== undefined) refs.push([peeled, `${name}^{}`]);
  }
  const caps = capabilities(snapshot, options);
  if (refs.length === 0) lines.push(encodePktLine(`${ZERO_OID} capabilities^{}\0${caps}\n`));
  refs.forEach(([oid, name], index) => lines.push(encodePktLine(index === 0 ? `${oid} ${name}\0${caps}\n` : `${oid} ${name}\n`)));
  lines.push(encodeFlush());
  return Buffer.concat(lines);
}

/** One stateless-RPC request of protocol v0/v1: the wants section, then haves in rounds, maybe `done`. */
interface V0Request {
  readonly args: FetchArguments;
  readonly multiAck: 'detailed' | 'plain' | 'none';
  readonly noDone: boolean;
  readonly sideBand: SideBandMode;
  /** Something came after the wants section (haves or `done`); without it the client only asked for the shallow list. */
  readonly negotiates: boolean;
}

function parseRequest(body: Buffer): V0Request {
  assertLineCount(body);
  let lines;
  try {
    lines = decodePktLines(body);
  } catch (error) {
    throw new ValidationError('malformed pkt-line in an upload-pack request', { cause: error });
  }
  const builder = new FetchArgumentsBuilder();
  const features = new Set<string>();
  let section = 0;
  let negotiates = false;
  let first = true;
  // Repeated lines change nothing: each distinct one is parsed once (the builder still counts them all).
  const seen = new Set<string>();
  for (const line of lines) {
    if (line === FLUSH) {
      section++;
      continue;
    }
    const text = line.toString('latin1', 0, line[line.length - 1] === 0x0a ? line.length - 1 : line.length);
    if (seen.has(text)) {
      builder.count();
      continue;
    }
    seen.add(text);
    if (section === 0) {
      if (first && text.startsWith('want ')) {
        // The first want carries the client's capabilities after its id.
        for (const feature of text.slice(46).split(' ')) if (feature !== '') features.add(feature);
        first = false;
      }
      if (!/^(want|shallow|deepen|deepen-since|deepen-not|filter) /.test(text)) throw new ValidationError(`unexpected line in the wants of an upload-pack request: ${JSON.stringify(text.slice(0, 60))}`);
      builder.add(text);
      continue;
    }
    if (!text.startsWith('have ') && text !== 'done') throw new ValidationError(`expected have or done, got ${JSON.stringify(text.slice(0, 60))}`);
    negotiates = true;
    builder.add(text);
    if (text === 'done') break;
  }
  if (section === 0 && lines.length > 0) throw new ValidationError('the wants of an upload-pack request end with a flush');
  builder.thinPack = features.has('thin-pack');
  builder.includeTag = features.has('include-tag');
  builder.ofsDelta = features.has('ofs-delta');
  builder.deepenRelative = features.has('deepen-relative');
  return {
    args: builder.build(),
    multiAck: features.has('multi_ack_detailed') ? 'detailed' : features.has('multi_ack') ? 'plain' : 'none',
    noDone: features.has('no-done'),
    sideBand: features.has('side-band-64k') ? 'side-band-64k' : features.has('side-band') ? 'side-band' : 'none',
    negotiates,
  };
}

/**
 * The server side of git's protocol v0/v1 `upload-pack` over stateless HTTP: each POST carries
 * the wants (and shallow and deepen lines) again, then the haves so far, and maybe `done`; the
 * answer is the shallow list (when deepening), ACK/NAK as `multi_ack_detailed`, `multi_ack` or
 * neither asks, and the pack once the client is done or (with `no-done`) ready.
 */
export class UploadPackV0 {
  constructor(
    private readonly mirror: MirrorContent,
    private readonly options: UploadPackV0Options,
  ) {}

  async respond(body: Buffer): Promise<UploadPackAnswer> {
    // git's size probe before a large request, and a client with nothing to fetch: a lone flush.
    if (body.length === 0 || body.equals(encodeFlush())) return { body: Buffer.alloc(0), outcome: { command: 'probe' } };
    let request: V0Request;
    try {
      request = parseRequest(body);
    } catch (error) {
      if (error instanceof ValidationError && !/malformed/.test(error.message)) return this.error(error.message);
      throw error;
    }
    const { args } = request;
    if (args.wants.length === 0) throw new ValidationError('a fetch names at least one want');
    const fetch = new MirrorFetch(this.mirror, args, this.options.maxWalkObjects === undefined ? {} : { maxWalkObjects: this.options.maxWalkObjects });
    const check = await fetch.checkWants(this.options.allowReachableSha1InWant ? 'reachable' : 'advertised');
    if (check.kind === 'not-held') return { primary: 'want-not-held', outcome: { command: 'fetch' } };
    if (check.kind === 'not-our-ref') return this.error(`upload-pack: not our ref ${check.oid}`);

    const parts: Buffer[] = [];
    try {
      if (fetch.deepens) {
        // Every answer starts with the shallow list; the first request asks for nothing else.
        const boundary = await fetch.shallowInfo();
        for (const oid of boundary.shallow) parts.push(encodePktLine(`shallow ${oid.toString('hex')}\n`));
        for (const oid of boundary.unshallow) parts.push(encodePktLine(`unshallow ${oid.toString('hex')}\n`));
        parts.push(encodeFlush());
        if (!request.negotiates) return { body: Buffer.concat(parts), outcome: { command: 'fetch', negotiating: true } };
      }
    } catch (error) {
      if (error instanceof ValidationError) return this.error(error.message);
      throw error;
    }

    const commons = await fetch.commons();
    const last = commons.at(-1)?.toString('hex');
    for (const [index, oid] of commons.entries()) {
      if (request.multiAck === 'detailed') parts.push(encodePktLine(`ACK ${oid.toString('hex')} common\n`));
      else if (request.multiAck === 'plain') parts.push(encodePktLine(`ACK ${oid.toString('hex')} continue\n`));
      else if (index === 0) parts.push(encodePktLine(`ACK ${oid.toString('hex')}\n`));
    }
    if (!args.done) {
      // With a common commit the region is ready to send a pack: the client says done, or (no-done) takes it now.
      const ready = last !== undefined && request.multiAck === 'detailed';
      if (ready) parts.push(encodePktLine(`ACK ${last} ready\n`));
      if (commons.length === 0 || request.multiAck !== 'none') parts.push(encodePktLine('NAK\n'));
      if (!(ready && request.noDone)) return { body: Buffer.concat(parts), outcome: { command: 'fetch', negotiating: true } };
      parts.push(encodePktLine(`ACK ${last}\n`));
    } else if (last === undefined) {
      parts.push(encodePktLine('NAK\n'));
    } else if (request.multiAck !== 'none') {
      parts.push(encodePktLine(`ACK ${last}\n`));
    }

    let built;
    try {
      built = await fetch.build();
    } catch (error) {
      if (error instanceof ValidationError) return this.error(error.message);
      throw error;
    }
    const { maxPackBytes } = this.options;
    const framing = { mode: request.sideBand, ...(maxPackBytes === undefined ? {} : { maxBytes: maxPackBytes, message: packTooLargeMessage(maxPackBytes) }) };
    return { body: answerWithPack(parts, built.pack, framing), outcome: { command: 'fetch', objects: built.objects, ...(built.stats === undefined ? {} : { stats: built.stats }) } };
  }

  private error(message: string): UploadPackAnswer {
    return { body: Buffer.concat([encodePktLine(`ERR ${message}\n`), encodeFlush()]), outcome: { command: 'fetch' } };
  }
}
