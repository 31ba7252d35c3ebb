package render

import (
	"crypto/sha256"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/logplane/logplane/internal/fluentbit"
)

// A configuration too large for one Secret is split: the main file keeps the service
// section, parsers and inputs, and includes the output sections from shard files,
// each carried by a Secret of its own. A pipeline's sections always go to the shard
// its identity hashes to, so that editing, adding or removing a pipeline rewrites
// that one shard and leaves every other file — and Secret — as it was; only a change
// in the number of shards moves sections between files.

// maxFileBytes keeps each file, and so each Secret holding one, well under the 1 MiB
// limit of a Secret, leaving room for the Secret's own metadata.
var maxFileBytes = 900 * 1024

// shardFill sets the number of shards: the smallest power of two that keeps the
// average shard at 1/shardFill of maxFileBytes. The headroom lets pipelines be added
// and absorbs hashing's unevenness for a long time before a shard overflows, which
// doubles the count (and moves every section once).
const shardFill = 4

// maxShards bounds the doubling; the largest pipelines of a configuration needing more
// are left out (see tooLargeError). A variable so that tests can lower it.
var maxShards = 1024

// outputsHeader starts a file that holds only output sections.
const outputsHeader = "pipeline:\n  outputs:\n"

// encodedOutput is one output section as written, and what it belongs to.
type encodedOutput struct {
	pipeline *pipeline
	output   *output
	// data, then procs (the pipeline's processors, shared by its sections), is the
	// section as written.
	data, procs []byte
	// memo is the remembered section the bytes come from; nil when not remembered.
	memo *memoSection
}

// ShardFile is the name of shard i.
func ShardFile(i int) string { return fmt.Sprintf("outputs-%03d.yaml", i) }

// fileSet is a configuration's files as laid out by splitFiles, before the shard
// files not remembered are joined: their contents are nil until complete.
type fileSet struct {
	files []File
	// digests are the files' digests (fileDigest), zero until complete for the
	// files it works out.
	digests []digest
	outputs []encodedOutput
	// members are, per file, the positions in outputs of its sections (nil for the
	// main file), and sizes the sum of their sizes.
	members [][]int32
	sizes   []int
	// remembered tells the shard files a Renderer gave back whole, with their digests.
	remembered []bool
	memo       *Renderer
}

// splitFiles lays the configuration out in the main file alone when it fits, and
// otherwise in the main file and the shard files it includes (see above). Sections
// keep their order within a shard; an empty shard is left out. The files are complete
// once join returns.
func splitFiles(main fluentbit.Config, outputs []encodedOutput, memo *Renderer) (*fileSet, error) {
	total := 0
	for _, o := range outputs {
		total += o.size()
	}
	head, err := main.MarshalWithOutputs(nil)
	if err != nil {
		return nil, err
	}
	if len(head) > maxFileBytes {
		return nil, &tooLargeError{mainExcess: len(head) - maxFileBytes}
	}
	if len(head)+total+len(outputsHeader) <= maxFileBytes {
		data, err := main.MarshalWithOutputs(sectionBytes(outputs))
		return &fileSet{files: []File{{Name: MainFile, Content: data}}}, err
	}

	keys := shardKeys(outputs)
	shards := 1
	for shards < maxShards && total > shards*(maxFileBytes/shardFill) {
		shards *= 2
	}
	var sizes []int
	for {
		sizes = make([]int, shards)
		for i, o := range outputs {
			sizes[keys[i]&uint64(shards-1)] += o.size()
		}
		if len(outputsHeader)+slices.Max(sizes) <= maxFileBytes {
			break
		}
		if shards == maxShards {
			return nil, &tooLargeError{leaveOut: overflowing(outputs, keys, shards)}
		}
		shards *= 2
	}
	// Each shard's sections, as positions in outputs: in order, and without copies.
	members := make([][]int32, shards)
	for i := range outputs {
		k := keys[i] & uint64(shards-1)
		if members[k] == nil {
			members[k] = make([]int32, 0, len(outputs)/shards+8)
		}
		members[k] = append(members[k], int32(i))
	}
	fs := &fileSet{files: []File{{Name: MainFile}}, digests: []digest{{}}, outputs: outputs, members: [][]int32{nil},
		sizes: []int{0}, remembered: []bool{false}, memo: memo}
	for i, m := range members {
		if len(m) == 0 {
			continue
		}
		name := ShardFile(i)
		content, sum := memo.reuseShard(outputs, m)
		fs.remembered = append(fs.remembered, content != nil)
		fs.digests = append(fs.digests, sum)
		fs.files = append(fs.files, File{Name: name, Content: content})
		fs.members = append(fs.members, m)
		fs.sizes = append(fs.sizes, sizes[i])
		main.Includes = append(main.Includes, name)
	}
	if fs.files[0].Content, err = main.MarshalWithOutputs(nil); err != nil {
		return nil, err
	}
	if len(fs.files[0].Content) > maxFileBytes {
		return nil, &tooLargeError{mainExcess: len(fs.files[0].Content) - maxFileBytes}
	}
	return fs, nil
}

