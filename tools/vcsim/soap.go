package main

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

var vimTypeFunc = types.TypeFunc()

// vimType resolves a vim25 type name, also when a client prefixed it with a namespace
// ("vim25:TraversalSpec"), as vcsim's own decoder does.
func vimType(name string) (reflect.Type, bool) {
	if t, ok := vimTypeFunc(name); ok {
		return t, true
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return vimTypeFunc(name[i+1:])
	}
	return nil, false
}

var morefType = reflect.TypeOf(types.ManagedObjectReference{})

// newFault makes a zero-valued vim25 fault of the given type name ("NotAuthenticated",
// "ConcurrentAccess", …). Fields that name the object the call was about are set to `this`.
func newFault(name string, this types.ManagedObjectReference) (types.BaseMethodFault, error) {
	t, ok := vimType(strings.TrimSuffix(name, "Fault"))
	if !ok {
		t, ok = vimType(name)
	}
	if !ok || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%q is not a vim25 fault type", name)
	}
	v := reflect.New(t)
	fault, ok := v.Interface().(types.BaseMethodFault)
	if !ok {
		return nil, fmt.Errorf("%q is not a vim25 fault type", name)
	}
	for _, field := range []string{"Obj", "Object"} {
		if f := v.Elem().FieldByName(field); f.IsValid() && f.CanSet() && f.Type() == morefType {
			f.Set(reflect.ValueOf(this))
		}
	}
	return fault, nil
}

// faultDetail encodes a fault as vcsim (and vCenter) do: <XFault xmlns="urn:vim25" xsi:type="X">.
type faultDetail struct {
	Fault types.BaseMethodFault
}

func (d faultDetail) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	kind := reflect.TypeOf(d.Fault).Elem().Name()
	start.Name.Local = kind + "Fault"
	start.Attr = append(start.Attr,
		xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: "urn:vim25"},
		xml.Attr{Name: xml.Name{Local: "xsi:type"}, Value: kind})
	return e.EncodeElement(d.Fault, start)
}

// envelopeHeader is the start of every envelope vcsim sends.
type envelopeHeader struct {
	XMLName xml.Name `xml:"soapenv:Envelope"`
	Enc     string   `xml:"xmlns:soapenc,attr"`
	Env     string   `xml:"xmlns:soapenv,attr"`
	XSD     string   `xml:"xmlns:xsd,attr"`
	XSI     string   `xml:"xmlns:xsi,attr"`
}

func newEnvelopeHeader() envelopeHeader {
	return envelopeHeader{
		Enc: "http://schemas.xmlsoap.org/soap/encoding/",
		Env: "http://schemas.xmlsoap.org/soap/envelope/",
		XSD: "http://www.w3.org/2001/XMLSchema",
		XSI: "http://www.w3.org/2001/XMLSchema-instance",
	}
}

type faultEnvelope struct {
	envelopeHeader
	Body struct {
		Fault struct {
			Code   string `xml:"faultcode"`
			String string `xml:"faultstring"`
			Detail struct {
				Fault faultDetail
			} `xml:"detail"`
		} `xml:"soapenv:Fault"`
	} `xml:"soapenv:Body"`
}

// writeSOAPFault answers a SOAP call with a fault, the way vcsim's own faults look on the wire.
func writeSOAPFault(w http.ResponseWriter, message string, fault types.BaseMethodFault) {
	env := faultEnvelope{envelopeHeader: newEnvelopeHeader()}
	env.Body.Fault.Code = "ServerFaultCode"
	env.Body.Fault.String = message
	env.Body.Fault.Detail.Fault = faultDetail{fault}
	writeEnvelope(w, http.StatusInternalServerError, &env)
}

// responseBody encodes a method's response as vcsim does: <XResponse xmlns="urn:vim25"> inside
// the body element.
type responseBody struct {
	name string // XResponse
	res  interface{}
}

func (b responseBody) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if err := e.EncodeElement(b.res, xml.StartElement{Name: xml.Name{Space: "urn:vim25", Local: b.name}}); err != nil {
		return err
	}
	return e.EncodeToken(start.End())
}

type responseEnvelope struct {
	envelopeHeader
	Body responseBody `xml:"soapenv:Body"`
}

// writeSOAPResult answers a SOAP call with the result of a vcsim method (a methods.XBody): its
// response, or its fault.
func writeSOAPResult(w http.ResponseWriter, body soap.HasFault) {
	if f := body.Fault(); f != nil {
		fault, ok := f.VimFault().(types.BaseMethodFault)
		if !ok {
			http.Error(w, "vcsim harness: a fault without a vim25 type", http.StatusInternalServerError)
			return
		}
		writeSOAPFault(w, f.String, fault)
		return
	}
	res := reflect.ValueOf(body).Elem().FieldByName("Res")
	if !res.IsValid() || res.IsNil() {
		http.Error(w, fmt.Sprintf("vcsim harness: %T has no response", body), http.StatusInternalServerError)
		return
	}
	writeSOAPResponse(w, reflect.Indirect(res).Type().Name(), res.Interface())
}

// writeSOAPResponse answers a SOAP call with res as the element name (XResponse).
func writeSOAPResponse(w http.ResponseWriter, name string, res interface{}) {
	writeEnvelope(w, http.StatusOK, &responseEnvelope{envelopeHeader: newEnvelopeHeader(), Body: responseBody{name, res}})
}

func writeEnvelope(w http.ResponseWriter, status int, env interface{}) {
	var out bytes.Buffer
	out.WriteString(xml.Header)
	if err := xml.NewEncoder(&out).Encode(env); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(out.Bytes())
}
