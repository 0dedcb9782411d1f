// goverify: an independent, offline verifier for C2SP signed notes / checkpoints /
// cosignatures / tlog-proofs, built only on Go's stdlib and Debian's packaged
// golang.org/x/mod/sumdb/{note,tlog} (golang-golang-x-mod-dev 0.7.0).
//
// Build (offline, GOPATH mode):
//   GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off go build -o goverify .
//
// Subcommands:
//   goverify open [-vkey VKEY]... [-cosig-vkey VKEY]... [-origin O] NOTEFILE
//       note.Open with standard Ed25519 (alg 0x01) verifiers and/or timestamped
//       Ed25519 cosignature/v1 (alg 0x04) verifiers. Prints verified sigs.
//       With -origin, also parses the body as a C2SP checkpoint and checks origin.
//   goverify proof [-vkey..] [-cosig-vkey..] -origin O (-leaf-hash B64 | -leaf-data FILE) PROOFFILE
//       Parses c2sp.org/tlog-proof@v1, opens the embedded checkpoint, checks
//       the RFC 6962 inclusion proof with tlog.CheckRecord.
//   goverify consistency -old CHECKPOINTBODYFILE -new CHECKPOINTBODYFILE PROOFFILE
//       PROOFFILE: one base64 hash per line. Checks with tlog.CheckTree.
//   goverify merkle-testdata DIR
//       Runs transparency-dev/merkle testdata/{inclusion,consistency} JSON
//       vectors through tlog.CheckRecord / tlog.CheckTree; compares with wantErr.
//   goverify kat OUTDIR
//       Writes deterministic known-answer vectors (fixed seeds, fixed time).
package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	algEd25519   = 0x01
	algCosigV1   = 0x04
	proofHeader  = "c2sp.org/tlog-proof@v1"
	cosigHeader  = "cosignature/v1\n"
	timestampLen = 8
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func die(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+f+"\n", a...)
	os.Exit(1)
}

// keyID = SHA-256(name || 0x0A || alg || pubkey)[:4], big-endian uint32.
func keyID(name string, alg byte, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', alg})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil)[:4])
}

// ---- cosignature/v1 verifier (alg 0x04), implements note.Verifier ----

type cosigVerifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.hash }
func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != timestampLen+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > 1<<63-1 {
		return false
	}
	m := cosigMessage(t, msg)
	return ed25519.Verify(v.pub, m, sig[timestampLen:])
}

func cosigMessage(t uint64, body []byte) []byte {
	return append([]byte(fmt.Sprintf("%stime %d\n", cosigHeader, t)), body...)
}

// newCosigVerifier parses "name+hash+base64(0x04||pub)" (also accepts 0x01
// vkeys, re-deriving the 0x04 key id, like transparency-dev/formats).
func newCosigVerifier(vkey string) (*cosigVerifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 || len(parts[1]) != 8 {
		return nil, errors.New("malformed vkey")
	}
	name := parts[0]
	declared, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 {
		return nil, errors.New("malformed vkey key material")
	}
	alg, pub := raw[0], raw[1:]
	switch alg {
	case algCosigV1:
		if keyID(name, algCosigV1, pub) != uint32(declared) {
			return nil, errors.New("vkey key id mismatch")
		}
	case algEd25519:
		if keyID(name, algEd25519, pub) != uint32(declared) {
			return nil, errors.New("vkey key id mismatch")
		}
	default:
		return nil, fmt.Errorf("unsupported alg 0x%02x", alg)
	}
	return &cosigVerifier{name: name, hash: keyID(name, algCosigV1, pub), pub: ed25519.PublicKey(pub)}, nil
}

func buildVerifiers(vkeys, cosigVkeys []string) note.Verifiers {
	var vs []note.Verifier
	for _, k := range vkeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			die("vkey %q: %v", k, err)
		}
		vs = append(vs, v)
	}
	for _, k := range cosigVkeys {
		v, err := newCosigVerifier(k)
		if err != nil {
			die("cosig vkey %q: %v", k, err)
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...)
}

// ---- C2SP checkpoint body ----

type checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	Ext    []string
}

