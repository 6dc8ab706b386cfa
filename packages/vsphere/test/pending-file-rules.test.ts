import type { FileCopy } from '@portlayer/contracts'
import { describe, expect, it } from 'vitest'
import type { PendingFileRecord } from '../src/extra-config.js'
import { guestPath } from '../src/guest.js'
import {
  datastoreUrl,
  fromBase64,
  INLINE_FILE_MAX_BYTES,
  INLINE_TOTAL_MAX_BYTES,
  lastCopyPerPath,
  placeFiles,
  stagingPath,
  toBase64,
} from '../src/pending-file-rules.js'

const file = (dir: string, fname: string, size: number): FileCopy => ({
  targetDir: dir,
  fname,
  perms: 0o644,
  data: new Uint8Array(size),
})
let n = 0
const key = () => `k${++n}`

describe('placeFiles', () => {
  it('keeps small files inline and stages bigger ones', () => {
    n = 0
    const placed = placeFiles(
      [],
      [file('/a', 'small', INLINE_FILE_MAX_BYTES), file('/a', 'big', INLINE_FILE_MAX_BYTES + 1)],
      key,
    )
    expect(placed).toEqual([{ inline: true }, { inline: false, key: 'k1' }])
  })

  it('stages small files once the inline budget of the container is used up, counting files already pending', () => {
    n = 0
    const pending: PendingFileRecord[] = [
      { dir: '/p', name: 'a', perms: 0, size: INLINE_TOTAL_MAX_BYTES - 2 * INLINE_FILE_MAX_BYTES, data: '' },
    ]
    const placed = placeFiles(
      pending,
      [file('/a', '1', INLINE_FILE_MAX_BYTES), file('/a', '2', INLINE_FILE_MAX_BYTES), file('/a', '3', 1)],
      key,
    )
    expect(placed).toEqual([{ inline: true }, { inline: true }, { inline: false, key: 'k1' }])
  })

  it('does not count a pending inline file that the new copy replaces', () => {
    const pending: PendingFileRecord[] = [
      { dir: '/a', name: 'same', perms: 0, size: INLINE_TOTAL_MAX_BYTES, data: '' },
    ]
    expect(placeFiles(pending, [file('/a', 'same', 10)], key)).toEqual([{ inline: true }])
  })
})

describe('lastCopyPerPath', () => {
  it('keeps the last copy to each path, in the order of the last copies', () => {
    const files = [file('/a', 'x', 1), file('/b', 'y', 2), file('/a', 'x', 3)]
    expect(lastCopyPerPath(files).map((f) => [guestPath(f.targetDir, f.fname), f.data.byteLength])).toEqual([
      ['/b/y', 2],
      ['/a/x', 3],
    ])
  })

  it('treats the root directory correctly', () => {
    expect(guestPath('/', 'x')).toBe('/x')
  })
})

describe('datastore locations', () => {
  it('builds a /folder URL with every part encoded', () => {
    const path = stagingPath('0b7c1e4a-4f4e-4c8e-9d3b-2f1a6c5d7e8f', 'k 1')
    expect(datastoreUrl('Folder A/DC0', 'Local DS', path)).toBe(
      '/folder/portlayer-files/0b7c1e4a-4f4e-4c8e-9d3b-2f1a6c5d7e8f/k%201?dcPath=Folder%20A%2FDC0&dsName=Local%20DS',
    )
  })

  it('round-trips bytes through base64, also for a view into a larger buffer', () => {
    const big = new Uint8Array([9, 1, 2, 3, 9])
    const view = big.subarray(1, 4)
    expect(fromBase64(toBase64(view))).toEqual(new Uint8Array([1, 2, 3]))
  })
})
