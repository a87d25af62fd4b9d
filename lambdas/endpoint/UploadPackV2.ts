import { ValidationError } from '../shared/errors/index.ts';
import { selectObjects } from '../shared/git/objects/selectObjects.ts';
import type { PackSet } from '../shared/git/pack/PackSet.ts';
import { writePack, type PackStats } from '../shared/git/pack/writePack.ts';
import { encodeFlush, encodePktLine } from '../shared/git/pktLine.ts';
import type { RefSnapshot } from '../shared/git/RefSnapshot.ts';

/** What a fetch needs from the mirror: its refs, and its packs to read objects from (loaded only for a fetch). */
export interface MirrorContent {
  readonly snapshot: RefSnapshot;
  packs(): Promise<PackSet>;
}

/** What one request did, for logs and metrics. */
export interface UploadPackOutcome {
  readonly command: 'ls-refs' | 'fetch';
  readonly objects?: number;
  readonly packBytes?: number;
  readonly stats?: PackStats;
  /** The fetch needed another round of negotiation: no pack was sent. */
  readonly negotiating?: boolean;
}

const DELIM = Buffer.from('0001', 'latin1');
/** Largest side-band payload: a 65520-byte packet less its length and band byte. */
const SIDE_BAND_DATA = 65515;
const OID = /^[0-9a-f]{40}$/;
/** Client arguments a region cannot honour; the message tells the user where to go instead. */
const UNSUPPORTED = ['deepen-since', 'deepen-not', 'deepen-relative', 'filter', 'want-ref', 'sideband-all', 'packfile-uris', 'wait-for-done'];

