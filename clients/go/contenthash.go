package dropboxconnector

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"hash"
)

// ContentHashBlockSize is the block size of Dropbox's content_hash.
const ContentHashBlockSize = 4 << 20

// ContentHash computes Dropbox's content_hash: the SHA-256 of the concatenated SHA-256
// digests of each 4 MiB block. It is a hash.Hash, so it can sit behind an io.TeeReader and
// see a file once, whatever sizes the reads have.
type ContentHash struct {
	block   hash.Hash
	inBlock int
	overall hash.Hash
}

// NewContentHash returns an empty content_hash computation.
func NewContentHash() *ContentHash {
	return &ContentHash{block: sha256.New(), overall: sha256.New()}
}

// Write adds bytes; it never fails.
func (h *ContentHash) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 {
		take := ContentHashBlockSize - h.inBlock
		if take > len(p) {
			take = len(p)
		}
		h.block.Write(p[:take])
		h.inBlock += take
		p = p[take:]
		if h.inBlock == ContentHashBlockSize {
			h.endBlock()
		}
	}
	return written, nil
}

func (h *ContentHash) endBlock() {
	h.overall.Write(h.block.Sum(nil))
	h.block.Reset()
	h.inBlock = 0
}

// Sum appends the content_hash of the bytes so far to b, without changing the state.
func (h *ContentHash) Sum(b []byte) []byte {
	// The unfinished block's digest goes into a copy of the running state, so that more
	// bytes can still follow (crypto/sha256 digests marshal their state for this).
	overall := sha256.New()
	state, _ := h.overall.(encoding.BinaryMarshaler).MarshalBinary()
	_ = overall.(encoding.BinaryUnmarshaler).UnmarshalBinary(state)
	if h.inBlock > 0 {
		overall.Write(h.block.Sum(nil))
	}
	return overall.Sum(b)
}

// Hex is the content_hash as Dropbox writes it: 64 lower-case hex characters.
func (h *ContentHash) Hex() string { return hex.EncodeToString(h.Sum(nil)) }

// Reset empties the computation.
func (h *ContentHash) Reset() {
	h.block.Reset()
	h.overall.Reset()
	h.inBlock = 0
}

// Size is the length of a content_hash in bytes.
func (h *ContentHash) Size() int { return sha256.Size }

// BlockSize is Dropbox's block size, the unit the hash is computed over.
func (h *ContentHash) BlockSize() int { return ContentHashBlockSize }
