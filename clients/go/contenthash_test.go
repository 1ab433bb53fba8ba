package dropboxconnector_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	dropboxconnector "github.com/dropbox-connector/dropbox-connector/clients/go"
)

func TestContentHashOfNothingIsTheSHA256OfNoBlocks(t *testing.T) {
	if got := dropboxconnector.NewContentHash().Hex(); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("content_hash of an empty file: %s", got)
	}
}

func TestContentHashSplitsBlocksWhateverTheWriteSizes(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (2*dropboxconnector.ContentHashBlockSize+5)/16+1)
	first := sha256.Sum256(data[:dropboxconnector.ContentHashBlockSize])
	second := sha256.Sum256(data[dropboxconnector.ContentHashBlockSize : 2*dropboxconnector.ContentHashBlockSize])
	third := sha256.Sum256(data[2*dropboxconnector.ContentHashBlockSize:])
	want := sha256.Sum256(append(append(first[:], second[:]...), third[:]...))

	hash := dropboxconnector.NewContentHash()
	for rest, step := data, 1; len(rest) > 0; step = step*7 + 3 {
		if step > len(rest) {
			step = len(rest)
		}
		hash.Write(rest[:step])
		rest = rest[step:]
		// Sum in the middle must not disturb what follows.
		hash.Sum(nil)
	}
	if got := hash.Hex(); got != hex.EncodeToString(want[:]) {
		t.Fatalf("content_hash %s, want %s", got, hex.EncodeToString(want[:]))
	}
}
