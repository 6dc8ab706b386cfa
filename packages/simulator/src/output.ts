import type { OutputChunk, OutputStreamName } from '@portlayer/contracts'

/** Index of a stream in a {@link ProcOutput}. */
export const STDOUT = 0
export const STDERR = 1
export type StreamIndex = typeof STDOUT | typeof STDERR
const NAMES: readonly OutputStreamName[] = ['stdout', 'stderr']

/**
 * One write of a process, as kept: never changed once made, so a snapshot can share it. `seq`
 * orders writes across both streams; `offset` is where its bytes start in its stream.
 */
class Piece {
  constructor(
    readonly seq: number,
    readonly offset: number,
    readonly data: Uint8Array,
  ) {}
}

/** The kept tail of one stream: at most `limit` bytes, older ones counted as dropped. */
class StreamLog {
  /** Kept pieces from index `head` on; earlier slots are dropped ones awaiting compaction. */
  pieces: Piece[] = []
  head = 0
  /** Where the first kept byte is in the stream (so `start` bytes were dropped). */
  start = 0
  /** Bytes ever written. */
  end = 0

  write(piece: Piece, limit: number): void {
    this.pieces.push(piece)
    this.end += piece.data.byteLength
    let excess = this.end - this.start - limit
    while (excess > 0) {
      const first = this.pieces[this.head] as Piece
      const n = first.data.byteLength
      if (n <= excess) {
        this.head++
        this.start += n
        excess -= n
      } else {
        // Copied, not a view: the dropped bytes of a large write are freed.
        this.pieces[this.head] = new Piece(first.seq, first.offset + excess, first.data.slice(excess))
        this.start += excess
        excess = 0
      }
    }
    if (this.head > 64 && this.head * 2 > this.pieces.length) {
      this.pieces = this.pieces.slice(this.head)
      this.head = 0
    }
  }

  /** The kept piece holding the byte at `pos` (or the first one after it), if any. */
  find(pos: number): Piece | undefined {
    const { pieces } = this
    let lo = this.head
    let hi = pieces.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const p = pieces[mid] as Piece
      if (p.offset + p.data.byteLength <= pos) lo = mid + 1
      else hi = mid
    }
    return pieces[lo]
  }

  clone(): StreamLog {
    const copy = new StreamLog()
    copy.pieces = this.pieces.slice(this.head)
    copy.start = this.start
    copy.end = this.end
    return copy
  }
}

/** What one run of a process wrote to stdout and stderr, each bounded to the output limit. */
export class ProcOutput {
  private seq = 0
  private readonly streams: [StreamLog, StreamLog]

  constructor(streams?: [StreamLog, StreamLog], seq = 0) {
    this.streams = streams ?? [new StreamLog(), new StreamLog()]
    this.seq = seq
  }

  /** Appends `data` (owned from now on: the caller must not change it) to `stream`. */
  write(stream: StreamIndex, data: Uint8Array, limit: number): void {
    const log = this.streams[stream]
    log.write(new Piece(this.seq++, log.end, data), limit)
  }

  /** Bytes ever written to `stream`. */
  written(stream: StreamIndex): number {
    return this.streams[stream].end
  }

  /** A copy for a snapshot; kept bytes are shared (they never change). */
  clone(): ProcOutput {
    return new ProcOutput([this.streams[0].clone(), this.streams[1].clone()], this.seq)
  }

  /**
   * The next chunk after `pos` (a reader's position per stream, advanced here), taking the
   * streams in the order they were written. `dropped` says how many bytes of that stream fell out
   * of the bound since the reader's position.
   */
  next(pos: [number, number]): OutputChunk | undefined {
    let best: Piece | undefined
    let which: StreamIndex = STDOUT
    for (const s of [STDOUT, STDERR] as const) {
      const log = this.streams[s]
      const piece = log.find(Math.max(pos[s], log.start))
      if (piece !== undefined && (best === undefined || piece.seq < best.seq)) {
        best = piece
        which = s
      }
    }
    if (best === undefined) return undefined
    const log = this.streams[which]
    const from = Math.max(pos[which], log.start, best.offset)
    const dropped = Math.max(0, log.start - pos[which])
    // A copy: what a reader does with its chunk never reaches the kept output.
    const data = best.data.slice(from - best.offset)
    pos[which] = best.offset + best.data.byteLength
    const stream = NAMES[which] as OutputStreamName
    return dropped > 0 ? { stream, data, dropped } : { stream, data }
  }
}
