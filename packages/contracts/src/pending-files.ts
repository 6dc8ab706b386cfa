import { describeValue } from './describe.js'
import { InvalidArgumentError, PortLayerError } from './errors.js'
import type { FileCopy } from './handle.js'
import { DEFAULT_DIRECTORIES } from './programs.js'
import { MAX_PENDING_FILES, validateAbsolutePath, validateFileName } from './validate.js'

// The files of one handle must be able to land together on any container: no path may be a file
// in one copy and a directory in another, and no copy may replace a directory every container
// has. Both can be decided from the handle alone, so they are decided before a backend changes
// anything — at copyTo for the file being added, and again at commit for a handle that was built
// some other way (another factory, a deserialised or hand-made handle).

/** {@link DEFAULT_DIRECTORIES} with their parents (`/usr`, `/usr/local`): no file may be put at any of them. */
export const DEFAULT_DIRECTORY_PATHS: readonly string[] = Object.freeze(
  [...new Set(DEFAULT_DIRECTORIES.flatMap((d) => ancestorsAndSelf(d)))].sort(),
)
const DEFAULT_DIRECTORY_SET: ReadonlySet<string> = new Set(DEFAULT_DIRECTORY_PATHS)

/** The directories `path` lies in below the root, and `path` itself: `/a/b` → `/a`, `/a/b`. */
function ancestorsAndSelf(path: string): string[] {
  const out: string[] = []
  for (let i = path.indexOf('/', 1); i !== -1; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i))
  if (path !== '/') out.push(path)
  return out
}

/** Where a copy lands: its normalised directory and file name joined. */
function filePath(targetDir: string, fname: string): string {
  return targetDir === '/' ? `/${fname}` : `${targetDir}/${fname}`
}

/** A path for a message: long ones are cut (paths may be 4 KiB). */
function shown(path: string): string {
  return path.length <= 80 ? path : describeValue(path)
}

/** The part of a pending file the conflict rules look at. */
export type PendingFilePath = Pick<FileCopy, 'targetDir' | 'fname'>

/**
 * Why the pending files of one handle cannot all land, or `undefined` when they can. They cannot
 * when one path is a file in one copy and a directory of another (`/a/b` as a file and `/a/b/c`
 * as a file, in either order), or when a copy would put a file at one of a new container's
 * directories or their parents ({@link DEFAULT_DIRECTORY_PATHS}). Two copies to the same path
 * are no conflict: the later one replaces the earlier.
 *
 * `files` must be validated, with normalised directories, as a handle's pending files are; use
 * {@link validatePendingFiles} for files of unknown origin. It never looks at a container: a
 * copy that clashes with what the container already holds is found when it is applied.
 */
export function findPendingFileConflict(files: readonly PendingFilePath[]): string | undefined {
  const n = files.length
  if (n === 0) return undefined
  const paths: string[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const f = files[i] as PendingFilePath
    const path = filePath(f.targetDir, f.fname)
    if (DEFAULT_DIRECTORY_SET.has(path))
      return `a file at ${path} would replace one of the directories every container has`
    paths[i] = path
  }
  if (n === 1) return undefined
  // Each directory some copy needs, with the first copy that needs it.
  const neededBy = new Map<string, string>()
  for (let i = 0; i < n; i++) {
    const dir = (files[i] as PendingFilePath).targetDir
    for (const d of ancestorsAndSelf(dir)) if (!neededBy.has(d)) neededBy.set(d, paths[i] as string)
  }
  for (const path of paths) {
    const inside = neededBy.get(path)
    if (inside !== undefined)
      return `${shown(path)} is a file in one copy and a directory in another (${shown(inside)})`
  }
  return undefined
}

/**
 * Checks the pending files of a handle: an array of well-formed copies (see `copyTo`) that can
 * all land together (see {@link findPendingFileConflict}). Backends call it in `copyTo` with the
 * handle's files and the new one (so the setter fails and the handle stays as it was), and at
 * the start of `commit`, before any change.
 * @returns the files with their directories normalised.
 * @throws InvalidArgumentError naming the problem; `backend` and `target` go onto the error.
 */
export function validatePendingFiles(
  files: unknown,
  backend?: string,
  target?: string,
): readonly PendingFilePath[] {
  const fail = (message: string, cause?: unknown): never => {
    throw new InvalidArgumentError(message, { backend, target, cause })
  }
  const checked: PendingFilePath[] = []
  try {
    if (!Array.isArray(files)) fail(`pending files must be an array, got ${describeValue(files)}`)
    const list = files as readonly unknown[]
    const n = list.length
    if (n > MAX_PENDING_FILES) fail(`a handle carries at most ${MAX_PENDING_FILES} files, got ${n}`)
    for (let i = 0; i < n; i++) {
      const f = list[i]
      if (typeof f !== 'object' || f === null)
        fail(`pending file ${i} must be an object, got ${describeValue(f)}`)
      const { targetDir, fname } = f as Record<string, unknown>
      checked.push({
        targetDir: validateAbsolutePath(targetDir, `pending file ${i} targetDir`, backend),
        fname: validateFileName(fname, backend),
      })
    }
  } catch (e) {
    if (PortLayerError.isInstance(e)) throw e
    fail('pending files could not be read (a getter or proxy trap threw)', e)
  }
  const conflict = findPendingFileConflict(checked)
  if (conflict !== undefined) fail(`pending files conflict: ${conflict}`)
  return checked
}