func parseCheckpoint(text string) (*checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("checkpoint body must end in newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, errors.New("checkpoint needs >= 3 lines")
	}
	c := &checkpoint{Origin: lines[0]}
	if c.Origin == "" {
		return nil, errors.New("empty origin")
	}
	if lines[1] == "" || (len(lines[1]) > 1 && lines[1][0] == '0') {
		return nil, errors.New("bad tree size (empty or leading zero)")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("bad tree size %q", lines[1])
	}
	c.Size = n
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != 32 {
		return nil, fmt.Errorf("bad root hash %q", lines[2])
	}
	copy(c.Root[:], h)
	for _, e := range lines[3:] {
		if e == "" {
			return nil, errors.New("empty extension line")
		}
		c.Ext = append(c.Ext, e)
	}
	return c, nil
}

func openNote(msg []byte, vs note.Verifiers) *note.Note {
	n, err := note.Open(msg, vs)
	if err != nil {
		var e *note.UnverifiedNoteError
		if errors.As(err, &e) {
			for _, s := range e.Note.UnverifiedSigs {
				fmt.Printf("  unverified: %s %08x\n", s.Name, s.Hash)
			}
		}
		die("note.Open: %v", err)
	}
	for _, s := range n.Sigs {
		fmt.Printf("  verified:   %s %08x\n", s.Name, s.Hash)
	}
	for _, s := range n.UnverifiedSigs {
		fmt.Printf("  unverified: %s %08x (unknown key, ignored)\n", s.Name, s.Hash)
	}
	return n
}

func cmdOpen(args []string) {
	fs := flag.NewFlagSet("open", flag.ExitOnError)
	var vkeys, cvkeys multi
	fs.Var(&vkeys, "vkey", "Ed25519 (0x01) verifier key")
	fs.Var(&cvkeys, "cosig-vkey", "cosignature/v1 (0x04) verifier key")
	origin := fs.String("origin", "", "if set, parse body as checkpoint and require this origin")
	fs.Parse(args)
	msg, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		die("%v", err)
	}
	n := openNote(msg, buildVerifiers(vkeys, cvkeys))
	if *origin != "" {
		c, err := parseCheckpoint(n.Text)
		if err != nil {
			die("checkpoint: %v", err)
		}
		if c.Origin != *origin {
			die("origin %q != %q", c.Origin, *origin)
		}
		fmt.Printf("  checkpoint: origin=%s size=%d root=%s ext=%q\n", c.Origin, c.Size, c.Root, c.Ext)
	}
	fmt.Println("OK")
}

// ---- tlog-proof ----

type tlogProof struct {
	Extra      []byte
	HasExtra   bool
	Index      int64
	Hashes     []tlog.Hash
	Checkpoint []byte
}

func parseTlogProof(b []byte) (*tlogProof, error) {
	s := string(b)
	head, cp, ok := strings.Cut(s, "\n\n")
	if !ok {
		return nil, errors.New("no blank line before checkpoint")
	}
	lines := strings.Split(head, "\n")
	if lines[0] != proofHeader {
		return nil, fmt.Errorf("bad header %q", lines[0])
	}
	p := &tlogProof{Checkpoint: []byte(cp)}
	i := 1
	if i < len(lines) && strings.HasPrefix(lines[i], "extra ") {
		x, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[i], "extra "))
		if err != nil {
			return nil, fmt.Errorf("extra: %v", err)
		}
		p.Extra, p.HasExtra = x, true
		i++
	}
	if i >= len(lines) || !strings.HasPrefix(lines[i], "index ") {
		return nil, errors.New("missing index line")
	}
	is := strings.TrimPrefix(lines[i], "index ")
	if is == "" || (len(is) > 1 && is[0] == '0') {
		return nil, errors.New("bad index")
	}
	idx, err := strconv.ParseInt(is, 10, 64)
	if err != nil || idx < 0 {
		return nil, errors.New("bad index")
	}
	p.Index = idx
	for _, l := range lines[i+1:] {
		h, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("bad proof hash %q", l)
		}
		var hh tlog.Hash
		copy(hh[:], h)
		p.Hashes = append(p.Hashes, hh)
	}
	return p, nil
}

