package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// member is one file of an archive: its name under the archive's top directory, where it comes from, and
// its mode.
type member struct {
	name string
	src  string
	mode fs.FileMode
}

// archiveFiles lists what p's archive holds, in archive order: both programs, README.md, LICENSE and the
// completion scripts under completions/.
func (b *builder) archiveFiles(p Platform, bins, completions map[string]string) []member {
	var files []member
	for _, prog := range Programs {
		files = append(files, member{prog.Name + p.exe(), bins[prog.Name], 0o755})
	}
	files = append(files,
		member{"README.md", filepath.Join(b.cfg.Root, "README.md"), 0o644},
		member{"LICENSE", filepath.Join(b.cfg.Root, "LICENSE"), 0o644},
	)
	for _, c := range Completions {
		files = append(files, member{"completions/" + c.File, completions[c.Shell], 0o644})
	}
	return files
}

// archive writes p's archive into the output directory and returns its name. Every entry lies under one
// top-level directory, is owned by root (uid and gid 0) and carries the commit time; the order is that of
// files, directories first where they begin.
func (b *builder) archive(p Platform, files []member) (string, error) {
	name := ArchiveName(b.cfg.Source.Version, p)
	top := archiveDir(b.cfg.Source.Version, p)
	var buf bytes.Buffer
	var err error
	if p.OS == "windows" {
		err = writeZip(&buf, top, files, b.cfg.Source)
	} else {
		err = writeTarGz(&buf, top, files, b.cfg.Source)
	}
	if err != nil {
		return "", fmt.Errorf("release: %s: %w", name, err)
	}
	return name, writeFile(filepath.Join(b.cfg.OutDir, name), buf.Bytes())
}

// dirs returns the directories to create before files, in order: top, then each new parent.
func dirs(top string, files []member) []string {
	out := []string{top + "/"}
	seen := map[string]bool{}
	for _, f := range files {
		if d := path.Dir(f.name); d != "." && !seen[d] {
			seen[d] = true
			out = append(out, top+"/"+d+"/")
		}
	}
	return out
}

func writeTarGz(w io.Writer, top string, files []member, src Source) error {
	// The gzip header carries no name and no time (a zero ModTime writes 0).
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	hdr := func(name string, mode int64, typ byte, size int64) *tar.Header {
		return &tar.Header{
			Typeflag: typ, Name: name, Mode: mode, Size: size,
			Uid: 0, Gid: 0, Uname: "root", Gname: "root",
			ModTime: src.Time, Format: tar.FormatPAX,
		}
	}
	for _, d := range dirs(top, files) {
		if err := tw.WriteHeader(hdr(d, 0o755, tar.TypeDir, 0)); err != nil {
			return err
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr(top+"/"+f.name, int64(f.mode), tar.TypeReg, int64(len(data)))); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func writeZip(w io.Writer, top string, files []member, src Source) error {
	zw := zip.NewWriter(w)
	for _, d := range dirs(top, files) {
		h := &zip.FileHeader{Name: d, Method: zip.Store, Modified: src.Time}
		h.SetMode(fs.ModeDir | 0o755)
		if _, err := zw.CreateHeader(h); err != nil {
			return err
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		h := &zip.FileHeader{Name: top + "/" + f.name, Method: zip.Deflate, Modified: src.Time}
		h.SetMode(f.mode)
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := fw.Write(data); err != nil {
			return err
		}
	}
	return zw.Close()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("release: %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
