package misp

import (
	"context"
	"errors"
)

// PushEvent adds ev to a MISP instance (POST /events/add) or edits it there
// (POST /events/edit/{uuid}) when it exists.
func (c *Client) PushEvent(ctx context.Context, ev *Event) (created bool, err error) {
	return false, errors.New("misp: PushEvent: not implemented yet")
}

// UploadSTIX posts a STIX 2.x bundle to POST /events/upload_stix/2.
func (c *Client) UploadSTIX(ctx context.Context, bundle []byte) error {
	return errors.New("misp: UploadSTIX: not implemented yet")
}
