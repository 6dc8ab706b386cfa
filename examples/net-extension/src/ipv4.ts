import { InvalidArgumentError } from '@portlayer/contracts'

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

/** Parses dotted-quad IPv4 into an unsigned 32-bit number. */
export function parseIpv4(text: unknown, what = 'address'): number {
  if (typeof text !== 'string') throw new InvalidArgumentError(`${what} must be a string`)
  const parts = text.split('.')
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) {
    throw new InvalidArgumentError(`${what} must be a dotted-quad IPv4 address, got ${JSON.stringify(text)}`)
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0)
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** The usable host range of a CIDR block, leaving out network, gateway (first host) and broadcast. */
export function hostRange(cidr: string): { first: number; last: number; gateway: number } {
  const [base, bits, ...rest] = cidr.split('/')
  const prefix = Number(bits)
  if (rest.length > 0 || !Number.isInteger(prefix) || prefix < 8 || prefix > 29) {
    throw new InvalidArgumentError(`cidr must look like 10.0.0.0/24 with a prefix from 8 to 29, got ${cidr}`)
  }
  const size = 2 ** (32 - prefix)
  const network = parseIpv4(base, 'cidr') - (parseIpv4(base, 'cidr') % size)
  return { gateway: network + 1, first: network + 2, last: network + size - 2 }
}
