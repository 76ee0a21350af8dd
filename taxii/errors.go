package taxii

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// Errors detected by the server. Handlers wrap them with a description
// (fmt.Errorf("match[version]: ...: %w", ErrBadParameter)); errorTable turns them
// into status codes and TAXII error messages.
var (
	// ErrUnauthorized: no acceptable credentials (401 with WWW-Authenticate).
	ErrUnauthorized = errors.New("authentication required")
	// ErrForbidden: authenticated but not allowed (403).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: no such resource, or one the caller may not see (404).
	ErrNotFound = errors.New("not found")
	// ErrNotAcceptable: the Accept header offers no TAXII 2.1 media type (406).
	ErrNotAcceptable = errors.New("not acceptable: this is a TAXII 2.1 server; send Accept: application/taxii+json;version=2.1")
	// ErrTooLarge: the request body exceeds the API root's max_content_length (413).
	ErrTooLarge = errors.New("request body exceeds max_content_length")
	// ErrUnsupportedMediaType: the POST Content-Type is not a TAXII 2.1 envelope (415).
	ErrUnsupportedMediaType = errors.New("unsupported Content-Type: send application/taxii+json;version=2.1")
	// ErrBadParameter: a malformed query parameter or cursor (400).
	ErrBadParameter = errors.New("invalid query parameter")
	// ErrUnprocessable: a body that is not JSON or not an envelope (422).
	ErrUnprocessable = errors.New("unprocessable request body")
	// ErrTooManyRequests: the consumer's request rate is exceeded (429 with Retry-After).
	ErrTooManyRequests = errors.New("too many requests")
	// ErrUnavailable: the store is not ready (503).
	ErrUnavailable = errors.New("service unavailable")
)

// errorTable maps detected errors to HTTP statuses, titles and error codes
// (TAXII 2.1 §3.6). The first entry errors.Is matches wins.
var errorTable = []struct {
	target error
	status int
	title  string
	code   string
}{
	{ErrNotFound, http.StatusNotFound, "Not Found", "not_found"},
	{storage.ErrNotFound, http.StatusNotFound, "Not Found", "not_found"},
	{ErrUnauthorized, http.StatusUnauthorized, "Unauthorized", "unauthorized"},
	{ErrForbidden, http.StatusForbidden, "Forbidden", "forbidden"},
	{ErrNotAcceptable, http.StatusNotAcceptable, "Not Acceptable", "not_acceptable"},
	{ErrTooLarge, http.StatusRequestEntityTooLarge, "Payload Too Large", "too_large"},
	{ErrUnsupportedMediaType, http.StatusUnsupportedMediaType, "Unsupported Media Type", "unsupported_media_type"},
	{ErrBadParameter, http.StatusBadRequest, "Bad Request", "invalid_parameter"},
	{storage.ErrInvalidCursor, http.StatusBadRequest, "Bad Request", "invalid_cursor"},
	{storage.ErrInvalidFilter, http.StatusBadRequest, "Bad Request", "invalid_parameter"},
	{ErrUnprocessable, http.StatusUnprocessableEntity, "Unprocessable Entity", "unprocessable"},
	{ErrTooManyRequests, http.StatusTooManyRequests, "Too Many Requests", "rate_limited"},
	{ErrUnavailable, http.StatusServiceUnavailable, "Service Unavailable", "unavailable"},
	{storage.ErrClosed, http.StatusServiceUnavailable, "Service Unavailable", "unavailable"},
}

// Error is the TAXII 2.1 error message resource (§3.6.1). A handler may
// return one directly; HTTPStatus then gives the status (500 if unset) and the
// server fills in error_id and details.request_id.
type Error struct {
	Title           string         `json:"title"`
	Description     string         `json:"description,omitempty"`
	ErrorID         string         `json:"error_id,omitempty"`
	ErrorCode       string         `json:"error_code,omitempty"`
	HTTPStatus      string         `json:"http_status,omitempty"`
	ExternalDetails string         `json:"external_details,omitempty"`
	Details         map[string]any `json:"details,omitempty"`
}

// Error returns the title and description.
func (e *Error) Error() string {
	if e.Description == "" {
		return e.Title
	}
	return e.Title + ": " + e.Description
}

// toError turns any error a handler returned into a status and a TAXII error
// message. Unknown errors are 500 with a generic description.
func toError(err error) (int, *Error) {
	var ve *stix.ValidationError
	if errors.As(err, &ve) {
		return http.StatusBadRequest, &Error{Title: "Bad Request", Description: ve.Error(), ErrorCode: "invalid_parameter",
			Details: map[string]any{"property": ve.Property}}
	}
	var te *Error
	if errors.As(err, &te) {
		status, _ := strconv.Atoi(te.HTTPStatus)
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		cp := *te
		return status, &cp
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = ErrTooLarge
	}
	for _, row := range errorTable {
		if errors.Is(err, row.target) {
			return row.status, &Error{Title: row.title, Description: err.Error(), ErrorCode: row.code}
		}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return he.Code, &Error{Title: "Not Found", Description: "no such TAXII endpoint", ErrorCode: "not_found"}
		case http.StatusMethodNotAllowed:
			return he.Code, &Error{Title: "Method Not Allowed", Description: "method not allowed on this endpoint", ErrorCode: "method_not_allowed"}
		}
		title := http.StatusText(he.Code)
		if title == "" {
			title = "Error"
		}
		return he.Code, &Error{Title: title, Description: http.StatusText(he.Code), ErrorCode: "http_error"}
	}
	return http.StatusInternalServerError, &Error{Title: "Internal Server Error",
		Description: "the server could not complete the request; quote error_id to the operator", ErrorCode: "internal"}
}

// handleError is the echo HTTPErrorHandler: every error becomes a TAXII error
// message with the TAXII content type; 5xx are logged once with the request id.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := toError(err)
	rid := requestID(c)
	body.ErrorID = rid
	body.HTTPStatus = strconv.Itoa(status)
	if body.Details == nil {
		body.Details = map[string]any{}
	}
	body.Details["request_id"] = rid
	h := c.Response().Header()
	switch status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", s.challenge())
	case http.StatusInternalServerError:
		s.log.LogAttrs(c.Request().Context(), slog.LevelError, "request failed",
			slog.String("request_id", rid), slog.String("error", err.Error()),
			slog.String("path", c.Request().URL.Path))
	}
	c.Set(ctxErrorKey, err)
	b, _ := json.Marshal(body)
	h.Set(echo.HeaderContentType, MediaTypeTAXII)
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	c.Response().WriteHeader(status)
	_, _ = c.Response().Write(b)
}
