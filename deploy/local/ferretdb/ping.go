package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"time"
)

// ping sends {ping: 1, $db: "admin"} as an OP_MSG over the MongoDB wire protocol
// and checks that the reply says ok: 1. It is the readiness probe used by
// deploy/local/infra.sh, so that no driver or Python environment is needed.
func ping(addr string, timeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))

	// BSON document {ping: int32(1), $db: "admin"}.
	var doc bytes.Buffer
	doc.WriteByte(0x10)
	doc.WriteString("ping\x00")
	_ = binary.Write(&doc, binary.LittleEndian, int32(1))
	doc.WriteByte(0x02)
	doc.WriteString("$db\x00")
	_ = binary.Write(&doc, binary.LittleEndian, int32(len("admin")+1))
	doc.WriteString("admin\x00")
	doc.WriteByte(0x00)
	body := doc.Bytes()

	var msg bytes.Buffer
	total := int32(16 + 4 + 1 + 4 + len(body))
	for _, v := range []int32{total, 1, 0, 2013} { // messageLength, requestID, responseTo, OP_MSG
		_ = binary.Write(&msg, binary.LittleEndian, v)
	}
	_ = binary.Write(&msg, binary.LittleEndian, uint32(0)) // flagBits
	msg.WriteByte(0)                                       // section kind 0: body
	_ = binary.Write(&msg, binary.LittleEndian, int32(4+len(body)))
	msg.Write(body)

	if _, err = conn.Write(msg.Bytes()); err != nil {
		return err
	}

	var header [16]byte
	if _, err = io.ReadFull(conn, header[:]); err != nil {
		return err
	}
	length := int32(binary.LittleEndian.Uint32(header[0:4]))
	opCode := int32(binary.LittleEndian.Uint32(header[12:16]))
	if opCode != 2013 || length < 16+4+1+5 || length > 16<<20 {
		return fmt.Errorf("unexpected reply: opCode %d, length %d", opCode, length)
	}
	rest := make([]byte, length-16)
	if _, err = io.ReadFull(conn, rest); err != nil {
		return err
	}
	if rest[4] != 0 {
		return errors.New("unexpected reply section kind")
	}
	ok, err := bsonOK(rest[5:])
	if err != nil {
		return err
	}
	if ok != 1 {
		return fmt.Errorf("ping replied ok: %v", ok)
	}
	return nil
}

// bsonOK returns the numeric top-level "ok" field of a BSON document.
func bsonOK(d []byte) (float64, error) {
	if len(d) < 5 {
		return 0, errors.New("short BSON document")
	}
	n := int(binary.LittleEndian.Uint32(d[0:4]))
	if n > len(d) {
		return 0, errors.New("truncated BSON document")
	}
	d = d[4 : n-1]
	for len(d) > 0 {
		typ := d[0]
		end := bytes.IndexByte(d[1:], 0)
		if end < 0 {
			return 0, errors.New("bad BSON element name")
		}
		name := string(d[1 : 1+end])
		d = d[2+end:]
		var size int
		switch typ {
		case 0x01, 0x09, 0x11, 0x12: // double, datetime, timestamp, int64
			size = 8
		case 0x10: // int32
			size = 4
		case 0x08: // bool
			size = 1
		case 0x0A: // null
			size = 0
		case 0x07: // ObjectId
			size = 12
		case 0x13: // decimal128
			size = 16
		case 0x02: // string
			size = 4 + int(binary.LittleEndian.Uint32(d[0:4]))
		case 0x03, 0x04: // document, array
			size = int(binary.LittleEndian.Uint32(d[0:4]))
		case 0x05: // binary
			size = 5 + int(binary.LittleEndian.Uint32(d[0:4]))
		default:
			return 0, fmt.Errorf("unsupported BSON type 0x%02x in reply", typ)
		}
		if size > len(d) {
			return 0, errors.New("truncated BSON element")
		}
		if name == "ok" {
			switch typ {
			case 0x01:
				return math.Float64frombits(binary.LittleEndian.Uint64(d[0:8])), nil
			case 0x10:
				return float64(int32(binary.LittleEndian.Uint32(d[0:4]))), nil
			case 0x12:
				return float64(int64(binary.LittleEndian.Uint64(d[0:8]))), nil
			}
		}
		d = d[size:]
	}
	return 0, errors.New(`no "ok" field in reply`)
}
