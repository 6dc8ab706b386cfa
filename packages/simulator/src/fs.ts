import { createError, type ErrorCode, validatePerms } from '@portlayer/contracts'
import { BACKEND, containerNotFound, invalidArgument } from './errors.js'
import { baseName, DIR_PERMS, FsNode, fsOf, mkdirs, ownFs, parentOf, removeTree } from './fs-tree.js'
import { type Container, DESTROYED } from './records.js'

/** What `stat` reports about a path. */
export interface FileStat {
  readonly type: 'file' | 'directory'
  /** POSIX mode bits, 0–0o7777. */
  readonly perms: number
  /** Bytes for a file, 0 for a directory. */
  readonly size: number
}

/**
 * A container's in-memory file system. Paths are absolute, or (in a program's context) relative
 * to the process's working directory; `.` and `..` are resolved lexically. Errors are
 * `PortLayerError`s whose `detail.errno` names the POSIX error: `ENOENT` → `NOT_FOUND`;
 * `ENOTDIR`, `EISDIR`, `EINVAL` → `INVALID_ARGUMENT`; `EEXIST`, `ENOTEMPTY` → `INVALID_STATE`.
 * Reads return copies; writes copy their input.
 */
export interface SimFileSystem {
  /**
   * The file's bytes, as a copy the caller may change.
   * @throws NotFoundError (`ENOENT`) when nothing is at `path`; InvalidArgumentError (`EISDIR`)
   * when it is a directory.
   */
  readFile(path: string): Uint8Array
  /** The file's contents decoded as UTF-8. */
  readText(path: string): string
  /**
   * Creates or replaces a file; its directory must exist. `perms` defaults to the existing
   * file's mode, else 0o644.
   */
  writeFile(path: string, data: Uint8Array | string, perms?: number): void
  /** Creates a directory (0o755 unless given); `recursive` creates parents and accepts an existing one. */
  mkdir(path: string, options?: { recursive?: boolean; perms?: number }): void
  /** Names in a directory, sorted. */
  readdir(path: string): string[]
  /** `undefined` when nothing is at `path`. */
  stat(path: string): FileStat | undefined
  /** True when a file or a directory is at `path`; never throws for a missing one. */
  exists(path: string): boolean
  /**
   * Sets the POSIX mode bits of a file or directory, keeping its contents.
   * @throws InvalidArgumentError unless `perms` is an integer from 0 to 0o7777; NotFoundError
   * (`ENOENT`) when nothing is at `path`.
   */
  chmod(path: string, perms: number): void
  /** Removes a file or an empty directory; `recursive` removes a directory with its contents. */
  remove(path: string, options?: { recursive?: boolean }): void
}

const ERRNO_CODE: Record<string, ErrorCode> = {
  ENOENT: 'NOT_FOUND',
  ENOTDIR: 'INVALID_ARGUMENT',
  EISDIR: 'INVALID_ARGUMENT',
  EINVAL: 'INVALID_ARGUMENT',
  EEXIST: 'INVALID_STATE',
  ENOTEMPTY: 'INVALID_STATE',
}
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  EEXIST: 'file exists',
  ENOTEMPTY: 'directory not empty',
}

const UTF8 = new TextEncoder()
const UTF8_DECODER = new TextDecoder()

/** Resolves `path` against `cwd` lexically into a normalised absolute path. */
export function resolvePath(cwd: string, path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgument('path must be a non-empty string')
  if (path.includes('\u0000')) throw invalidArgument('path must not contain NUL')
  const full = path[0] === '/' ? path : `${cwd}/${path}`
  const out: string[] = []
  for (const seg of full.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') out.pop()
    else out.push(seg)
  }
  return `/${out.join('/')}`
}

function checkOptions<T extends object>(options: unknown, op: string): Partial<T> {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null)
    throw invalidArgument(`${op} options must be an object`)
  return options as Partial<T>
}

export class FsView implements SimFileSystem {
  constructor(
    private readonly c: Container,
    private readonly cwd = '/',
  ) {}

  private fail(errno: string, path: string, op: string): never {
    const id = this.c.id
    throw createError(
      ERRNO_CODE[errno] ?? 'INVALID_ARGUMENT',
      `simulator: ${op} '${path}' in container ${id}: ${ERRNO_TEXT[errno] ?? errno}`,
      { backend: BACKEND, target: id, detail: { errno, path } },
    )
  }

  private read(): ReadonlyMap<string, FsNode> {
    if (this.c.status === DESTROYED) throw containerNotFound(this.c.id)
    return fsOf(this.c)
  }