/** The capability advertisement: protocol v2 with ls-refs and fetch (with shallow, and `fetchFeatures`), SHA-1 only. */
export function uploadPackV2Advertisement(fetchFeatures: readonly string[] = []): Buffer {
  return Buffer.concat([
    encodePktLine('version 2\n'),
    encodePktLine('agent=git-geo\n'),
    encodePktLine('ls-refs\n'),
    encodePktLine(`fetch=${['shallow', ...fetchFeatures].join(' ')}\n`),
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

function sideBand(pack: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  for (let offset = 0; offset < pack.length; offset += SIDE_BAND_DATA) {
    packets.push(encodePktLine(Buffer.concat([Buffer.from([1]), pack.subarray(offset, offset + SIDE_BAND_DATA)])));
  }
  return packets;
}

function oidArgument(arg: string, name: string): Buffer {
  const hex = arg.slice(name.length + 1);
  if (!OID.test(hex)) throw new ValidationError(`malformed ${name} line`, { data: { line: arg.slice(0, 80) } });
  return Buffer.from(hex, 'hex');
}

/**
 * The server side of Git's protocol v2 `upload-pack` over stateless HTTP, answered from a
 * mirror: `ls-refs` from its refs, `fetch` with a pack built from its stored packs (shallow
 * clones and fetches included). What a region cannot do is refused with an `ERR` line that
 * git shows the user, never with a wrong answer.
 */
export class UploadPackV2 {
  constructor(private readonly mirror: MirrorContent) {}

  async respond(body: Buffer): Promise<{ body: Buffer; outcome: UploadPackOutcome }> {
    const request = parseRequest(body);
    const format = request.capabilities.find((capability) => capability.startsWith('object-format='));
    if (format !== undefined && format !== 'object-format=sha1') return this.error('ls-refs', `this region serves sha1 repositories only, not ${format.slice(14)}`);
    if (request.command === 'ls-refs') return { body: this.lsRefs(request.args), outcome: { command: 'ls-refs' } };
    if (request.command === 'fetch') return this.fetch(request.args);
    throw new ValidationError(`unknown upload-pack command ${JSON.stringify(request.command.slice(0, 40))}: ls-refs and fetch are served`);
  }

  private lsRefs(args: readonly string[]): Buffer {
    const { snapshot } = this.mirror;
    const symrefs = args.includes('symrefs');
    const peel = args.includes('peel');
    const unborn = args.includes('unborn');
    const prefixes = args.filter((arg) => arg.startsWith('ref-prefix ')).map((arg) => arg.slice('ref-prefix '.length));
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
    return Buffer.concat([...lines, encodeFlush()]);
  }

  private async fetch(args: readonly string[]): Promise<{ body: Buffer; outcome: UploadPackOutcome }> {
    const unsupported = args.find((arg) => UNSUPPORTED.includes(arg.split(' ')[0]!));
    if (unsupported !== undefined) return this.error('fetch', `${unsupported.split(' ')[0]} is not served by git-geo regions; fetch from the primary`);
    const wants = args.filter((arg) => arg.startsWith('want ')).map((arg) => oidArgument(arg, 'want'));
    const haves = args.filter((arg) => arg.startsWith('have ')).map((arg) => oidArgument(arg, 'have'));
    const clientShallows = args.filter((arg) => arg.startsWith('shallow ')).map((arg) => oidArgument(arg, 'shallow'));
    const deepen = args.find((arg) => arg.startsWith('deepen '));
    const depth = deepen === undefined ? undefined : Number(deepen.slice('deepen '.length));
    if (depth !== undefined && (!Number.isSafeInteger(depth) || depth < 1)) throw new ValidationError('deepen takes a positive number of commits');
    if (wants.length === 0) throw new ValidationError('a fetch names at least one want');

    // Only what the refs lead to is served, as upload-pack does by default.
    const advertised = new Set<string>([...this.mirror.snapshot.refs.values(), ...this.mirror.snapshot.peeled.values()]);
    const stranger = wants.find((oid) => !advertised.has(oid.toString('hex')));
    if (stranger !== undefined) return this.error('fetch', `upload-pack: not our ref ${stranger.toString('hex')}`);

    const packs = await this.mirror.packs();
    const full = this.wholeMirrorPack(packs, wants, haves, depth);
    if (full !== undefined) {
      // A clone of everything: the stored packs are the answer, no object walk needed.
      if (!args.includes('done')) return this.nak();
      const body = Buffer.concat([encodePktLine('packfile\n'), ...sideBand(full), encodeFlush()]);
      return { body, outcome: { command: 'fetch', objects: full.readUInt32BE(8), packBytes: full.length } };
    }
    const selection = selectObjects(packs, {
      wants,
      haves,
      clientShallows,
      ...(depth === undefined ? {} : { depth }),
      ...(args.includes('include-tag') ? { tagsByTarget: this.tagsByTarget() } : {}),
    });
    const parts: Buffer[] = [];
    if (!args.includes('done')) {
      // Without a common commit, ask for more haves; with one, that is enough to send a pack.
      if (selection.commons.length === 0) return this.nak();
      parts.push(encodePktLine('acknowledgments\n'));
      for (const oid of selection.commons) parts.push(encodePktLine(`ACK ${oid.toString('hex')}\n`));
      parts.push(encodePktLine('ready\n'), DELIM);
    }
    if (depth !== undefined) {
      parts.push(encodePktLine('shallow-info\n'));
      for (const oid of selection.shallow) parts.push(encodePktLine(`shallow ${oid.toString('hex')}\n`));
      for (const oid of selection.unshallow) parts.push(encodePktLine(`unshallow ${oid.toString('hex')}\n`));
      parts.push(DELIM);
    }
    const { pack, stats } = writePack(packs, selection.objects, args.includes('thin-pack') ? { thinBases: selection.clientHas } : {});
    parts.push(encodePktLine('packfile\n'), ...sideBand(pack), encodeFlush());
    return { body: Buffer.concat(parts), outcome: { command: 'fetch', objects: selection.objects.length, packBytes: pack.length, stats } };
  }

  /**
   * The mirror's packs as one, when that is exactly the right answer: the client has nothing
   * (no haves we hold), wants no depth, and wants every ref the mirror has.
   */
  private wholeMirrorPack(packs: PackSet, wants: readonly Buffer[], haves: readonly Buffer[], depth: number | undefined): Buffer | undefined {
    if (depth !== undefined || haves.some((oid) => packs.has(oid))) return undefined;
    const wanted = new Set(wants.map((oid) => oid.toString('hex')));
    const tips = [...this.mirror.snapshot.refs.values()];
    if (tips.length === 0 || !tips.every((oid) => wanted.has(oid))) return undefined;
    return packs.concatenated();
  }

  /** Annotated tags among the refs, by the id of what each tags. */
  private tagsByTarget(): Map<string, Buffer[]> {
    const { snapshot } = this.mirror;
    const byTarget = new Map<string, Buffer[]>();
    for (const [name, peeled] of snapshot.peeled) {
      const tag = snapshot.refs.get(name);
      if (tag === undefined) continue;
      const tags = byTarget.get(peeled) ?? [];
      tags.push(Buffer.from(tag, 'hex'));
      byTarget.set(peeled, tags);
    }
    return byTarget;
  }

  /** No common commit yet: the client sends more haves, or `done`. */
  private nak(): { body: Buffer; outcome: UploadPackOutcome } {
    return { body: Buffer.concat([encodePktLine('acknowledgments\n'), encodePktLine('NAK\n'), encodeFlush()]), outcome: { command: 'fetch', negotiating: true } };
  }

  private error(command: UploadPackOutcome['command'], message: string): { body: Buffer; outcome: UploadPackOutcome } {
    return { body: Buffer.concat([encodePktLine(`ERR ${message}\n`), encodeFlush()]), outcome: { command } };
  }
}
