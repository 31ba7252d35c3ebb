package sink

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// Forward is a Fluentd forward-protocol endpoint (what Fluent Bit's forward output
// speaks to an aggregator): Message, Forward and PackedForward modes, gzip-compressed
// entries, and acknowledgements when a chunk id asks for one. Records are kept per
// tag; the tag is the route.
type Forward struct {
	Port int

	l   net.Listener
	mu  sync.Mutex
	got map[string][]Record
}

// StartForward listens on addr (host:port, port 0 for any).
func StartForward(addr string) (*Forward, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	f := &Forward{Port: l.Addr().(*net.TCPAddr).Port, l: l, got: map[string][]Record{}}
	go f.accept()
	return f, nil
}

// Close stops listening.
func (f *Forward) Close() error { return f.l.Close() }

// Records returns what arrived with tag.
func (f *Forward) Records(tag string) []Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Record(nil), f.got[tag]...)
}

// All returns every record, whatever its tag.
func (f *Forward) All() []Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Record
	for _, recs := range f.got {
		out = append(out, recs...)
	}
	return out
}

func (f *Forward) accept() {
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		go f.serve(c)
	}
}

func (f *Forward) serve(c net.Conn) {
	defer c.Close()
	dec := msgpack.NewDecoder(bufio.NewReader(c))
	for {
		msg, err := dec.DecodeSlice()
		if err != nil {
			return
		}
		tag, recs, opts, err := decodeMessage(msg)
		if err != nil {
			return // a message we cannot read: the client retries on a new connection
		}
		f.mu.Lock()
		f.got[tag] = append(f.got[tag], recs...)
		f.mu.Unlock()
		if chunk, ok := opts["chunk"]; ok {
			ack, _ := msgpack.Marshal(map[string]any{"ack": chunk})
			if _, err := c.Write(ack); err != nil {
				return
			}
		}
	}
}

// decodeMessage reads [tag, time, record, options?] (Message), [tag, [[time, record],
// ...], options?] (Forward) or [tag, entries as bytes, options?] (PackedForward).
func decodeMessage(msg []any) (string, []Record, map[string]any, error) {
	if len(msg) < 2 {
		return "", nil, nil, errors.New("short message")
	}
	tag, ok := msg[0].(string)
	if !ok {
		return "", nil, nil, fmt.Errorf("tag is %T", msg[0])
	}
	option := func(i int) map[string]any {
		if len(msg) > i {
			if m, ok := msg[i].(map[string]any); ok {
				return m
			}
		}
		return map[string]any{}
	}
	var entries [][]any
	var opts map[string]any
	switch v := msg[1].(type) {
	case []any: // Forward
		opts = option(2)
		for _, e := range v {
			if arr, ok := e.([]any); ok {
				entries = append(entries, arr)
			}
		}
	case []byte, string: // PackedForward
		opts = option(2)
		data := []byte(fmt.Sprint(v))
		if b, ok := v.([]byte); ok {
			data = b
		}
		if opts["compressed"] == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return "", nil, nil, err
			}
			if data, err = io.ReadAll(zr); err != nil {
				return "", nil, nil, err
			}
		}
		dec := msgpack.NewDecoder(bytes.NewReader(data))
		for {
			e, err := dec.DecodeSlice()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return "", nil, nil, err
			}
			entries = append(entries, e)
		}
	default: // Message
		if len(msg) < 3 {
			return "", nil, nil, errors.New("message mode without a record")
		}
		opts = option(3)
		entries = [][]any{{msg[1], msg[2]}}
	}
	recs := make([]Record, 0, len(entries))
	for _, e := range entries {
		if len(e) < 2 {
			continue
		}
		if r, ok := e[1].(map[string]any); ok {
			recs = append(recs, Record(r))
		}
	}
	return tag, recs, opts, nil
}

// eventTime is Fluentd's EventTime (extension type 0): seconds and nanoseconds.
type eventTime struct{}

func (*eventTime) UnmarshalMsgpack([]byte) error   { return nil }
func (*eventTime) MarshalMsgpack() ([]byte, error) { return make([]byte, 8), nil }

func init() {
	msgpack.RegisterExt(0, (*eventTime)(nil))
}
