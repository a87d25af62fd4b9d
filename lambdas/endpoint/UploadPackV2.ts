import { ValidationError } from '../shared/errors/index.ts';
import type { PackStats } from '../shared/git/pack/writePack.ts';
import { encodeFlush, encodePktLine } from '../shared/git/pktLine.ts';
import { assertLineCount, FetchArgumentsBuilder, isUriProtocolsLine, uriProtocols, type FetchArguments } from './fetchArguments.ts';
import { MirrorFetch, type MirrorContent } from './MirrorFetch.ts';
import { framePack, type PackFramingOptions } from './packFraming.ts';
import { packUriSections, sendPack, type PackUploads } from './PackUploads.ts';
import { packReuseKey } from './packReuse.ts';

/** What one request did, for logs and metrics. */
export interface UploadPackOutcome {
  readonly command: 'ls-refs' | 'fetch' | 'probe';
  readonly objects?: number;
  readonly packBytes?: number;
  readonly stats?: PackStats;
  /** The fetch needed another round of negotiation: no pack was sent. */
  readonly negotiating?: boolean;
  /** The pack went by URL (`packfile-uris`), not through the answer. */
  readonly byUri?: boolean;
  /** That pack was one built earlier for the same request and mirror state. */
  readonly reused?: boolean;
}

/**
 * A region's answer to an upload-pack request: a body (whole, or chunks written as they are
 * read, when it carries a pack), or "ask the primary" (what it lacks, or refs it does not mirror).
 */
export type UploadPackAnswer =
  | { readonly body: Buffer | Iterable<Buffer>; readonly outcome: UploadPackOutcome; readonly primary?: undefined }
  | { readonly primary: string; readonly outcome: UploadPackOutcome };

export interface UploadPackV2Options {
  /** Ref namespaces the region mirrors; an ls-refs for refs outside them goes to the primary. */
  readonly refNamespaces: readonly string[];
  /** Most pack bytes one answer carries; past it the answer ends with an error git shows. @default no limit */
  readonly maxPackBytes?: number;
  /** Most objects one request's walk may visit; past it, an `ERR` line. @default MAX_WALK_OBJECTS */
  readonly maxWalkObjects?: number;
  /** Where a big pack goes for a client that takes `packfile-uris`; absent, every pack goes inline. */
  readonly packUris?: PackUriOptions;
}

export interface PackUriOptions {
  readonly uploads: PackUploads;
  /**
   * The mirror's state (packReuse.ts's `mirrorStateDigest`), asked only for a fetch that takes
   * packs by URL. A clone's pack is stored under a key of the request and this state, and the
   * same clone is answered with it again.
   */
  readonly mirrorStateDigest: () => string;
}

/** What a client is told when a pack would pass the limit of a streamed response. */
export function packTooLargeMessage(maxPackBytes: number): string {
  return `this fetch needs a pack of more than ${(maxPackBytes / 2 ** 20).toFixed(0)} MB, more than a region streams through Lambda: fetch with \`git -c fetch.uriProtocols=https\` or from the primary`;
}

const DELIM = Buffer.from('0001', 'latin1');
/** Client arguments a region cannot honour; the message tells the user where to go instead. */
const UNSUPPORTED = ['want-ref', 'sideband-all', 'wait-for-done'];

/** The capability advertisement: protocol v2 with ls-refs and fetch (with shallow, and `fetchFeatures`), SHA-1 only. */
export function uploadPackV2Advertisement(fetchFeatures: readonly string[] = [], commands: readonly string[] = []): Buffer {
  return Buffer.concat([
    encodePktLine('version 2\n'),
    encodePktLine('agent=git-geo\n'),
    encodePktLine('ls-refs\n'),
    encodePktLine(`fetch=${['shallow', 'filter', ...fetchFeatures].join(' ')}\n`),
    ...commands.map((command) => encodePktLine(`${command}\n`)),
    encodePktLine('object-format=sha1\n'),
    encodeFlush(),
  ]);
}

interface V2Request {
  readonly command: string;
  readonly capabilities: readonly string[];
  readonly args: readonly string[];
}

/** Splits a v2 request: `command=…`, capabilities, a delimiter, arguments, a flush. */
function parseRequest(body: Buffer): V2Request {
  const sections: string[][] = [[]];
  let offset = 0;
  let flushed = false;
  while (offset < body.length) {
    const header = body.toString('latin1', offset, offset + 4);
    if (!/^[0-9a-f]{4}$/.test(header)) throw new ValidationError('malformed pkt-line in an upload-pack request', { data: { offset } });
    const length = Number.parseInt(header, 16);
    if (length === 0) {
      flushed = true;
      offset += 4;
      break;
    }
    if (length === 1) {
      sections.push([]);
      offset += 4;
      continue;
    }
    if (length < 4 || offset + length > body.length) throw new ValidationError('malformed pkt-line in an upload-pack request', { data: { offset } });
    sections.at(-1)!.push(body.toString('utf8', offset + 4, offset + length).replace(/\n$/, ''));
    offset += length;
  }
  if (!flushed || offset !== body.length || sections.length > 2) throw new ValidationError('an upload-pack request is a command, capabilities, a delimiter, arguments and a flush');
  const [head = [], args = []] = sections;
  const command = head[0]?.startsWith('command=') ? head[0].slice('command='.length) : undefined;
  if (command === undefined) throw new ValidationError('an upload-pack request starts with command=');
  return { command, capabilities: head.slice(1), args };
}