// tooLargeError says a configuration does not fit in its files, so that the caller
// can leave out what makes it too large and render again. Every section fits in a file
// by itself (see builder.fits), so leaving out pipelines always ends with one that fits.
type tooLargeError struct {
	// leaveOut are the pipelines to leave out of full shard files, with the bytes of
	// their sections.
	leaveOut map[*pipeline]int
	// mainExcess is how many bytes too many the main file (service, parsers, inputs)
	// holds; only the caller knows what each pipeline puts there.
	mainExcess int
}

func (e *tooLargeError) Error() string {
	if e.mainExcess > 0 {
		return fmt.Sprintf("the main file is %d bytes over %d", e.mainExcess, maxFileBytes)
	}
	return fmt.Sprintf("output sections do not fit in %d files of %d bytes", maxShards, maxFileBytes)
}

// overflowing chooses the pipelines to leave out when the sections do not fit in
// shards files: in each shard that overflows, the pipelines with the most bytes in it
// (by identity on a tie), until it fits. The one who takes most room goes first, so
// that a tenant who fills the agent's files does not push out the many who fit.
func overflowing(outputs []encodedOutput, keys []uint64, shards int) map[*pipeline]int {
	type share struct {
		p    *pipeline
		size int
	}
	perShard := make([]map[*pipeline]int, shards)
	sizes := make([]int, shards)
	totals := map[*pipeline]int{}
	for i, o := range outputs {
		k := keys[i] & uint64(shards-1)
		if perShard[k] == nil {
			perShard[k] = map[*pipeline]int{}
		}
		perShard[k][o.pipeline] += o.size()
		sizes[k] += o.size()
		totals[o.pipeline] += o.size()
	}
	out := map[*pipeline]int{}
	for k, per := range perShard {
		for p := range out {
			sizes[k] -= per[p] // left out already for another shard
		}
		if len(outputsHeader)+sizes[k] <= maxFileBytes {
			continue
		}
		list := make([]share, 0, len(per))
		for p, n := range per {
			if _, gone := out[p]; !gone {
				list = append(list, share{p, n})
			}
		}
		slices.SortFunc(list, func(a, b share) int {
			if a.size != b.size {
				return b.size - a.size
			}
			return compareRefs(a.p.Ref, b.p.Ref)
		})
		for _, sh := range list {
			if len(outputsHeader)+sizes[k] <= maxFileBytes {
				break
			}
			out[sh.p] = totals[sh.p]
			sizes[k] -= sh.size
		}
	}
	return out
}

// join writes the shard files not remembered.
func (fs *fileSet) join() {
	// Joining copies megabytes, memory-bound, and each file is independent.
	parallel(len(fs.files)-1, 4, func(i int) {
		if f := i + 1; !fs.remembered[f] {
			fs.files[f].Content = joinShard(fs.outputs, fs.members[f], fs.sizes[f])
		}
	})
}