func cmdProof(args []string) {
	fs := flag.NewFlagSet("proof", flag.ExitOnError)
	var vkeys, cvkeys multi
	fs.Var(&vkeys, "vkey", "Ed25519 (0x01) verifier key")
	fs.Var(&cvkeys, "cosig-vkey", "cosignature/v1 (0x04) verifier key")
	origin := fs.String("origin", "", "expected checkpoint origin")
	leafHash := fs.String("leaf-hash", "", "base64 RFC 6962 leaf hash")
	leafData := fs.String("leaf-data", "", "file with raw leaf data (hashed as SHA-256(0x00||data))")
	fs.Parse(args)
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		die("%v", err)
	}
	p, err := parseTlogProof(b)
	if err != nil {
		die("tlog-proof: %v", err)
	}
	n := openNote(p.Checkpoint, buildVerifiers(vkeys, cvkeys))
	c, err := parseCheckpoint(n.Text)
	if err != nil {
		die("checkpoint: %v", err)
	}
	if *origin != "" && c.Origin != *origin {
		die("origin %q != %q", c.Origin, *origin)
	}
	var lh tlog.Hash
	switch {
	case *leafHash != "":
		h, err := base64.StdEncoding.DecodeString(*leafHash)
		if err != nil || len(h) != 32 {
			die("bad -leaf-hash")
		}
		copy(lh[:], h)
	case *leafData != "":
		d, err := os.ReadFile(*leafData)
		if err != nil {
			die("%v", err)
		}
		lh = tlog.RecordHash(d)
	default:
		die("need -leaf-hash or -leaf-data")
	}
	if p.Index >= c.Size {
		die("index %d >= tree size %d", p.Index, c.Size)
	}
	if err := tlog.CheckRecord(tlog.RecordProof(p.Hashes), c.Size, c.Root, p.Index, lh); err != nil {
		die("inclusion: %v", err)
	}
	fmt.Printf("  inclusion OK: index=%d size=%d extra=%q\nOK\n", p.Index, c.Size, p.Extra)
}

func readHashLines(path string) []tlog.Hash {
	b, err := os.ReadFile(path)
	if err != nil {
		die("%v", err)
	}
	var hs []tlog.Hash
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" {
			continue
		}
		h, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(h) != 32 {
			die("bad hash line %q", l)
		}
		var hh tlog.Hash
		copy(hh[:], h)
		hs = append(hs, hh)
	}
	return hs
}

func cmdConsistency(args []string) {
	fs := flag.NewFlagSet("consistency", flag.ExitOnError)
	oldF := fs.String("old", "", "old checkpoint body (or signed note) file")
	newF := fs.String("new", "", "new checkpoint body (or signed note) file")
	fs.Parse(args)
	load := func(f string) *checkpoint {
		b, err := os.ReadFile(f)
		if err != nil {
			die("%v", err)
		}
		body := string(b)
		if i := strings.LastIndex(body, "\n\n"); i >= 0 {
			body = body[:i+1]
		}
		c, err := parseCheckpoint(body)
		if err != nil {
			die("%s: %v", f, err)
		}
		return c
	}
	o, nw := load(*oldF), load(*newF)
	if o.Origin != nw.Origin {
		die("origin mismatch")
	}
	p := readHashLines(fs.Arg(0))
	if err := tlog.CheckTree(tlog.TreeProof(p), nw.Size, nw.Root, o.Size, o.Root); err != nil {
		die("consistency: %v", err)
	}
	fmt.Printf("  consistency OK: %d -> %d\nOK\n", o.Size, nw.Size)
}

// ---- transparency-dev/merkle testdata runner ----

type incProbe struct {
	LeafIdx  uint64   `json:"leafIdx"`
	TreeSize uint64   `json:"treeSize"`
	Root     []byte   `json:"root"`
	LeafHash []byte   `json:"leafHash"`
	Proof    [][]byte `json:"proof"`
	Desc     string   `json:"desc"`
	WantErr  bool     `json:"wantErr"`
}

type conProbe struct {
	Size1   uint64   `json:"size1"`
	Size2   uint64   `json:"size2"`
	Root1   []byte   `json:"root1"`
	Root2   []byte   `json:"root2"`
	Proof   [][]byte `json:"proof"`
	Desc    string   `json:"desc"`
	WantErr bool     `json:"wantErr"`
}