/** A deepening fetch's `shallow-info` section: the new shallow boundary, and what is no longer shallow. */
function shallowInfo(shallow: readonly string[], unshallow: readonly string[]): Buffer[] {
  return [
    encodePktLine('shallow-info\n'),
    ...shallow.map((oid) => encodePktLine(`shallow ${oid}\n`)),
    ...unshallow.map((oid) => encodePktLine(`unshallow ${oid}\n`)),
    DELIM,
  ];
}

/** The lines before the pack, then the pack framed as it is written. */
export function* answerWithPack(head: readonly Buffer[], pack: Iterable<Buffer>, framing: PackFramingOptions): Generator<Buffer> {
  yield Buffer.concat(head);
  yield* framePack(pack, framing);
}

/** True when `prefix` asks only for refs outside the mirrored namespaces (and is not an artefact of git's short-name expansion). */
function outsideNamespaces(prefix: string, namespaces: readonly string[], refs: ReadonlyMap<string, string>): boolean {
  if (!prefix.startsWith('refs/') || prefix.startsWith('refs/remotes/')) return false;
  if (namespaces.some((namespace) => prefix.startsWith(namespace) || namespace.startsWith(prefix))) return false;
  // git expands each name it fetches: `main` also asks for refs/main, and `refs/heads/main` for
  // refs/refs/heads/main. Those are answered here when the name is a ref here.
  const rest = prefix.slice('refs/'.length);
  const expanded = [prefix, `refs/heads/${rest}`, `refs/tags/${rest}`, ...(rest.startsWith('refs/') ? [rest] : [])];
  for (const name of refs.keys()) if (expanded.some((candidate) => name.startsWith(candidate))) return false;
  return true;
}

/**
 * The server side of Git's protocol v2 `upload-pack` over stateless HTTP, answered from a
 * mirror: `ls-refs` from its refs, `fetch` with a pack built from its stored packs (shallow
 * clones and fetches included). What a region cannot do is refused with an `ERR` line that
 * git shows the user, never with a wrong answer.
 */
export class UploadPackV2 {
  constructor(
    private readonly mirror: MirrorContent,
    private readonly options: UploadPackV2Options,
  ) {}

  async respond(body: Buffer): Promise<UploadPackAnswer> {
    // git's size probe before a large request: a lone flush, answered with nothing.
    if (body.equals(encodeFlush())) return { body: Buffer.alloc(0), outcome: { command: 'probe' } };
    assertLineCount(body);
    const request = parseRequest(body);
    const format = request.capabilities.find((capability) => capability.startsWith('object-format='));
    if (format !== undefined && format !== 'object-format=sha1') return this.error('ls-refs', `this region serves sha1 repositories only, not ${format.slice(14)}`);
    if (request.command === 'ls-refs') return this.lsRefs(request.args);
    if (request.command === 'fetch') return this.fetch(request.args);
    throw new ValidationError(`unknown upload-pack command ${JSON.stringify(request.command.slice(0, 40))}: ls-refs and fetch are served`);
  }

  private lsRefs(args: readonly string[]): UploadPackAnswer {
    const { snapshot } = this.mirror;
    const symrefs = args.includes('symrefs');
    const peel = args.includes('peel');
    const unborn = args.includes('unborn');
    const prefixes = args.filter((arg) => arg.startsWith('ref-prefix ')).map((arg) => arg.slice('ref-prefix '.length));
    // refs/pull/1/merge, refs/pipelines/7: refs a region does not mirror are the primary's to list.
    const outside = prefixes.find((prefix) => outsideNamespaces(prefix, this.options.refNamespaces, snapshot.refs));
    if (outside !== undefined) return { primary: `ls-refs:${outside.split('/').slice(0, 2).join('/')}/`, outcome: { command: 'ls-refs' } };
    const wanted = (name: string): boolean => prefixes.length === 0 || prefixes.some((prefix) => name.startsWith(prefix));
    const lines: Buffer[] = [];
    if (wanted('HEAD') && snapshot.head !== undefined) {
      const oid = snapshot.refs.get(snapshot.head);
      const target = symrefs ? ` symref-target:${snapshot.head}` : '';
      if (oid !== undefined) lines.push(encodePktLine(`${oid} HEAD${target}\n`));
      else if (unborn) lines.push(encodePktLine(`unborn HEAD${target}\n`));
    }
    for (const [name, oid] of snapshot.refs) {
      if (!wanted(name)) continue;
      const peeled = peel ? snapshot.peeled.get(name) : undefined;
      lines.push(encodePktLine(`${oid} ${name}${peeled === undefined ? '' : ` peeled:${peeled}`}\n`));
    }
    return { body: Buffer.concat([...lines, encodeFlush()]), outcome: { command: 'ls-refs' } };
  }

