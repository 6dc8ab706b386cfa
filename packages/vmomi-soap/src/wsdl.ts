import { type FieldDef, MOR, PRIMITIVES } from './schema/dsl.js'
import { arrayTypes, type ComplexType, OPS, TYPES } from './schema/registry.js'

export const VIM25_NS = 'urn:vim25'
export const XSD_NS = 'http://www.w3.org/2001/XMLSchema'

function qname(type: string): string {
  return PRIMITIVES.has(type) ? `xsd:${type}` : `vim25:${type}`
}

function element(field: FieldDef): string {
  const occurs = field.array ? ' minOccurs="0" maxOccurs="unbounded"' : field.optional ? ' minOccurs="0"' : ''
  return `<element name="${field.name}" type="${qname(field.type)}"${occurs}/>`
}

function sequence(fields: readonly FieldDef[]): string {
  return `<sequence>${fields.map(element).join('')}</sequence>`
}

function complexType(type: ComplexType): string {
  if (type.base === undefined) return `<complexType name="${type.name}">${sequence(type.own)}</complexType>`
  return (
    `<complexType name="${type.name}"><complexContent><extension base="vim25:${type.base}">` +
    `${sequence(type.own)}</extension></complexContent></complexType>`
  )
}

function schema(): string {
  const parts: string[] = [
    `<complexType name="${MOR}"><simpleContent><extension base="xsd:string">` +
      '<attribute name="type" type="xsd:string"/></extension></simpleContent></complexType>',
  ]
  for (const type of TYPES.values()) parts.push(complexType(type))
  for (const a of arrayTypes()) {
    parts.push(
      `<complexType name="${a.name}"><sequence><element name="${a.item}" type="${qname(a.itemType)}"` +
        ' minOccurs="0" maxOccurs="unbounded"/></sequence></complexType>',
    )
  }
  for (const op of OPS.values()) {
    parts.push(`<complexType name="${op.name}RequestType">${sequence(op.params)}</complexType>`)
    parts.push(`<element name="${op.name}" type="vim25:${op.name}RequestType"/>`)
    const result = op.returns ? sequence([op.returns]) : '<sequence/>'
    parts.push(`<element name="${op.name}Response"><complexType>${result}</complexType></element>`)
  }
  return (
    `<schema xmlns="${XSD_NS}" xmlns:xsd="${XSD_NS}" xmlns:vim25="${VIM25_NS}" ` +
    `targetNamespace="${VIM25_NS}" elementFormDefault="qualified">${parts.join('\n')}</schema>`
  )
}

function definitions(): string {
  const messages: string[] = []
  const portOps: string[] = []
  const bindingOps: string[] = []
  for (const op of OPS.values()) {
    messages.push(
      `<message name="${op.name}RequestMsg"><part name="parameters" element="vim25:${op.name}"/></message>`,
      `<message name="${op.name}ResponseMsg"><part name="parameters" element="vim25:${op.name}Response"/></message>`,
    )
    portOps.push(
      `<operation name="${op.name}"><input message="vim25:${op.name}RequestMsg"/>` +
        `<output message="vim25:${op.name}ResponseMsg"/></operation>`,
    )
    bindingOps.push(
      `<operation name="${op.name}"><soap:operation soapAction="urn:vim25/6.5" style="document"/>` +
        '<input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>',
    )
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"`,
    ` xmlns:xsd="${XSD_NS}" xmlns:vim25="${VIM25_NS}" targetNamespace="${VIM25_NS}">`,
    `<types>${schema()}</types>`,
    ...messages,
    `<portType name="VimPortType">${portOps.join('')}</portType>`,
    '<binding name="VimBinding" type="vim25:VimPortType">',
    '<soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>',
    `${bindingOps.join('\n')}</binding>`,
    '<service name="VimService"><port name="VimPort" binding="vim25:VimBinding">',
    '<soap:address location="https://localhost/sdk"/></port></service>',
    '</definitions>',
  ].join('\n')
}

let cached: string | undefined

/**
 * The vim25 WSDL subset, generated from the operation and type tables (vSphere endpoints serve no
 * WSDL the client could rely on, and generating it keeps it in step with the tables).
 */
export function vim25Wsdl(): string {
  cached ??= definitions()
  return cached
}