// digest works out the digests of the files not remembered, as fileDigest would of
// the complete files. It may run while join does: a shard being joined is hashed
// from its sections, which equal it, and its content (being written) is never read.
func (fs *fileSet) digest() {
	h := sha256.New()
	line := make([]byte, 0, 256)
	for f := range fs.files {
		if fs.remembered[f] {
			continue
		}
		if f == 0 {
			fs.digests[f] = fileDigest(fs.files[f])
			continue
		}
		h.Reset()
		line = append(appendFileLine(line[:0], fs.files[f].Name, len(outputsHeader)+fs.sizes[f]), '\n')
		line = append(line, outputsHeader...)
		// Short pieces are gathered: each Write has a cost of its own.
		for _, o := range fs.members[f] {
			for _, piece := range [2][]byte{fs.outputs[o].data, fs.outputs[o].procs} {
				if len(line)+len(piece) > cap(line) {
					h.Write(line)
					line = line[:0]
				}
				if len(piece) > cap(line) {
					h.Write(piece)
				} else {
					line = append(line, piece...)
				}
			}
		}
		h.Write(line)
		fs.digests[f] = digest(h.Sum(nil))
	}
}

// remember keeps the shard files just joined, with their digests.
func (fs *fileSet) remember() {
	for f := 1; f < len(fs.files); f++ {
		if !fs.remembered[f] {
			fs.memo.keepShard(fs.outputs, fs.members[f], fs.files[f].Content, fs.digests[f])
		}
	}
}

// shardKeys hashes what decides each section's shard: its pipeline's identity, or,
// for a pipeline whose sections alone would fill more than an average shard, the
// pipeline and the output, so that such a pipeline spreads instead of overflowing.
// outputs holds each pipeline's sections together.
func shardKeys(outputs []encodedOutput) []uint64 {
	keys := make([]uint64, len(outputs))
	for start := 0; start < len(outputs); {
		end, size := start, 0
		for end < len(outputs) && outputs[end].pipeline == outputs[start].pipeline {
			size += outputs[end].size()
			end++
		}
		for i := start; i < end; i++ {
			h := fnv.New64a()
			p := outputs[i].pipeline.Ref
			h.Write([]byte(p.Kind + "/" + p.Namespace + "/" + p.Name))
			if size > maxFileBytes/shardFill {
				o := outputs[i].output.Ref
				h.Write([]byte("\x00" + o.Kind + "/" + o.Namespace + "/" + o.Name))
			}
			keys[i] = h.Sum64()
		}
		start = end
	}
	return keys
}

func (o *encodedOutput) size() int { return len(o.data) + len(o.procs) }

// sectionBytes lists the pieces of the sections in order.
func sectionBytes(outputs []encodedOutput) [][]byte {
	out := make([][]byte, 0, 2*len(outputs))
	for _, o := range outputs {
		out = append(out, o.data, o.procs)
	}
	return out
}

// joinShard writes a shard file: the outputs header and the sections.
func joinShard(outputs []encodedOutput, members []int32, size int) []byte {
	data := make([]byte, 0, len(outputsHeader)+size)
	data = append(data, outputsHeader...)
	for _, i := range members {
		data = append(append(data, outputs[i].data...), outputs[i].procs...)
	}
	return data
}

// memoShard is a shard file as last written, its digest, and the sections it was
// written from.
type memoShard struct {
	sections []*memoSection
	content  []byte
	digest   digest
	epoch    int
}

// reuseShard returns the shard file written last time for exactly these remembered
// sections, and its digest, or nil.
func (r *Renderer) reuseShard(outputs []encodedOutput, members []int32) ([]byte, digest) {
	if r == nil {
		return nil, digest{}
	}
	// A section belongs to one configuration, so the first one names the shard.
	first := outputs[members[0]].memo
	m := r.shards[first]
	if first == nil || m == nil || len(m.sections) != len(members) {
		return nil, digest{}
	}
	for j, i := range members {
		if m.sections[j] != outputs[i].memo {
			return nil, digest{}
		}
	}
	if m.epoch != r.epoch {
		m.epoch = r.epoch
		r.touchedShards++
	}
	return m.content, m.digest
}

// keepShard remembers a shard file written from remembered sections only.
func (r *Renderer) keepShard(outputs []encodedOutput, members []int32, content []byte, sum digest) {
	if r == nil {
		return
	}
	ptrs := make([]*memoSection, len(members))
	for j, i := range members {
		if ptrs[j] = outputs[i].memo; ptrs[j] == nil {
			return
		}
	}
	if old := r.shards[ptrs[0]]; old == nil || old.epoch != r.epoch {
		r.touchedShards++
	}
	r.shards[ptrs[0]] = &memoShard{sections: ptrs, content: content, digest: sum, epoch: r.epoch}
}