func toHash(b []byte) (tlog.Hash, bool) {
	var h tlog.Hash
	if len(b) != 32 {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

func toHashes(bs [][]byte) ([]tlog.Hash, bool) {
	var out []tlog.Hash
	for _, b := range bs {
		h, ok := toHash(b)
		if !ok {
			return nil, false
		}
		out = append(out, h)
	}
	return out, true
}

// verifyInclusion: strict wrapper around tlog.CheckRecord.
func verifyInclusion(p incProbe) error {
	root, ok1 := toHash(p.Root)
	leaf, ok2 := toHash(p.LeafHash)
	proof, ok3 := toHashes(p.Proof)
	if !ok1 || !ok2 || !ok3 {
		return errors.New("bad hash size")
	}
	if p.TreeSize == 0 || p.LeafIdx >= p.TreeSize || p.TreeSize > 1<<62 {
		return errors.New("index out of range")
	}
	return tlog.CheckRecord(tlog.RecordProof(proof), int64(p.TreeSize), root, int64(p.LeafIdx), leaf)
}

// verifyConsistency: RFC 9162 semantics on top of tlog.CheckTree.
func verifyConsistency(p conProbe) error {
	if p.Size2 < p.Size1 {
		return errors.New("size1 > size2")
	}
	if p.Size1 == 0 {
		// Upstream (newer proof/verify.go) rejects size1 == 0 before the equal-size case.
		return errors.New("consistency proof from empty tree is meaningless")
	}
	if p.Size1 == p.Size2 {
		if len(p.Proof) != 0 {
			return errors.New("proof must be empty for equal sizes")
		}
		if !bytes.Equal(p.Root1, p.Root2) {
			return errors.New("roots differ")
		}
		return nil
	}
	if p.Size1 == 0 {
		return errors.New("size1 == 0 with non-empty tree is not checkable")
	}
	r1, ok1 := toHash(p.Root1)
	r2, ok2 := toHash(p.Root2)
	proof, ok3 := toHashes(p.Proof)
	if !ok1 || !ok2 || !ok3 {
		return errors.New("bad hash size")
	}
	if len(proof) == 0 {
		return errors.New("empty proof")
	}
	if p.Size2 > 1<<62 {
		return errors.New("too big")
	}
	return tlog.CheckTree(tlog.TreeProof(proof), int64(p.Size2), r2, int64(p.Size1), r1)
}

func cmdMerkleTestdata(args []string) {
	dir := args[0]
	pass, fail := 0, 0
	check := func(path string, gotErr error, want bool) {
		if (gotErr != nil) == want {
			pass++
		} else {
			fail++
			fmt.Printf("  MISMATCH %s: wantErr=%v got=%v\n", path, want, gotErr)
		}
	}
	for _, sub := range []string{"inclusion", "consistency"} {
		filepath.Walk(filepath.Join(dir, sub), func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || !strings.HasSuffix(path, ".json") {
				return err
			}
			b, _ := os.ReadFile(path)
			if sub == "inclusion" {
				var p incProbe
				if err := json.Unmarshal(b, &p); err != nil {
					die("%s: %v", path, err)
				}
				check(path, verifyInclusion(p), p.WantErr)
			} else {
				var p conProbe
				if err := json.Unmarshal(b, &p); err != nil {
					die("%s: %v", path, err)
				}
				check(path, verifyConsistency(p), p.WantErr)
			}
			return nil
		})
	}
	fmt.Printf("%d passed, %d failed\n", pass, fail)
	if fail > 0 {
		os.Exit(1)
	}
}

// ---- deterministic KAT generation ----

func seed(label string) []byte {
	s := sha256.Sum256([]byte(label))
	return s[:]
}

func writeFile(dir, name string, b []byte) {
	if err := os.WriteFile(filepath.Join(dir, name), b, 0644); err != nil {
		die("%v", err)
	}
}

type cosigSigner struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	t    uint64
}

func (s *cosigSigner) Name() string    { return s.name }
func (s *cosigSigner) KeyHash() uint32 { return s.hash }
func (s *cosigSigner) Sign(msg []byte) ([]byte, error) {
	sig := make([]byte, 8, 72)
	binary.BigEndian.PutUint64(sig, s.t)
	return append(sig, ed25519.Sign(s.key, cosigMessage(s.t, msg))...), nil
}

