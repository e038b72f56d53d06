package tracestore

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const maxOTLPBody = 32 << 20

// handleOTLP is the OTLP/HTTP traces receiver.
func (s *Store) handleOTLP(w http.ResponseWriter, r *http.Request) {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mediaType != "application/x-protobuf" && mediaType != "application/json") {
		http.Error(w, fmt.Sprintf("unsupported content type %q", r.Header.Get("Content-Type")), http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, maxOTLPBody)
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, "bad gzip body: "+err.Error(), http.StatusBadRequest)
			return
		}
		defer gz.Close()
		body = io.LimitReader(gz, maxOTLPBody)
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if mediaType == "application/json" {
		err = unmarshalOTLPJSON(raw, req)
	} else {
		err = proto.Unmarshal(raw, req)
	}
	if err != nil {
		http.Error(w, "decode export request: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.add(req.GetResourceSpans())

	resp := &coltracepb.ExportTraceServiceResponse{}
	var out []byte
	if mediaType == "application/json" {
		out, err = protojson.Marshal(resp)
	} else {
		out, err = proto.Marshal(resp)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// unmarshalOTLPJSON decodes OTLP/JSON. OTLP encodes trace and span ids as
// hex strings, where protobuf's canonical JSON expects base64, so the ids
// are rewritten before protojson sees them. Ids already in base64 (as some
// tools send) are left alone: a 16- or 8-byte id is 32/16 hex digits but
// 24/12 base64 characters, so the two cannot be confused.
func unmarshalOTLPJSON(raw []byte, req *coltracepb.ExportTraceServiceRequest) error {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	rewriteIDs(doc)
	fixed, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(fixed, req)
}

func rewriteIDs(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			switch k {
			case "traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id":
				if s, ok := val.(string); ok {
					t[k] = hexToBase64(s)
				}
			default:
				rewriteIDs(val)
			}
		}
	case []any:
		for _, e := range t {
			rewriteIDs(e)
		}
	}
}

func hexToBase64(s string) string {
	if len(s) != 32 && len(s) != 16 {
		return s
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return s
	}
	return base64.StdEncoding.EncodeToString(b)
}
