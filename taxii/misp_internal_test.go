package taxii

import (
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// endlessGzip is a gzip stream of zeros that never ends: the writer runs until
// the reader side is closed.
func endlessGzip(t *testing.T) io.Reader {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pr.Close() })
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestCompression)
		zeros := make([]byte, 1<<16)
		for {
			if _, err := zw.Write(zeros); err != nil {
				return
			}
		}
	}()
	return pr
}

// TestReadMISPBodyBomb: a gzip body that would decompress without end is cut
// at max decompressed bytes, having read only a little of the compressed stream.
func TestReadMISPBodyBomb(t *testing.T) {
	const max = 1 << 20
	for name, tt := range map[string]struct {
		encoding string
		wantMax  int64 // compressed bytes the server may read
	}{
		"gzip":   {"gzip", 256 << 10},
		"x-gzip": {"x-gzip", 256 << 10},
	} {
		t.Run(name, func(t *testing.T) {
			body := &countingReader{r: endlessGzip(t)}
			req := httptest.NewRequest(http.MethodPost, "/events/add", body)
			req.Header.Set(echo.HeaderContentEncoding, tt.encoding)
			c := echo.New().NewContext(req, httptest.NewRecorder())
			_, err := readMISPBody(c, max)
			var me *MISPError
			if !errors.As(err, &me) || me.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("readMISPBody = %v, want a 413 MISPError", err)
			}
			if got := body.n.Load(); got > tt.wantMax {
				t.Fatalf("read %d compressed bytes of a bomb; want at most %d (the decompressed cap must stop it)", got, tt.wantMax)
			}
		})
	}
}

// TestMISPPathArgs: the uuid and the CakePHP named parameters of a path.
func TestMISPPathArgs(t *testing.T) {
	for path, want := range map[string]struct {
		first string
		named map[string]string
	}{
		"5c0e1a2b-3d4e-4f50-8a61-7b8c9d0e1f2a/metadata:1": {"5c0e1a2b-3d4e-4f50-8a61-7b8c9d0e1f2a", map[string]string{"metadata": "1"}},
		"5c0e1a2b-3d4e-4f50-8a61-7b8c9d0e1f2a.json":       {"5c0e1a2b-3d4e-4f50-8a61-7b8c9d0e1f2a", map[string]string{}},
		"metadata:1":      {"", map[string]string{"metadata": "1"}},
		"metadata:1.json": {"", map[string]string{"metadata": "1"}},
		"12/deleted[]:0/deleted[]:1/excludeGalaxy:1": {"12", map[string]string{"deleted[]": "1", "excludeGalaxy": "1"}},
		"": {"", map[string]string{}},
	} {
		c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
		c.SetParamNames("*")
		c.SetParamValues(path)
		first, named := mispPathArgs(c)
		if first != want.first || len(named) != len(want.named) {
			t.Errorf("%q: got %q %v, want %q %v", path, first, named, want.first, want.named)
			continue
		}
		for k, v := range want.named {
			if named[k] != v {
				t.Errorf("%q: named[%s] = %q, want %q", path, k, named[k], v)
			}
		}
	}
}
