package render

import (
	"crypto/sha256"
	"encoding/hex"
)

// Every file and directory Fluent Bit writes lies directly in, or is created by Fluent
// Bit below, the data directory a pod mounts (a hostPath on nodes, an emptyDir in
// sidecars and the events collector). That directory starts empty and nothing creates
// subdirectories in it: SQLite refuses a database whose directory is missing, so tail
// positions live at the top level.
const (
	// BufferDir is the filesystem buffer; Fluent Bit creates it.
	BufferDir = AgentDataDir + "/buffer"
	// s3StoreDir holds each s3 output's staging directory; the plugin creates both.
	s3StoreDir = AgentDataDir + "/s3"
)

// maxDataName bounds a name that becomes a file or directory name: well under
// NAME_MAX (255 bytes) once Fluent Bit and SQLite add their suffixes ("-wal", "-shm",
// "-journal").
const maxDataName = 96

// dataName is name if it is short enough to be a file name, else a prefix of it with a
// hash of the whole, so that long names stay distinct.
func dataName(name string) string {
	if len(name) <= maxDataName {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:maxDataName-17] + "-" + hex.EncodeToString(sum[:8])
}

// positionsDB is the path of a tail or events input's database.
func positionsDB(name string) string { return AgentDataDir + "/" + dataName(name) + ".db" }
