package misp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ctibroker/ctibroker/ingest"
)

// ErrNotNewer is wrapped by PushEvent's error when MISP keeps its copy of the
// event because it is not older than the one pushed (HTTP 403 "Event in the
// request not newer than the local copy"): the instance is up to date, which a
// scheduled push counts as unchanged, not as a failure.
var ErrNotNewer = errors.New("MISP has this event at the same or a newer timestamp")

// ErrRejected is wrapped by the errors of PushEvent and UploadSTIX when MISP
// answers but does not save (a 2xx without the expected JSON, saved false).
var ErrRejected = errors.New("MISP did not save the upload")

// maxAnswer bounds how much of a MISP answer is read.
const maxAnswer = 4 << 20

// PushEvent adds ev to a MISP instance, or edits it there when it exists, as
// a MISP server pushing to another does (misp.md §2.2 step 4), with the
// client's key as a raw Authorization header:
//
//  1. HEAD /events/view/{uuid}: 200 means the event exists, 404 that it does
//     not; 401 and 403 are errors (the key is refused); anything else is
//     taken as "does not exist", as MISP does.
//  2. missing: POST /events/add with {"Event": ev}. When MISP answers that the
//     event already exists (403 or 404 "Event already exists", e.g. after a
//     race or when HEAD is not allowed), the push goes on as an edit.
//  3. existing: POST /events/edit/{uuid} with {"Event": ev}. MISP applies it
//     only when ev's timestamp is newer than its copy; otherwise it answers 403
//     "not newer than the local copy" and PushEvent returns an error wrapping
//     ErrNotNewer.
//
// Success is a 2xx answer with a JSON body holding the saved event
// ({"Event": {"id", "uuid", ...}}); created says whether it was added rather
// than edited. Attributes pushed with deleted true are soft-deleted by MISP;
// attributes MISP has and ev lacks stay as they are (MISP edits by attribute
// uuid).
func (c *Client) PushEvent(ctx context.Context, ev *Event) (created bool, err error) {
	body, err := MarshalFeedEvent(ev)
	if err != nil {
		return false, err
	}
	id := url.PathEscape(ev.UUID)
	exists, err := c.eventExists(ctx, id)
	if err != nil {
		return false, err
	}
	if !exists {
		err := c.postEvent(ctx, "events/add", ev.UUID, body)
		if err == nil {
			return true, nil
		}
		var he *ingest.HTTPError
		if !errors.As(err, &he) || !(he.Status == http.StatusForbidden || he.Status == http.StatusNotFound) ||
			!strings.Contains(strings.ToLower(he.Body), "already exists") {
			return false, err
		}
	}
	if err := c.postEvent(ctx, "events/edit/"+id, ev.UUID, body); err != nil {
		var he *ingest.HTTPError
		if errors.As(err, &he) && he.Status == http.StatusForbidden && strings.Contains(strings.ToLower(he.Body), "not newer") {
			return false, fmt.Errorf("misp: push event %s: %w", ev.UUID, ErrNotNewer)
		}
		return false, err
	}
	return false, nil
}