func cmdKAT(args []string) {
	out := args[0]
	os.MkdirAll(out, 0755)
	var summary bytes.Buffer
	p := func(f string, a ...interface{}) { fmt.Fprintf(&summary, f, a...) }

	// Log key (alg 0x01).
	logName := "example.com/puente-kat-log"
	logSeed := seed("puente kat log key")
	logPriv := ed25519.NewKeyFromSeed(logSeed)
	logPub := logPriv.Public().(ed25519.PublicKey)
	logID := keyID(logName, algEd25519, logPub)
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", logName, logID, base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, logSeed...)))
	vkey := fmt.Sprintf("%s+%08x+%s", logName, logID, base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, logPub...)))
	p("log name:            %s\nlog seed (hex):      %x\nlog pubkey (hex):    %x\nlog key id:          %08x\nlog skey:            %s\nlog vkey:            %s\n", logName, logSeed, []byte(logPub), logID, skey, vkey)

	// Witness key (alg 0x04).
	wName := "witness.example/puente-kat-w1"
	wSeed := seed("puente kat witness key")
	wPriv := ed25519.NewKeyFromSeed(wSeed)
	wPub := wPriv.Public().(ed25519.PublicKey)
	wID := keyID(wName, algCosigV1, wPub)
	wVkey := fmt.Sprintf("%s+%08x+%s", wName, wID, base64.StdEncoding.EncodeToString(append([]byte{algCosigV1}, wPub...)))
	p("witness name:        %s\nwitness seed (hex):  %x\nwitness pubkey(hex): %x\nwitness key id:      %08x\nwitness vkey:        %s\n", wName, wSeed, []byte(wPub), wID, wVkey)

	// Tree of 7 leaves "leaf-0".."leaf-6".
	var stored []tlog.Hash
	var leaves [][]byte
	for i := 0; i < 7; i++ {
		d := []byte(fmt.Sprintf("leaf-%d", i))
		leaves = append(leaves, d)
		hs, err := tlog.StoredHashes(int64(i), d, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			r := make([]tlog.Hash, len(idx))
			for j, x := range idx {
				r[j] = stored[x]
			}
			return r, nil
		}))
		if err != nil {
			die("%v", err)
		}
		stored = append(stored, hs...)
	}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		r := make([]tlog.Hash, len(idx))
		for j, x := range idx {
			r[j] = stored[x]
		}
		return r, nil
	})
	for i, d := range leaves {
		p("leaf %d data=%q leafhash=%s\n", i, d, tlog.RecordHash(d))
	}
	root4, _ := tlog.TreeHash(4, reader)
	root7, _ := tlog.TreeHash(7, reader)
	p("root(size 4): %s\nroot(size 7): %s\n", root4, root7)

	signer, err := note.NewSigner(skey)
	if err != nil {
		die("%v", err)
	}
	body7 := fmt.Sprintf("%s\n7\n%s\n", logName, root7)
	body4 := fmt.Sprintf("%s\n4\n%s\n", logName, root4)
	cp7, _ := note.Sign(&note.Note{Text: body7}, signer)
	cp4, _ := note.Sign(&note.Note{Text: body4}, signer)
	writeFile(out, "checkpoint-4.txt", cp4)
	writeFile(out, "checkpoint-7.txt", cp7)

	// Cosign checkpoint 7 at fixed time.
	ws := &cosigSigner{name: wName, hash: wID, key: wPriv, t: 1700000000}
	cp7c, _ := note.Sign(&note.Note{Text: body7}, signer, ws)
	writeFile(out, "checkpoint-7-cosigned.txt", cp7c)
	writeFile(out, "cosig-signed-message-7.txt", cosigMessage(1700000000, []byte(body7)))

	// Inclusion proof for index 5 in size 7 -> tlog-proof.
	rp, err := tlog.ProveRecord(7, 5, reader)
	if err != nil {
		die("%v", err)
	}
	var pb bytes.Buffer
	pb.WriteString(proofHeader + "\n")
	pb.WriteString("extra " + base64.StdEncoding.EncodeToString([]byte("puente extra data")) + "\n")
	pb.WriteString("index 5\n")
	for _, h := range rp {
		pb.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	pb.WriteString("\n")
	pb.Write(cp7c)
	writeFile(out, "leaf-5.tlog-proof", pb.Bytes())
	writeFile(out, "leaf-5.data", leaves[5])

	// Consistency proof 4 -> 7.
	tp, err := tlog.ProveTree(7, 4, reader)
	if err != nil {
		die("%v", err)
	}
	var cb bytes.Buffer
	for _, h := range tp {
		cb.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	writeFile(out, "consistency-4-7.txt", cb.Bytes())
	writeFile(out, "KEYS.txt", summary.Bytes())
	os.Stdout.Write(summary.Bytes())
	fmt.Println("OK")
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: goverify open|proof|consistency|merkle-testdata|kat ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "open":
		cmdOpen(os.Args[2:])
	case "proof":
		cmdProof(os.Args[2:])
	case "consistency":
		cmdConsistency(os.Args[2:])
	case "merkle-testdata":
		cmdMerkleTestdata(os.Args[2:])
	case "kat":
		cmdKAT(os.Args[2:])
	default:
		die("unknown subcommand %q", os.Args[1])
	}
}