  private async fetch(request: readonly string[]): Promise<UploadPackAnswer> {
    const takes = uriProtocols(request);
    const lines = request.filter((arg) => !isUriProtocolsLine(arg));
    const unsupported = lines.find((arg) => UNSUPPORTED.includes(arg.split(' ')[0]!));
    if (unsupported !== undefined) return this.error('fetch', `${unsupported.split(' ')[0]} is not served by git-geo regions; fetch from the primary`);
    const builder = new FetchArgumentsBuilder();
    // v2 always takes OFS deltas; other arguments (no-progress, agent…) change nothing here.
    builder.ofsDelta = true;
    let args: FetchArguments;
    try {
      for (const line of lines) builder.add(line);
      args = builder.build();
    } catch (error) {
      if (error instanceof ValidationError) return this.error('fetch', error.message);
      throw error;
    }
    if (args.wants.length === 0) throw new ValidationError('a fetch names at least one want');

    const fetch = new MirrorFetch(this.mirror, args, this.options.maxWalkObjects === undefined ? {} : { maxWalkObjects: this.options.maxWalkObjects });
    // Over v2 upload-pack serves any object it holds; what this region lacks, the primary has.
    const check = await fetch.checkWants('any');
    if (check.kind === 'not-held') return { primary: 'want-not-held', outcome: { command: 'fetch' } };
    if (check.kind === 'not-our-ref') return this.error('fetch', `upload-pack: not our ref ${check.oid}`);

    const parts: Buffer[] = [];
    if (!args.done) {
      // Without a common commit, ask for more haves; with one, that is enough to send a pack.
      const commons = await fetch.commons();
      if (commons.length === 0) return this.nak();
      parts.push(encodePktLine('acknowledgments\n'));
      for (const oid of commons) parts.push(encodePktLine(`ACK ${oid.toString('hex')}\n`));
      parts.push(encodePktLine('ready\n'), DELIM);
    }
    const { packUris, maxPackBytes } = this.options;
    // Packs by URL: the uploads, and the key of this request and the mirror's state.
    const byUri = packUris !== undefined && takes.includes(packUris.uploads.protocol) ? { uploads: packUris.uploads, key: packReuseKey(packUris.mirrorStateDigest(), lines) } : undefined;
    // Clones (no haves) are what many runners ask alike; a fetch's haves make its key its own,
    // so its pack is neither looked up nor recorded.
    const reusable = byUri !== undefined && args.haves.length === 0;
    if (reusable) {
      const reused = await byUri.uploads.reused(byUri.key);
      if (reused !== undefined) {
        if (fetch.deepens) parts.push(...shallowInfo(reused.shallow, reused.unshallow));
        const outcome = { command: 'fetch', objects: reused.objects, packBytes: reused.bytes, byUri: true, reused: true } as const;
        return { body: [Buffer.concat(parts), ...packUriSections(reused.checksum, reused.uri)], outcome };
      }
    }
    let built;
    try {
      // What passes the threshold goes to the bucket: there, CPU costs more than bytes.
      built = await fetch.build(byUri !== undefined ? { fastCompressionFrom: byUri.uploads.minBytes } : {});
    } catch (error) {
      if (error instanceof ValidationError) return this.error('fetch', error.message);
      throw error;
    }
    const shallow = built.shallow.map((oid) => oid.toString('hex'));
    const unshallow = built.unshallow.map((oid) => oid.toString('hex'));
    if (fetch.deepens) parts.push(...shallowInfo(shallow, unshallow));
    const outcome = { command: 'fetch', objects: built.objects, ...(built.stats === undefined ? {} : { stats: built.stats }) } as const;
    let pack = built.pack;
    if (byUri !== undefined) {
      // Past Lambda's fast first 6 MB a pack goes by URL, and no size limit applies to it.
      const delivery = await sendPack(pack, byUri.uploads, byUri.key);
      if (delivery.kind === 'uri') {
        if (reusable) await byUri.uploads.remember(byUri.key, { object: delivery.object, checksum: delivery.checksum, bytes: delivery.bytes, objects: built.objects, shallow, unshallow });
        return { body: [Buffer.concat(parts), ...delivery.sections], outcome: { ...outcome, packBytes: delivery.bytes, byUri: true } };
      }
      pack = delivery.pack;
    }
    parts.push(encodePktLine('packfile\n'));
    const framing = { mode: 'side-band-64k', ...(maxPackBytes === undefined ? {} : { maxBytes: maxPackBytes, message: packTooLargeMessage(maxPackBytes) }) } as const;
    return { body: answerWithPack(parts, pack, framing), outcome };
  }

  /** No common commit yet: the client sends more haves, or `done`. */
  private nak(): UploadPackAnswer {
    return { body: Buffer.concat([encodePktLine('acknowledgments\n'), encodePktLine('NAK\n'), encodeFlush()]), outcome: { command: 'fetch', negotiating: true } };
  }

  private error(command: UploadPackOutcome['command'], message: string): UploadPackAnswer {
    return { body: Buffer.concat([encodePktLine(`ERR ${message}\n`), encodeFlush()]), outcome: { command } };
  }
}
