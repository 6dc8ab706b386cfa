import { DEFAULT_DIRECTORIES, type FileCopy } from '@portlayer/contracts'
import { invalidArgument } from './errors.js'

/**
 * One file or directory. Nodes are never changed in place — a write replaces the node — so file
 * systems and snapshots can share them (and their bytes) freely.
 */
export class FsNode {
  constructor(
    readonly dir: boolean,
    readonly perms: number,
    readonly data: Uint8Array | null,
  ) {}
}

/** A container's file system: normalised absolute path → node. Parents always exist. */
export type FsMap = Map<string, FsNode>

/** Whatever holds a file system: a container (its own, or the shared defaults until it writes). */
export interface FsOwner {
  fs: FsMap | null
}

export const DIR_PERMS = 0o755
const STICKY_TMP_PERMS = 0o1777

function buildDefaults(): ReadonlyMap<string, FsNode> {
  const fs: FsMap = new Map([['/', new FsNode(true, DIR_PERMS, null)]])
  for (const dir of DEFAULT_DIRECTORIES) {
    mkdirs(fs, dir)
  }
  fs.set('/tmp', new FsNode(true, STICKY_TMP_PERMS, null))
  return fs
}

/** The directories every container starts with, shared until a container first writes. */
export const DEFAULT_FS: ReadonlyMap<string, FsNode> = buildDefaults()

export function fsOf(c: FsOwner | null): ReadonlyMap<string, FsNode> {
  return c?.fs ?? DEFAULT_FS
}

/** The container's own, writable file system (copied from the defaults on first write). */
export function ownFs(c: FsOwner): FsMap {
  if (c.fs === null) c.fs = new Map(DEFAULT_FS)
  return c.fs
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/')
  return i <= 0 ? '/' : path.slice(0, i)
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

/** Creates `dir` and its missing ancestors; anything not a directory in the way is replaced. */
export function mkdirs(fs: FsMap, dir: string, perms = DIR_PERMS): void {
  if (dir === '/') return
  let i = 1
  for (;;) {
    const j = dir.indexOf('/', i)
    const path = j === -1 ? dir : dir.slice(0, j)
    const node = fs.get(path)
    if (node === undefined || !node.dir) fs.set(path, new FsNode(true, perms, null))
    if (j === -1) return
    i = j + 1
  }
}

/** Removes `path` and, for a directory, everything under it. */
export function removeTree(fs: FsMap, path: string): void {
  const node = fs.get(path)
  fs.delete(path)
  if (node?.dir) {
    const prefix = `${path}/`
    for (const key of fs.keys()) if (key.startsWith(prefix)) fs.delete(key)
  }
}

/**
 * The container's own copies of a handle's files. A handle's bytes stay reachable, and writable,
 * by whoever holds the handle (a `Uint8Array` cannot be frozen), so a commit must not keep them.
 */
export function ownCopies(files: readonly FileCopy[]): FileCopy[] {
  const out: FileCopy[] = []
  for (const f of files) {
    // Records are internal and never handed out, so they need no freezing; slice always copies.
    out.push({ targetDir: f.targetDir, fname: f.fname, perms: f.perms, data: COPY.call(f.data) })
  }
  return out
}

// Uint8Array's own slice: Buffer overrides `slice` to return a view, not a copy.
const COPY = Uint8Array.prototype.slice as (this: Uint8Array) => Uint8Array

/** Lands copies in order (a later copy to the same path wins), creating missing directories. */
export function landCopies(c: FsOwner, files: readonly FileCopy[]): void {
  const fs = ownFs(c)
  for (const f of files) {
    mkdirs(fs, f.targetDir)
    const path = joinPath(f.targetDir, f.fname)
    // Commit checked that nothing is in the way; only a test's direct fs edits can put a
    // directory here, and the copy (like `cp` onto a path) replaces it.
    const old = fs.get(path)
    if (old?.dir) removeTree(fs, path)
    fs.set(path, new FsNode(false, f.perms, f.data))
  }
}

const IS_FILE = false
const IS_DIR = true

/**
 * Fails (INVALID_ARGUMENT, nothing changed) when a copy could not land: a path component of its
 * target directory is a file, or its target path is a directory — in the container's file system
 * as it will be when the copies land, i.e. after `earlier` copies still waiting for a start.
 */
export function checkCopies(
  c: FsOwner | null,
  id: string,
  files: readonly FileCopy[],
  earlier: readonly FileCopy[] | null,
): void {
  const base = fsOf(c)
  // What the copies before the one being checked put in place (path → is a directory); made only
  // when there is more than one copy. No closures here: this runs at every commit with files.
  let overlay: Map<string, boolean> | null = null
  if (earlier !== null) {
    overlay = new Map()
    for (const f of earlier) record(overlay, f)
  }
  const many = files.length > 1
  for (const f of files) {
    const dir = f.targetDir
    if (dir !== '/') {
      let i = 1
      for (;;) {
        const j = dir.indexOf('/', i)
        const path = j === -1 ? dir : dir.slice(0, j)
        if (kindOf(base, overlay, path) === IS_FILE) {
          throw invalidArgument(
            `cannot copy '${f.fname}' to ${dir} in container ${id}: ${path} is a file`,
            id,
          )
        }
        if (j === -1) break
        i = j + 1
      }
    }
    const path = joinPath(dir, f.fname)
    if (kindOf(base, overlay, path) === IS_DIR) {
      throw invalidArgument(`cannot copy to ${path} in container ${id}: it is a directory`, id)
    }
    if (many) {
      overlay ??= new Map()
      record(overlay, f)
    }
  }
}

function kindOf(
  base: ReadonlyMap<string, FsNode>,
  overlay: Map<string, boolean> | null,
  path: string,
): boolean | undefined {
  const k = overlay?.get(path)
  if (k !== undefined) return k
  return base.get(path)?.dir
}

function record(overlay: Map<string, boolean>, f: FileCopy): void {
  const dir = f.targetDir
  if (dir !== '/') {
    let i = 1
    for (;;) {
      const j = dir.indexOf('/', i)
      overlay.set(j === -1 ? dir : dir.slice(0, j), IS_DIR)
      if (j === -1) break
      i = j + 1
    }
  }
  overlay.set(joinPath(dir, f.fname), IS_FILE)
}
