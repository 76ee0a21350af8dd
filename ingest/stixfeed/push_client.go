package stixfeed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/storage"
)

// The HTTP side of Pusher: API root, collection, add objects and status
// (TAXII 2.1 §4.2, §5.2, §5.5, §4.3).

// maxStatusBody bounds a status response (the successes of a 1000-object
// envelope are about 150 KiB).
const maxStatusBody = 16 << 20

// taxiiStatus is the TAXII 2.1 status resource (§4.3.1).
type taxiiStatus struct {
	ID           string                  `json:"id"`
	Status       string                  `json:"status"`
	TotalCount   int                     `json:"total_count"`
	SuccessCount int                     `json:"success_count"`
	FailureCount int                     `json:"failure_count"`
	PendingCount int                     `json:"pending_count"`
	Failures     []storage.StatusDetails `json:"failures"`
}

func (c *Client) authorize(req *http.Request) {
	switch {
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
}

// getJSON GETs u and decodes its JSON body into v.
func (c *Client) getJSON(ctx context.Context, u string, v any) error {
	return c.Get(ctx, u, func(_ http.Header, body io.Reader) error {
		if err := json.NewDecoder(io.LimitReader(body, maxStatusBody)).Decode(v); err != nil {
			return fmt.Errorf("%w: GET %s: body is not the JSON resource expected: %v", ErrPartner, u, err)
		}
		return nil
	})
}

// apiRootMaxLength GETs the API root (§4.2) and returns its max_content_length.
func (c *Client) apiRootMaxLength(ctx context.Context, apiRoot string) (int64, error) {
	u := strings.TrimRight(apiRoot, "/") + "/"
	var r struct {
		Title            string   `json:"title"`
		Versions         []string `json:"versions"`
		MaxContentLength int64    `json:"max_content_length"`
	}
	if err := c.getJSON(ctx, u, &r); err != nil {
		return 0, err
	}
	if r.MaxContentLength <= 0 {
		return 0, fmt.Errorf("%w: API root %s: max_content_length %d: a positive byte count is required (§4.2.1)", ErrPartner, u, r.MaxContentLength)
	}
	if len(r.Versions) > 0 {
		ok := false
		for _, v := range r.Versions {
			if strings.Contains(strings.ReplaceAll(v, " ", ""), "version=2.1") {
				ok = true
			}
		}
		if !ok {
			return 0, fmt.Errorf("%w: API root %s: versions %q do not include TAXII 2.1", ErrPartner, u, r.Versions)
		}
	}
	return r.MaxContentLength, nil
}

// checkWritable GETs the collection (§5.2) and checks can_write.
func (c *Client) checkWritable(ctx context.Context, collURL, id string) error {
	var r struct {
		ID       string `json:"id"`
		CanWrite bool   `json:"can_write"`
	}
	if err := c.getJSON(ctx, collURL, &r); err != nil {
		return err
	}
	if r.ID != id {
		return fmt.Errorf("%w: collection %s: id %q, want %q", ErrPartner, collURL, r.ID, id)
	}
	if !r.CanWrite {
		return fmt.Errorf("%w: collection %s: can_write is false for these credentials", ErrPartner, collURL)
	}
	return nil
}

// postEnvelope POSTs one envelope to the collection's objects endpoint (§5.5)
// and returns the status it answers. 429 and 5xx are retried by the HTTP client
// (the body is replayed).
func (c *Client) postEnvelope(ctx context.Context, collURL string, envelope []byte) (*taxiiStatus, error) {
	u := collURL + "objects/"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(envelope))
	if err != nil {
		return nil, fmt.Errorf("taxii: %w", err)
	}
	req.Header.Set("Accept", MediaTypeTAXII)
	req.Header.Set("Content-Type", MediaTypeTAXII)
	c.authorize(req)
	resp, err := c.http().Do(ctx, req)
	if err != nil {
		var he *ingest.HTTPError
		if errors.As(err, &he) {
			switch he.Status {
			case http.StatusUnauthorized, http.StatusForbidden:
				return nil, fmt.Errorf("taxii: %w (check the push's credentials and the partner's write grant)", err)
			case http.StatusRequestEntityTooLarge:
				return nil, fmt.Errorf("taxii: %w (the envelope was %d bytes, under the API root's max_content_length)", err, len(envelope))
			}
		}
		return nil, fmt.Errorf("taxii: %w", err)
	}
	defer resp.Body.Close()
	var st taxiiStatus
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxStatusBody)).Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: POST %s: HTTP %d: the body is not a status resource: %v", ErrPartner, u, resp.StatusCode, err)
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("%w: POST %s: %v", ErrPartner, u, err)
	}
	return &st, nil
}

// getStatus GETs a status resource (§4.3).
func (c *Client) getStatus(ctx context.Context, u string) (*taxiiStatus, error) {
	var st taxiiStatus
	if err := c.getJSON(ctx, u, &st); err != nil {
		return nil, err
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v", ErrPartner, u, err)
	}
	return &st, nil
}

// check validates the fields Push relies on.
func (st *taxiiStatus) check() error {
	switch {
	case st.ID == "":
		return errors.New("status without id")
	case st.Status != "complete" && st.Status != "pending":
		return fmt.Errorf("status %s: status %q, want complete or pending", st.ID, st.Status)
	case st.Status == "complete" && st.PendingCount > 0:
		return fmt.Errorf("status %s: complete with pending_count %d", st.ID, st.PendingCount)
	}
	return nil
}