// eventExists asks HEAD /events/view/{uuid}.
func (c *Client) eventExists(ctx context.Context, id string) (bool, error) {
	resp, err := c.do(ctx, http.MethodHead, "events/view/"+id, nil, nil)
	if err != nil {
		var he *ingest.HTTPError
		if errors.As(err, &he) {
			switch he.Status {
			case http.StatusNotFound:
				return false, nil
			case http.StatusUnauthorized, http.StatusForbidden:
				return false, fmt.Errorf("misp: HEAD events/view/%s: the instance refuses the key: %w", id, err)
			}
			return false, nil
		}
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// postEvent POSTs an event body and checks MISP's answer: 2xx with the saved
// event as JSON.
func (c *Client) postEvent(ctx context.Context, path, uuid string, body []byte) error {
	resp, err := c.do(ctx, http.MethodPost, path, body, nil)
	if err != nil {
		return fmt.Errorf("misp: push event %s: %w", uuid, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("misp: POST %s: reading the answer: %w", path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("misp: POST %s: HTTP %d: %w", path, resp.StatusCode, ErrRejected)
	}
	var ans struct {
		Event *struct {
			ID   Num    `json:"id"`
			UUID string `json:"uuid"`
		} `json:"Event"`
	}
	if err := json.Unmarshal(b, &ans); err != nil || ans.Event == nil {
		return fmt.Errorf("misp: POST %s: HTTP %d without the saved event (%s): %w", path, resp.StatusCode, clip(string(b)), ErrRejected)
	}
	if ans.Event.UUID != "" && !strings.EqualFold(ans.Event.UUID, uuid) {
		return fmt.Errorf("misp: POST %s: MISP saved event %s, not %s: %w", path, ans.Event.UUID, uuid, ErrRejected)
	}
	return nil
}

// UploadSTIX posts a STIX 2.x bundle to POST /events/upload_stix/2, MISP's STIX
// import (misp-stix makes one event per report or grouping, or one for the
// whole bundle). MISP answers 200 {"saved": true, "success": true, "name":
// "STIX document imported..."} when it imported, and an error status or
// saved/success false otherwise (an error wrapping ErrRejected with MISP's
// message).
func (c *Client) UploadSTIX(ctx context.Context, bundle []byte) error {
	var probe struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(bundle, &probe); err != nil || probe.Type != "bundle" {
		return fmt.Errorf("misp: upload_stix: the body is not a STIX bundle (type %q, err %v)", probe.Type, err)
	}
	resp, err := c.do(ctx, http.MethodPost, "events/upload_stix/2", bundle, nil)
	if err != nil {
		var he *ingest.HTTPError
		if errors.As(err, &he) && he.Status < 500 && he.Status != http.StatusUnauthorized && he.Status != http.StatusTooManyRequests {
			return fmt.Errorf("misp: upload_stix: %w: %w", ErrRejected, err)
		}
		return fmt.Errorf("misp: upload_stix: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("misp: upload_stix: reading the answer: %w", err)
	}
	var ans struct {
		Saved   *bool           `json:"saved"`
		Success *bool           `json:"success"`
		Name    string          `json:"name"`
		Message string          `json:"message"`
		Errors  json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return fmt.Errorf("misp: upload_stix: HTTP %d, not JSON (%s): %w", resp.StatusCode, clip(string(b)), ErrRejected)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 || ans.Saved != nil && !*ans.Saved || ans.Success != nil && !*ans.Success {
		msg := ans.Message
		if msg == "" {
			msg = ans.Name
		}
		if len(ans.Errors) > 0 && string(ans.Errors) != "null" {
			msg += " " + string(ans.Errors)
		}
		return fmt.Errorf("misp: upload_stix: HTTP %d: %s: %w", resp.StatusCode, clip(strings.TrimSpace(msg)), ErrRejected)
	}
	return nil
}

// PushStats counts what PushEvents did.
type PushStats struct {
	Created   int // added with /events/add
	Edited    int // edited with /events/edit/{uuid}
	Unchanged int // MISP had them at the same or a newer timestamp (ErrNotNewer)
	Failed    int
	// Done are the uuids of the events MISP now has at least at the pushed
	// timestamp (created, edited or unchanged), in push order: the entries of
	// the next ChangedEvents manifest to update.
	Done []string
}

// PushEvents pushes events one at a time with PushEvent, going on past an
// event that fails (a scheduled push must not stop at one bad event); it stops
// when ctx ends. ErrNotNewer counts as unchanged, not as a failure. The
// returned error joins the failures, each naming its event.
func (c *Client) PushEvents(ctx context.Context, events []Event) (PushStats, error) {
	var st PushStats
	var errs []error
	for i := range events {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		created, err := c.PushEvent(ctx, &events[i])
		switch {
		case errors.Is(err, ErrNotNewer):
			st.Unchanged++
		case err != nil:
			st.Failed++
			errs = append(errs, fmt.Errorf("event %s (%s): %w", events[i].UUID, events[i].Info, err))
			continue
		case created:
			st.Created++
		default:
			st.Edited++
		}
		st.Done = append(st.Done, events[i].UUID)
	}
	return st, errors.Join(errs...)
}

// ChangedEvents returns the events that prev (FeedManifest of the events of
// the last successful push) lacks or has at an older timestamp: what a
// scheduled push needs to send, so that an unchanged collection costs no
// request.
func ChangedEvents(prev Manifest, events []Event) []Event {
	var out []Event
	for _, ev := range events {
		old, ok := prev[ev.UUID]
		if ok {
			a, _ := old.Timestamp.Int()
			b, _ := ev.Timestamp.Int()
			if b <= a {
				continue
			}
		}
		out = append(out, ev)
	}
	return out
}
