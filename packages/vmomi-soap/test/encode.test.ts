import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeRequest } from '../src/encode.js'
import { type FieldDef, MOR } from '../src/schema/dsl.js'
import { OPS, TYPES } from '../src/schema/registry.js'
import { toSoapArgs } from '../src/serialize.js'
import { offlineClient } from './support/soap-capture.js'

// The gateway writes request envelopes itself; node-soap is the oracle: for every operation of
// the table, with every field of every type filled in, and for any text, the envelope must be
// node-soap's byte for byte.

const client = offlineClient(() => ({ status: 200, body: '<x/>' }))

async function nodeSoap(method: string, args: unknown): Promise<string> {
  const c = await client
  await c.send(method, args).catch(() => undefined)
  return c.requests[c.requests.length - 1] as string
}

/** A value of `type` with every field filled in (to `depth`), its text from `text`. */
function sample(type: string, depth: number, text: () => string, n: number): unknown {
  if (type === MOR) return { type: 'VirtualMachine', value: `vm-${n}` }
  if (type === 'anyType') {
    const kinds: unknown[] = [
      text(),
      n,
      n % 2 === 0,
      { type: 'Datastore', value: 'ds-1' },
      new Date(n * 1000),
      1.5,
    ]
    return kinds[n % kinds.length]
  }
  switch (type) {
    case 'string':
      return text()
    case 'boolean':
      return n % 2 === 0
    case 'int':
    case 'long':
    case 'short':
    case 'byte':
      return n
    case 'float':
    case 'double':
      return n + 0.25
    case 'dateTime':
      return new Date(Date.UTC(2024, 4, 1, 10, 0, n))
    case 'base64Binary':
      return new Uint8Array([n, 1, 2])
  }
  const t = TYPES.get(type)
  if (!t) return text() // an enum
  const out: Record<string, unknown> = {}
  for (const field of t.fields) {
    if (depth > 3 && field.optional) continue
    const value = (k: number) => sample(field.type, depth + 1, text, n + k)
    out[field.name] = field.array ? [value(1), value(2)] : value(0)
  }
  return out
}

function argsFor(params: readonly FieldDef[], text: () => string): Record<string, unknown> {
  const args: Record<string, unknown> = {}
  params.forEach((p, i) => {
    args[p.name] = p.array
      ? [sample(p.type, 0, text, i), sample(p.type, 0, text, i + 7)]
      : sample(p.type, 0, text, i)
  })
  return args
}

describe('request envelopes written by the gateway', () => {
  it('are node-soap’s, byte for byte, for every operation with every field filled in', async () => {
    let compared = 0
    for (const op of OPS.values()) {
      let i = 0
      const args = argsFor(op.params, () => `text ${i++} & <b> "q" 'a'\t\r\n end `)
      let soapArgs: Record<string, unknown>
      try {
        soapArgs = toSoapArgs(op, args)
      } catch {
        continue
      }
      const ours = encodeRequest(op.name, soapArgs)
      expect(ours, op.name).toBeDefined()
      expect(ours, op.name).toBe(await nodeSoap(op.name, args))
      compared++
    }
    expect(compared).toBeGreaterThan(OPS.size * 0.8)
  })

  it('are node-soap’s for any text, subtypes and references', async () => {
    const op = OPS.get('ReconfigVM_Task')
    if (!op) throw new Error('no ReconfigVM_Task')
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(fc.string({ unit: 'grapheme' }), fc.oneof(fc.string(), fc.integer(), fc.boolean())),
          {
            maxLength: 4,
          },
        ),
        fc.string(),
        async (options, annotation) => {
          const args = {
            _this: { type: 'VirtualMachine', value: 'vm-1' },
            spec: { annotation, extraConfig: options.map(([key, value]) => ({ key, value })) },
          }
          let soapArgs: Record<string, unknown>
          try {
            soapArgs = toSoapArgs(op, args)
          } catch {
            return
          }
          expect(encodeRequest(op.name, soapArgs)).toBe(await nodeSoap(op.name, args))
        },
      ),
      { numRuns: 200 },
    )
  })

  it('leaves shapes it does not know to node-soap', () => {
    expect(encodeRequest('Bad-Name', {})).toBeUndefined()
    expect(encodeRequest('CurrentTime', { _this: null })).toBeUndefined()
    expect(
      encodeRequest('CurrentTime', { _this: { attributes: { xsi_type: { type: 'X' } } } }),
    ).toBeUndefined()
    expect(encodeRequest('CurrentTime', { _this: { attributes: [] } })).toBeUndefined()
  })
})
