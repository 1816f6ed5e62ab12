package api

import (
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/iamerr"
)

// The codecs of the API replace Connect's defaults for two reasons.
// JSON is strict: Connect's codec drops unknown fields, so that a
// misspelled "etag" would make a conditional delete unconditional. And a
// body that does not decode gets a message naming the problem, where
// Connect's names Go types.
//
// Connect prefixes a decoding error with "unmarshal message: " and sends
// it without details: a codec cannot add the ErrorInfo other errors have.

// codecs returns the handler options installing the API's codecs.
func codecs() connect.HandlerOption {
	return connect.WithHandlerOptions(
		connect.WithCodec(protoCodec{}),
		connect.WithCodec(jsonCodec{name: "json"}),
		connect.WithCodec(jsonCodec{name: "json; charset=utf-8"}),
	)
}

// protoCodec is the binary protobuf codec.
type protoCodec struct{}

func (protoCodec) Name() string { return "proto" }

func (protoCodec) Marshal(v any) ([]byte, error) {
	m, err := protoMessage(v)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(m)
}

func (protoCodec) Unmarshal(data []byte, v any) error {
	m, err := protoMessage(v)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return undecodable("protobuf", m, err,
			"send the message encoded from adapters/api/iam/v1/iam.proto")
	}
	return nil
}

// jsonCodec is protojson, refusing unknown fields.
type jsonCodec struct {
	name string
}

func (c jsonCodec) Name() string { return c.name }

// Marshal writes a response. Check answers show every field: protobuf's
// JSON omits false, and a denied check would have no "allowed" at all.
func (jsonCodec) Marshal(v any) ([]byte, error) {
	m, err := protoMessage(v)
	if err != nil {
		return nil, err
	}
	var opts protojson.MarshalOptions
	switch m.(type) {
	case *iamv1.CheckResponse, *iamv1.CheckBulkResponse:
		opts.EmitUnpopulated = true
	}
	return opts.Marshal(m)
}

func (jsonCodec) Unmarshal(data []byte, v any) error {
	m, err := protoMessage(v)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return iamerr.New(iamerr.InvalidArgument,
			"the request body is empty", "send a JSON object, {} at least")
	}

	if err := (protojson.UnmarshalOptions{}).Unmarshal(data, m); err != nil {
		return undecodable("JSON", m, err,
			"check the body against "+messageName(m)+" in adapters/api/"+
				"iam/v1/iam.proto: its field names, in snake_case or "+
				"lowerCamelCase, and enum values by their full names")
	}
	return nil
}

// undecodable explains a body that does not decode as m. protobuf's
// messages start "proto:" and a space, or a non-breaking one at random,
// to keep callers from matching them; what follows names the problem,
// e.g. `(line 1:70): unknown field "etgs"`.
func undecodable(format string, m proto.Message, err error, fix string) error {
	detail := err.Error()
	for _, prefix := range []string{"proto: ", "proto:\u00a0"} {
		detail = strings.TrimPrefix(detail, prefix)
	}
	// The detail may quote the body, e.g. a long unknown field name.
	detail = clip(detail, maxDetailValue)
	return iamerr.New(iamerr.InvalidArgument,
		"the request body is not a valid "+format+" "+messageName(m)+
			": "+detail, fix)
}

// messageName is m's protobuf name, e.g. "iam.v1.CheckRequest".
func messageName(m proto.Message) string {
	return string(m.ProtoReflect().Descriptor().FullName())
}

// protoMessage is v as a message. Connect hands codecs only the
// generated messages of the API, so anything else is a bug.
func protoMessage(v any) (proto.Message, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("api: %T is not a protobuf message", v)
	}
	return m, nil
}