  private write(): Map<string, FsNode> {
    if (this.c.status === DESTROYED) throw containerNotFound(this.c.id)
    return ownFs(this.c)
  }

  readFile(path: string): Uint8Array {
    const p = resolvePath(this.cwd, path)
    const node = this.read().get(p)
    if (node === undefined) this.fail('ENOENT', p, 'read')
    if (node.dir) this.fail('EISDIR', p, 'read')
    return new Uint8Array(node.data as Uint8Array)
  }

  readText(path: string): string {
    return UTF8_DECODER.decode(this.readFile(path))
  }

  writeFile(path: string, data: Uint8Array | string, perms?: number): void {
    const p = resolvePath(this.cwd, path)
    if (perms !== undefined) validatePerms(perms, BACKEND)
    let bytes: Uint8Array
    if (typeof data === 'string') bytes = UTF8.encode(data)
    else if (data instanceof Uint8Array) bytes = new Uint8Array(data)
    else throw invalidArgument('data must be a Uint8Array or a string', this.c.id)
    const fs = this.read()
    const old = fs.get(p)
    if (old?.dir || p === '/') this.fail('EISDIR', p, 'write')
    this.requireDir(fs, parentOf(p), p, 'write')
    this.write().set(p, new FsNode(false, perms ?? old?.perms ?? 0o644, bytes))
  }

  mkdir(path: string, given?: { recursive?: boolean; perms?: number }): void {
    const options = checkOptions<{ recursive?: boolean; perms?: number }>(given, 'mkdir')
    const p = resolvePath(this.cwd, path)
    const perms = options.perms === undefined ? DIR_PERMS : validatePerms(options.perms, BACKEND)
    const fs = this.read()
    const old = fs.get(p)
    if (old !== undefined) {
      if (options.recursive && old.dir) return
      this.fail('EEXIST', p, 'mkdir')
    }
    if (options.recursive) {
      // Refuse (rather than replace) a file in the way, as mkdir -p does.
      let dir = parentOf(p)
      while (dir !== '/') {
        const node = fs.get(dir)
        if (node !== undefined && !node.dir) this.fail('ENOTDIR', dir, 'mkdir')
        dir = parentOf(dir)
      }
      const own = this.write()
      mkdirs(own, parentOf(p))
      own.set(p, new FsNode(true, perms, null))
      return
    }
    this.requireDir(fs, parentOf(p), p, 'mkdir')
    this.write().set(p, new FsNode(true, perms, null))
  }

  readdir(path: string): string[] {
    const p = resolvePath(this.cwd, path)
    const fs = this.read()
    const node = fs.get(p)
    if (node === undefined) this.fail('ENOENT', p, 'readdir')
    if (!node.dir) this.fail('ENOTDIR', p, 'readdir')
    const prefix = p === '/' ? '/' : `${p}/`
    const names: string[] = []
    for (const key of fs.keys()) {
      if (key.length > prefix.length && key.startsWith(prefix) && key.indexOf('/', prefix.length) === -1) {
        names.push(baseName(key))
      }
    }
    return names.sort()
  }

  stat(path: string): FileStat | undefined {
    const node = this.read().get(resolvePath(this.cwd, path))
    if (node === undefined) return undefined
    return {
      type: node.dir ? 'directory' : 'file',
      perms: node.perms,
      size: node.data?.byteLength ?? 0,
    }
  }

  exists(path: string): boolean {
    return this.read().has(resolvePath(this.cwd, path))
  }

  chmod(path: string, perms: number): void {
    const p = resolvePath(this.cwd, path)
    validatePerms(perms, BACKEND)
    const node = this.read().get(p)
    if (node === undefined) this.fail('ENOENT', p, 'chmod')
    this.write().set(p, new FsNode(node.dir, perms, node.data))
  }

  remove(path: string, given?: { recursive?: boolean }): void {
    const options = checkOptions<{ recursive?: boolean }>(given, 'remove')
    const p = resolvePath(this.cwd, path)
    if (p === '/') this.fail('EINVAL', p, 'remove')
    const fs = this.read()
    const node = fs.get(p)
    if (node === undefined) this.fail('ENOENT', p, 'remove')
    if (node.dir && !options.recursive) {
      const prefix = `${p}/`
      for (const key of fs.keys()) if (key.startsWith(prefix)) this.fail('ENOTEMPTY', p, 'remove')
    }
    removeTree(this.write(), p)
  }

  private requireDir(fs: ReadonlyMap<string, FsNode>, dir: string, path: string, op: string): void {
    const node = fs.get(dir)
    if (node === undefined) this.fail('ENOENT', path, op)
    if (!node.dir) this.fail('ENOTDIR', path, op)
  }
}
