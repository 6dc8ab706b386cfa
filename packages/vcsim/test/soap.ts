// A minimal raw-SOAP client for the tests: hand-written vim25 envelopes over fetch or node:https.
import { request as httpsRequest } from 'node:https'

export const ENVELOPE_START =
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
export const ENVELOPE_END = '</soapenv:Body></soapenv:Envelope>'

export function envelope(method: string, inner: string): string {
  return `${ENVELOPE_START}<${method} xmlns="urn:vim25">${inner}</${method}>${ENVELOPE_END}`
}

export function moref(tag: string, type: string, value: string): string {
  return `<${tag} type="${type}">${value}</${tag}>`
}

export interface SoapResponse {
  status: number
  body: string
  cookie?: string
}

/** Posts one envelope; the session cookie, when given, is sent, and a new one is returned. */
export async function post(url: string, body: string, cookie?: string): Promise<SoapResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'text/xml; charset=utf-8',
      soapaction: 'urn:vim25/6.5',
      ...(cookie ? { cookie } : {}),
    },
    body,
  })
  const setCookie = response.headers.get('set-cookie')
  return {
    status: response.status,
    body: await response.text(),
    ...(setCookie ? { cookie: setCookie.split(';')[0] as string } : {}),
  }
}

/** Posts over HTTPS with a custom CA and optional thumbprint pinning (as a vSphere client would). */
export function postTls(
  url: string,
  body: string,
  tls: { ca?: string; thumbprint?: string; rejectUnauthorized?: boolean },
): Promise<SoapResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: 'urn:vim25/6.5' },
        ...(tls.ca ? { ca: tls.ca } : {}),
        rejectUnauthorized: tls.rejectUnauthorized ?? true,
        // A fresh connection per call, so every call goes through the TLS handshake checks.
        agent: false,
        checkServerIdentity: (_host, cert) => {
          if (tls.thumbprint && cert.fingerprint256 !== tls.thumbprint) {
            return new Error(`thumbprint mismatch: ${cert.fingerprint256}`)
          }
          return undefined
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          text += d
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** The text of the first element named `tag` (namespace prefixes ignored). */
export function textOf(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<(?:\\w+:)?${tag}(?:\\s[^>]*)?>([^<]*)</(?:\\w+:)?${tag}>`).exec(xml)
  return m?.[1]
}

/** The vim25 fault type of a SOAP fault response. */
export function faultOf(xml: string): string | undefined {
  return /<(\w+)Fault xmlns="urn:vim25" xsi:type="(\w+)"/.exec(xml)?.[2]
}

/** Logs in and returns the session cookie. */
export async function login(url: string, username: string, password: string): Promise<string> {
  const res = await post(
    url,
    envelope(
      'Login',
      `${moref('_this', 'SessionManager', 'SessionManager')}<userName>${username}</userName><password>${password}</password>`,
    ),
  )
  if (res.status !== 200 || !res.cookie) throw new Error(`login failed: ${res.status} ${res.body}`)
  return res.cookie
}
